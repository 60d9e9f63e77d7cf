"""The list to grade: the top of ``probs.csv`` in score order (plus calibration objects), and its images.

Images come from a packed store or a FITS tree through the report gallery's reader
(:func:`brahmasifier.evaluation.gallery.load_cutouts`: store rows by ID, FITS objects by stem,
only the objects listed are read). Every candidate must be found: a list with objects the
inspector cannot see would be graded wrongly, so a missing one stops the start with its ID.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.errors import ConfigError, InputError, InputNotFoundError
from brahmasifier.inspect.calibration import mix_calibration

__all__ = ["build_list", "load_images", "load_probs"]


def load_probs(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``id, stem, prob`` of a probabilities file (``stem`` ``""`` where absent), checked in one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such probabilities file (write one with `brahmasifier predict --probs-out`)")
    try:
        table = pd.read_csv(path, dtype={"id": str, "stem": str}, keep_default_na=False, na_values={"prob": ["", "nan"]})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from exc
    for column in ("id", "prob"):
        if column not in table.columns:
            raise InputError(f"{path}: no `{column}` column (found: {', '.join(map(str, table.columns))})")
    prob = pd.to_numeric(table["prob"], errors="coerce")
    bad = ~np.isfinite(prob.to_numpy(dtype=float))
    if bad.any():
        raise InputError(f"{path}: {int(bad.sum())} rows without a numeric `prob` (first: id {table['id'][bad].iloc[0]})")
    stem = table["stem"].astype(str) if "stem" in table.columns else pd.Series([""] * len(table))
    return pd.DataFrame({"id": table["id"].astype(str), "stem": stem.to_numpy(), "prob": prob.to_numpy(dtype=float)})


def build_list(probs: str | os.PathLike[str], top: int, calibration_fraction: float = 0.0,
               calibration_data: str | os.PathLike[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """The ``top`` candidates by ``prob`` (ties in file order), with calibration objects mixed in."""
    if top < 1:
        raise ConfigError(f"--top {top}: must be at least 1")
    table = load_probs(probs)
    if table.empty:
        raise InputError(f"{probs}: no candidates (the file has a header only)")
    ranked = table.sort_values("prob", ascending=False, kind="stable").head(top).reset_index(drop=True)
    return mix_calibration(ranked, calibration_fraction, calibration_data, np.random.default_rng(seed))


def _load(images: str | os.PathLike[str], rows: pd.DataFrame, option: str) -> dict[tuple[str, str | None], np.ndarray]:
    from brahmasifier.errors import GalleryError
    from brahmasifier.evaluation.gallery import load_cutouts

    try:
        return load_cutouts(images, rows)
    except GalleryError as exc:
        raise InputNotFoundError(f"{option} {exc}") from exc


def load_images(table: pd.DataFrame, images: str | os.PathLike[str],
                calibration_data: str | os.PathLike[str] | None) -> dict[int, np.ndarray]:
    """Cutouts ``(5, 41, 41)`` by list position; every object must be found (else one line naming the first missing)."""
    cal = table["calibration"].astype(str) != ""
    out: dict[int, np.ndarray] = {}
    for mask, source, option in ((~cal, images, "--images"), (cal, calibration_data, "--calibration-data")):
        rows = table[mask]
        if rows.empty:
            continue
        if source is None:
            raise ConfigError(f"the list holds {len(rows)} calibration objects: give --calibration-data to show them")
        found = _load(source, rows[["id", "stem"]], option)
        missing = []
        for position, r in rows.iterrows():
            key = (str(r["id"]), str(r["stem"]) if r["stem"] else None)
            if key in found:
                out[int(position)] = found[key]
            else:
                missing.append(str(r["id"]))
        if missing:
            raise InputError(f"{option} {source}: {len(missing)} of {len(rows)} objects to grade not found "
                             f"(first: id {missing[0]}); is it the data the probabilities were computed on?")
    return out
