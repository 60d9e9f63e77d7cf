"""Several inspectors' grade files → one consensus, the agreement (Fleiss' kappa) and the disagreements.

**Consensus**: the mean of the inspectors' grades on the scale ``A = 3, B = 2, C = 1, X = 0``
(the HOLISMOKES / SuGOHI practice of averaging inspectors), mapped back to the nearest grade
(``≥ 2.5`` A, ``≥ 1.5`` B, ``≥ 0.5`` C, else X). **Disagreement**: two inspectors two or more
grades apart (A vs C, B vs X, ...): those objects are listed to re-examine.

**Agreement**: Fleiss' kappa (Fleiss 1971) over the four grades, on the objects every inspector
graded: ``κ = (P̄ − P̄ₑ) / (1 − P̄ₑ)`` with ``P̄`` the mean per-object agreement between pairs of
inspectors and ``P̄ₑ = Σ_j p_j²`` the agreement expected by chance from the grades' overall
frequencies. Tested against Fleiss' textbook example (κ = 0.210, as reproduced on Wikipedia).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.errors import InputError, InputNotFoundError
from brahmasifier.inspect.calibration import calibration_table
from brahmasifier.inspect.grades import GRADES, read_grade_file

__all__ = ["GRADE_SCORE", "MergeResult", "fleiss_kappa", "format_merge", "merge_grade_files"]

GRADE_SCORE: dict[str, int] = {"A": 3, "B": 2, "C": 1, "X": 0}


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of an ``(objects, categories)`` table of rating counts, each row summing to the same n ≥ 2.

    NaN when undefined (no objects, or every rating in one category).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return float("nan")
    n = counts.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError("every object needs the same number (≥ 2) of ratings")
    raters = n[0]
    per_object = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = per_object.mean()
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float((p_j**2).sum())
    return float("nan") if p_e >= 1 else float((p_bar - p_e) / (1 - p_e))


@dataclass
class MergeResult:
    """What ``inspect --merge`` found."""

    merged: pd.DataFrame  # one row per object: id, stem, prob, n_graders, grades, mean_score, consensus, disagree, notes
    inspectors: list[str]
    kappa: float
    n_common: int  # objects graded by every inspector (the kappa's objects)
    calibration: pd.DataFrame  # calibration_table of every file


def _consensus(mean: float) -> str:
    return "A" if mean >= 2.5 else "B" if mean >= 1.5 else "C" if mean >= 0.5 else "X"


def merge_grade_files(paths: Sequence[str | os.PathLike[str]]) -> MergeResult:
    """Merge grade files (one per inspector) by object (``id`` and ``stem``)."""
    tables = []
    names: list[str] = []
    for path in paths:
        if not Path(path).is_file():
            raise InputNotFoundError(f"--merge {path}: no such grade file")
        table = read_grade_file(path)
        graded = table[table["grade"] != ""]
        name = next((n for n in graded["inspector"] if n), Path(path).stem)
        if name in names:
            name = f"{name} ({Path(path).name})"
        names.append(name)
        tables.append(table.assign(inspector=name))
    if len(tables) < 1:
        raise InputError("--merge: no grade files given")
    every = pd.concat(tables, ignore_index=True)
    graded = every[every["grade"] != ""]
    rows = []
    counts_by_row = []
    for (object_id, stem), group in graded.groupby(["id", "stem"], sort=False):
        scores = group["grade"].map(GRADE_SCORE).to_numpy(dtype=float)
        mean = float(scores.mean())
        counts_by_row.append([int((group["grade"] == grade).sum()) for grade in GRADES])
        rows.append({
            "id": object_id, "stem": stem, "prob": group["prob"].iloc[0], "calibration": group["calibration"].iloc[0],
            "n_graders": len(group), "grades": " ".join(f"{i}:{g}" for i, g in zip(group["inspector"], group["grade"],
                                                                                 strict=True)),
            "mean_score": mean, "consensus": _consensus(mean), "disagree": bool(scores.max() - scores.min() >= 2),
            "notes": " | ".join(f"{i}: {n}" for i, n in zip(group["inspector"], group["note"], strict=True) if n),
        })
    merged = pd.DataFrame(rows, columns=["id", "stem", "prob", "calibration", "n_graders", "grades", "mean_score",
                                         "consensus", "disagree", "notes"])
    all_graded = (merged["n_graders"] == len(tables)).to_numpy()
    counts = np.array(counts_by_row, dtype=np.int64).reshape(-1, len(GRADES))[all_graded]
    common = merged[all_graded]
    merged = merged.sort_values(["mean_score", "prob"], ascending=False, kind="stable").reset_index(drop=True)
    kappa = fleiss_kappa(counts) if len(tables) >= 2 and len(common) else float("nan")
    return MergeResult(merged, names, kappa, len(common), calibration_table(every))


def format_merge(result: MergeResult) -> str:
    """The text ``inspect --merge`` prints."""
    m = result.merged
    lines = [f"inspectors: {', '.join(result.inspectors)}; objects graded: {len(m)}, by all: {result.n_common}",
             f"Fleiss' kappa (objects graded by all): {result.kappa:.3f}" if np.isfinite(result.kappa)
             else "Fleiss' kappa: undefined (needs two or more inspectors grading the same objects, in >1 grade)",
             "consensus: " + ", ".join(f"{g} {int((m['consensus'] == g).sum())}" for g in GRADES)]
    disagree = m[m["disagree"]]
    lines.append(f"disagreements to re-examine (grades two or more apart): {len(disagree)}")
    lines += [f"  {r.id}  {r.grades}" for r in disagree.itertuples()]
    if len(result.calibration):
        lines.append("calibration (known lenses / non-lenses mixed in):")
        for r in result.calibration.itertuples():
            lines.append(f"  {r.inspector:>12}  graded ≥ {r.threshold:<6} completeness {r.completeness:.2f} "
                         f"(of {r.n_lenses})  false-positive rate {r.false_positive_rate:.2f} (of {r.n_nonlenses})")
    return "\n".join(lines)
