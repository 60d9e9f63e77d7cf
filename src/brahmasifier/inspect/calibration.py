"""Inspector calibration: known lenses and non-lenses mixed, unmarked, into the list to grade.

``--calibration-fraction F`` makes a fraction ``F`` of the final list calibration objects, half
known lenses and half known non-lenses (an odd count gives the extra one to the lenses), drawn
from a labelled FITS tree (class folders) or a packed store with ``numpy.random.Generator``
seeded by ``--seed``, and inserted at random positions. Their truth is kept in the grade
file's ``calibration`` column (``lens`` / ``non-lens``; empty for real candidates), which the
app never shows; while calibration objects are in the list the app hides every score (a
calibration object has none, so a shown score would mark it). After grading,
:func:`calibration_table` gives per inspector and grade threshold the completeness on the
known lenses and the false-positive rate on the known non-lenses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.errors import ConfigError, InputError, InputNotFoundError

__all__ = ["CALIBRATION_KINDS", "THRESHOLDS", "calibration_table", "draw_calibration", "mix_calibration"]

CALIBRATION_KINDS = {1: "lens", 0: "non-lens"}
#: Grade thresholds: what counts as "called a lens" at each level.
THRESHOLDS: dict[str, tuple[str, ...]] = {"A": ("A",), "A+B": ("A", "B"), "A+B+C": ("A", "B", "C")}


def _labelled_objects(path: Path) -> pd.DataFrame:
    """``id, stem, label`` of every labelled object of a store or FITS tree (label 0 or 1)."""
    from brahmasifier.io.store import is_store_folder, open_store

    if is_store_folder(path):
        index = open_store(path).index
        table = pd.DataFrame({"id": index["id"].astype(str), "stem": index["stem"].astype(str),
                              "label": index["label"].astype(int)})
    else:
        from brahmasifier.io.scan import scan_fits_tree

        objects = scan_fits_tree(path).objects
        table = pd.DataFrame({"id": [""] * len(objects), "stem": [o.stem for o in objects],
                              "label": [int(o.label) for o in objects]})
    return table[table["label"].isin([0, 1])].reset_index(drop=True)


def draw_calibration(path: str | os.PathLike[str], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` labelled objects (half lenses, half non-lenses) from a store or FITS tree: ``id, stem, calibration``.

    For a FITS tree the IDs are read from the chosen objects' files.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"--calibration-data {path}: no such store or FITS folder")
    table = _labelled_objects(path)
    n_lens, n_non = n - n // 2, n // 2
    chosen = []
    for label, count in ((1, n_lens), (0, n_non)):
        pool = table[table["label"] == label]
        if len(pool) < count:
            kind = "lenses" if label == 1 else "non-lenses"
            raise InputError(f"--calibration-data {path}: {count} known {kind} wanted, "
                             f"{len(pool)} found (lower --calibration-fraction or add labelled data)")
        chosen.append(pool.iloc[np.sort(rng.choice(len(pool), size=count, replace=False))])
    picked = pd.concat(chosen, ignore_index=True)
    if (picked["id"] == "").any():  # FITS tree: the ID is in the band files
        from brahmasifier.io.reader import read_object
        from brahmasifier.io.scan import scan_fits_tree

        by_stem = {o.stem: o for o in scan_fits_tree(path).objects}
        picked["id"] = [read_object(by_stem[stem]).id for stem in picked["stem"]]
    return pd.DataFrame({"id": picked["id"], "stem": picked["stem"],
                         "calibration": [CALIBRATION_KINDS[int(v)] for v in picked["label"]]})


def mix_calibration(candidates: pd.DataFrame, fraction: float, path: str | os.PathLike[str] | None,
                    rng: np.random.Generator) -> pd.DataFrame:
    """``candidates`` (score order) with calibration objects inserted at random positions.

    ``fraction`` of the returned list are calibration objects (``prob`` NaN, ``calibration`` set).
    """
    out = candidates.assign(calibration="")
    if fraction <= 0:
        return out.reset_index(drop=True)
    if not 0 < fraction < 1:
        raise ConfigError(f"--calibration-fraction {fraction}: must be in [0, 1)")
    if path is None:
        raise ConfigError("--calibration-fraction needs --calibration-data (a labelled FITS tree or store)")
    n = max(1, round(fraction * len(candidates) / (1 - fraction)))
    extra = draw_calibration(path, n, rng).assign(prob=np.nan)
    extra = extra.iloc[rng.permutation(len(extra))]
    slots = np.sort(rng.choice(len(out) + len(extra), size=len(extra), replace=False))
    rows: list[pd.Series] = []
    real = iter(out.itertuples(index=False))
    cal = iter(extra.itertuples(index=False))
    slot_set = set(slots.tolist())
    for k in range(len(out) + len(extra)):
        rows.append(next(cal)._asdict() if k in slot_set else next(real)._asdict())
    return pd.DataFrame(rows, columns=list(out.columns)).reset_index(drop=True)


def calibration_table(grades: pd.DataFrame) -> pd.DataFrame:
    """Per inspector and grade threshold: completeness on known lenses, false-positive rate on known non-lenses.

    ``grades`` holds the columns ``inspector, calibration, grade`` (one row per graded object);
    ungraded calibration objects are left out and counted in ``n_ungraded``.
    """
    rows = []
    cal = grades[grades["calibration"].fillna("").astype(str) != ""]
    for inspector, group in cal.groupby("inspector", sort=True):
        graded = group[group["grade"].fillna("").astype(str) != ""]
        lenses = graded[graded["calibration"] == "lens"]
        nonlenses = graded[graded["calibration"] == "non-lens"]
        for name, accepted in THRESHOLDS.items():
            rows.append({
                "inspector": inspector, "threshold": name,
                "n_lenses": len(lenses), "completeness": lenses["grade"].isin(accepted).mean() if len(lenses) else np.nan,
                "n_nonlenses": len(nonlenses),
                "false_positive_rate": nonlenses["grade"].isin(accepted).mean() if len(nonlenses) else np.nan,
                "n_ungraded": len(group) - len(graded),
            })
    return pd.DataFrame(rows, columns=["inspector", "threshold", "n_lenses", "completeness", "n_nonlenses",
                                       "false_positive_rate", "n_ungraded"])
