"""Join the challenge's ``parameters.fits`` tables to packed objects by ID.

Every column keeps its original name (``vel disp``, ``mag_lens_g`` …) and its values: -999 is
the data's own "unknown" and stays -999. An object without a parameter row, or whose class's
table lacks a column (non-lenses have no ``Rein``), gets a *missing* value instead: NaN in
numeric columns, ``None`` (null) in text columns. So -999 means "the challenge says unknown"
and NaN/null means "no value was given for this object".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from brahmasifier.io.fits import FitsFormatError, read_parameters_fits

__all__ = ["RESERVED_COLUMNS", "join_parameters", "load_parameters"]

log = logging.getLogger(__name__)

#: Index columns a parameter column may not shadow; a clash is renamed ``param_<name>``.
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {"id", "stem", "label", "domain", "n_nan", "duplicate_id", "source", "id_source", "parameters_file"}
)


def load_parameters(files: Sequence[str | os.PathLike[str]]) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """All rows of all readable ``files``, one row per ID (the first wins), plus ``parameters_file``.

    Tables of different classes have different columns; the union is returned. An unreadable
    table does not stop packing: it is returned in the second value as ``(file, reason)``.
    """
    frames = []
    problems: list[tuple[str, str]] = []
    for path in files:
        try:
            frame = read_parameters_fits(path)
        except FitsFormatError as exc:
            log.warning("%s", exc)
            problems.append((str(path), exc.reason))
            continue
        frame["parameters_file"] = str(Path(path))
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"id": pd.Series([], dtype=str)}), problems
    table = pd.concat(frames, ignore_index=True, sort=False)
    repeated = table["id"].duplicated(keep="first")
    if repeated.any():
        log.warning("%d parameter rows repeat an ID already seen; the first row of each ID is used", int(repeated.sum()))
        table = table.loc[~repeated]
    renames = {c: f"param_{c}" for c in table.columns if c in RESERVED_COLUMNS and c not in ("id", "parameters_file")}
    return table.rename(columns=renames).reset_index(drop=True), problems


def join_parameters(index: pd.DataFrame, parameters: pd.DataFrame) -> pd.DataFrame:
    """``index`` with the parameter columns appended, matched on the string ``id``; order kept."""
    if len(parameters.columns) <= 1:
        return index
    clashes = [c for c in parameters.columns if c != "id" and c in index.columns]
    params = parameters.rename(columns={c: f"param_{c}" for c in clashes})
    joined = index.merge(params, on="id", how="left", sort=False, validate="many_to_one")
    if len(joined) != len(index):  # pragma: no cover - guarded by validate + dedup above
        raise RuntimeError("parameter join changed the number of rows")
    return joined
