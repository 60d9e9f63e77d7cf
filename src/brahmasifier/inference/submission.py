"""The challenge submission file: its exact header, the -999 fill, and a validating reader.

The header is the one of the template circulated to participants
(``tests/data_files/submission_format.csv``); it is kept here, once, as
:data:`SUBMISSION_COLUMNS`. ``preds`` holds 0/1; a parameter column holds the estimate given
under its canonical store name (:func:`brahmasifier.io.parameters.canonical_parameter_name`)
and -999 (the challenge's "not predicted" value) otherwise. The template has both ``vel disp``
and ``vel_disp``: one parameter (``vel_disp`` in the store), so both columns get its value.

IDs are written exactly as read: they are strings throughout the package, so HSC's 17-digit
integers never pass through a float and SLSim's ``GG-LENS_<ra>_<dec>`` stay unchanged.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from brahmasifier._atomic import write_text_atomic
from brahmasifier.bands import MISSING_VALUE
from brahmasifier.errors import SubmissionError
from brahmasifier.io.parameters import canonical_parameter_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MISSING_TEXT", "SUBMISSION_COLUMNS", "format_submission", "read_submission", "write_submission"]

#: Header of the challenge's submission template, in order (note ``vel disp`` with a space
#: next to ``vel_disp``: both are in the official template).
SUBMISSION_COLUMNS: tuple[str, ...] = (
    "id", "preds", "ra", "dec", "zlens",
    "mag_lens_g", "mag_lens_r", "mag_lens_i", "mag_lens_z", "mag_lens_y",
    "ell_l", "ell_l_PA", "Rein", "vel disp", "sh", "sh_PA", "srcx", "srcy",
    "mag_src_g", "mag_src_r", "mag_src_i", "mag_src_z", "mag_src_y",
    "zsrc", "ell_s", "ell_s_PA", "Reff_s", "n_s_sers", "ell_m", "ell_m_PA", "Reff_l", "n_l_sers",
    "vel_disp", "RA", "Dec",
    "mag_object_g", "mag_object_r", "mag_object_i", "mag_object_z", "mag_object_y",
    "z_central",
)

#: How the -999 fill is written (the template writes it as an integer).
MISSING_TEXT: str = str(int(MISSING_VALUE))


def _parameter_cells(parameters: Mapping[str, Sequence[float] | np.ndarray], n: int) -> list[list[str]]:
    """Per template column after ``id, preds``: the text cells, -999 where no value (or not finite)."""
    given = {canonical_parameter_name(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in parameters.items()}
    known = {canonical_parameter_name(c) for c in SUBMISSION_COLUMNS[2:]}
    unknown = sorted(set(given) - known)
    if unknown:
        raise SubmissionError(f"no submission column for parameter(s) {', '.join(unknown)}")
    columns = []
    for column in SUBMISSION_COLUMNS[2:]:
        values = given.get(canonical_parameter_name(column))
        if values is None:
            columns.append([MISSING_TEXT] * n)
            continue
        if len(values) != n:
            raise SubmissionError(f"parameter {column!r} has {len(values)} values for {n} ids")
        columns.append([repr(float(v)) if np.isfinite(v) and v != MISSING_VALUE else MISSING_TEXT for v in values])
    return columns


def format_submission(ids: Sequence[str], preds: Sequence[int] | np.ndarray,
                      parameters: Mapping[str, Sequence[float] | np.ndarray] | None = None) -> str:
    """The submission CSV text: one row per ID, ``preds`` 0/1, parameter columns or -999.

    Args:
        ids: object IDs, as read (strings).
        preds: 0/1 per ID.
        parameters: estimates per parameter, keyed by store name (``vel_disp`` or ``vel disp``:
            both template columns get it); missing or non-finite values are written as -999.

    Returns:
        The CSV text with the template's exact header.
    """
    ids = [str(i) for i in ids]
    preds = np.asarray(preds).reshape(-1)
    if len(ids) != len(preds):
        raise SubmissionError(f"{len(ids)} ids but {len(preds)} predictions")
    if not np.isin(preds, (0, 1)).all():
        raise SubmissionError("preds must be 0 or 1")
    seen: set[str] = set()
    dups: list[str] = []
    for i in ids:
        if i in seen:
            dups.append(i)
        seen.add(i)
    if dups:
        raise SubmissionError(f"duplicate ids in a submission ({len(dups)}, e.g. {dups[0]!r}); combine them first")
    empty = [i for i in ids if not i]
    if empty:
        raise SubmissionError("empty id in a submission")
    columns = _parameter_cells(parameters or {}, len(ids))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUBMISSION_COLUMNS)
    for k, (object_id, pred) in enumerate(zip(ids, preds.tolist(), strict=True)):
        writer.writerow([object_id, int(pred), *(column[k] for column in columns)])
    return buf.getvalue()


def write_submission(path: str | os.PathLike[str], ids: Sequence[str], preds: Sequence[int] | np.ndarray,
                     parameters: Mapping[str, Sequence[float] | np.ndarray] | None = None) -> Path:
    """Write ``submission.csv`` atomically (arguments as :func:`format_submission`)."""
    path = Path(path)
    write_text_atomic(path, format_submission(ids, preds, parameters))
    return path


def read_submission(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a submission back with IDs as strings, checking the header and the 0/1 ``preds``."""
    import pandas as pd

    path = Path(path)
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), None)
    if header is None or tuple(header) != SUBMISSION_COLUMNS:
        raise SubmissionError(f"{path}: header differs from the challenge template ({header!r})")
    frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    if not frame["preds"].isin((0, 1)).all():
        raise SubmissionError(f"{path}: 'preds' must be 0 or 1")
    if frame["id"].duplicated().any():
        raise SubmissionError(f"{path}: {int(frame['id'].duplicated().sum())} duplicated ids")
    return frame
