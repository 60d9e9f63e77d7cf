"""Resumable per-part outputs and their merge into ``probs`` / ``submission`` / ``rejected``.

Objects are numbered ``0..n-1`` (see :mod:`brahmasifier.inference.sources`) and cut into
parts of ``part_size`` consecutive positions. Each part is scored by exactly one rank and
written atomically as ``OUT.parts/part-NNNNN.parquet``; ``plan.json`` there records what
the parts describe (models, TTA, data, precision). A rerun with the same plan (:mod:`brahmasifier._plan`) skips the
parts that exist, so an interrupted job (or a job cut into time slices with ``max_parts``)
resumes where it stopped. The merge reads all parts, checks they cover every position once,
combines duplicated IDs and writes the final files atomically.

Duplicated IDs (the challenge warns some objects share an ID): the submission needs one row
per ID, so the rows of one ID are combined by the **mean of their logits** (ensemble logit and
each model's logit), ``stem`` lists the stems joined by ``;`` and ``n_nan`` is the maximum.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier._plan import read_plan, same_plan
from brahmasifier.errors import ConfigError, PartsError
from brahmasifier.inference.submission import write_submission
from brahmasifier.io.store import REJECTED_COLUMNS, printable_rejects
from brahmasifier.models.temperature import sigmoid
from brahmasifier.pixels import masked_summary
from brahmasifier.survey.checks import PIXEL_COLUMNS, band_agreement, suggest_band_groups

if TYPE_CHECKING:
    from brahmasifier.models.targets import TargetSet

__all__ = [
    "PART_META_COLUMNS", "PLAN_FILE", "MergeResult", "ObjectCounts", "Part", "batches_of", "combine_duplicates",
    "done_parts", "drop_stale_parts", "merge_parts", "part_path", "parts_dir_for", "parts_for_rank", "plan_parts",
    "prepare_parts_dir", "read_parts", "write_part", "write_table",
]

PLAN_FILE = "plan.json"
#: Metadata columns of a part file; the ensemble ``logit`` and ``logit_<model>`` columns follow.
PART_META_COLUMNS: tuple[str, ...] = ("position", "id", "stem", "n_nan", "error", "file", "id_source", "stamp")


@dataclass(frozen=True)
class Part:
    """Positions ``start..stop-1`` of the object list."""

    number: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def parts_dir_for(out: str | os.PathLike[str]) -> Path:
    """Folder of the per-part files of output ``out`` (``OUT.parts``)."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def plan_parts(n_objects: int, part_size: int) -> list[Part]:
    """Cut ``n_objects`` positions into consecutive parts of ``part_size``."""
    if part_size < 1:
        raise ConfigError(f"part_size must be >= 1, got {part_size}")
    return [Part(k, s, min(s + part_size, n_objects)) for k, s in enumerate(range(0, n_objects, part_size))]


def parts_for_rank(parts: Sequence[Part], rank: int, world_size: int) -> list[Part]:
    """Parts scored by ``rank``: round-robin, so every rank gets a similar share of work."""
    return [p for p in parts if p.number % world_size == rank]


def batches_of(parts: Iterable[Part], batch_size: int) -> list[tuple[int, int, int]]:
    """``(part, start, stop)`` batches; a batch never spans two parts."""
    return [(p.number, s, min(s + batch_size, p.stop)) for p in parts for s in range(p.start, p.stop, batch_size)]


def part_path(parts_dir: str | os.PathLike[str], number: int) -> Path:
    """File of part ``number``."""
    return Path(parts_dir) / f"part-{number:05d}.parquet"


def done_parts(parts_dir: str | os.PathLike[str]) -> set[int]:
    """Numbers of the parts already written (temporary files of interrupted writes ignored)."""
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return set()
    found = set()
    for path in parts_dir.glob("part-*.parquet"):
        stem = path.stem[len("part-") :]
        if stem.isdigit():
            found.add(int(stem))
    return found


def prepare_parts_dir(parts_dir: str | os.PathLike[str], plan: dict[str, object], resume: bool) -> set[int]:
    """Make ``parts_dir`` hold parts of ``plan`` only; return the part numbers to reuse.

    Parts written for another plan (other models, data, TTA, ...) are deleted, as are all
    parts when ``resume`` is false; the plan is (re)written before any part.
    """
    parts_dir = Path(parts_dir)
    plan_path = parts_dir / PLAN_FILE
    keep = resume and same_plan(read_plan(plan_path), plan)
    if not keep and parts_dir.exists():
        shutil.rmtree(parts_dir)
    parts_dir.mkdir(parents=True, exist_ok=True)
    if not keep:
        write_text_atomic(plan_path, json.dumps(plan, indent=2, sort_keys=True))
    return done_parts(parts_dir) if keep else set()


def drop_stale_parts(parts_dir: str | os.PathLike[str], parts: Sequence[Part],
                     stamps: Callable[[int, int], list[str]]) -> list[int]:
    """Delete the written parts whose objects' input files changed since; return their numbers.

    Each part stores a stamp per object (a digest of its band files' sizes and modification
    times, taken before they were read). The plan only says *which* objects a run covers; this
    says whether a reused part still describes *their files as they are now*, so replacing an
    object's files after a partial run gets it rescored instead of reusing the old ID and score.

    Args:
        parts_dir: the parts folder.
        parts: the planned parts.
        stamps: the source's current stamps of positions ``start..stop-1``.

    Returns:
        The numbers of the parts deleted (to be scored again), for the summary.
    """
    parts_dir = Path(parts_dir)
    stale = []
    by_number = {p.number: p for p in parts}
    for number in sorted(done_parts(parts_dir) & by_number.keys()):
        part = by_number[number]
        path = part_path(parts_dir, number)
        try:
            stored = pd.read_parquet(path, columns=["position", "stamp"]).sort_values("position", kind="stable")
            same = stored["stamp"].astype(str).tolist() == stamps(part.start, part.stop)
        except (OSError, KeyError, ValueError):  # unreadable or from an older format: score it again
            same = False
        if not same:
            path.unlink(missing_ok=True)
            stale.append(number)
    return stale


def write_part(parts_dir: str | os.PathLike[str], number: int, frame: pd.DataFrame) -> Path:
    """Write one part atomically (Parquet)."""
    path = part_path(parts_dir, number)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def read_parts(parts_dir: str | os.PathLike[str], parts: Sequence[Part]) -> pd.DataFrame:
    """All parts in position order, checked to cover every planned position exactly once."""
    parts_dir = Path(parts_dir)
    missing = [p.number for p in parts if not part_path(parts_dir, p.number).is_file()]
    if missing:
        raise PartsError(f"{parts_dir}: {len(missing)} of {len(parts)} parts not written yet "
                         f"(e.g. part {missing[0]}); rerun the same command to score them")
    frames = [pd.read_parquet(part_path(parts_dir, p.number)) for p in parts]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(PART_META_COLUMNS))
    frame = frame.sort_values("position", kind="stable").reset_index(drop=True)
    n = parts[-1].stop if parts else 0
    if len(frame) != n or not np.array_equal(frame["position"].to_numpy(np.int64), np.arange(n)):
        raise PartsError(f"{parts_dir}: parts do not cover positions 0..{n - 1} exactly once; "
                         "delete the folder and rerun")
    return frame


def combine_duplicates(scored: pd.DataFrame, logit_columns: Sequence[str]) -> tuple[pd.DataFrame, int, int]:
    """One row per ID: mean logits, stems joined by ';', max ``n_nan`` (first-appearance order).

    Returns the combined table, the number of IDs seen more than once and the number of
    rows folded into them.
    """
    counts = scored["id"].value_counts(sort=False)
    duplicated = counts[counts > 1]
    if duplicated.empty:
        return scored.reset_index(drop=True), 0, 0
    grouped = scored.groupby("id", sort=False)
    combined = grouped[list(logit_columns)].mean()
    combined["stem"] = grouped["stem"].agg(lambda s: ";".join(s))
    combined["n_nan"] = grouped["n_nan"].max()
    combined = combined.reset_index()
    return combined, len(duplicated), int(duplicated.sum())



@dataclass
class ObjectCounts:
    """What happened to the objects of a run: found = scored + rejected; IDs after combining duplicates."""

    n_found: int
    n_scored: int
    n_rejected: int
    n_ids: int
    n_duplicate_ids: int
    n_duplicate_rows: int
    n_positive: int
    n_stray_files: int  # files that are no object (unrecognised names, manifest findings), listed in rejected.csv
    n_stem_ids: int  # scored objects without an ID column: their file stem is their ID

    def counts(self) -> dict[str, int]:
        """Just these counts (to pass on with ``**``)."""
        return {f.name: getattr(self, f.name) for f in fields(ObjectCounts)}


@dataclass
class MergeResult(ObjectCounts):
    """Counts of a merge (see :func:`merge_parts`) and where its rejects went."""

    rejected_out: Path
    notes: list[str] = field(default_factory=list)
    n_with_masked: int = 0  # scored IDs with invalid pixels (masked_fraction > 0)
    median_masked_fraction: float = 0.0  # over those
    n_misregistered: int = 0  # scored IDs flagged misregistered
    n_registered: int = 0  # scored IDs with bands turned back before scoring (--register-bands)
    suggested_groups: str = ""  # the groups the flagged objects' bands turn in (survey.checks.suggest_band_groups)
    pixel_checks: bool = False  # whether the parts carried the pixel columns
    #: Fraction of scored objects whose OOD score exceeds the training 99th percentile is computed by the
    #: caller from these (None: no model recorded its embedding density).
    ood_scores: np.ndarray | None = None


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically as Parquet when the name ends in ``.parquet``, else CSV."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path


def _no_finite_score(frame: pd.DataFrame, logit_columns: Sequence[str]) -> pd.Series:
    """The reject reason of objects the models could not score (a NaN/Inf logit): never written as a probability."""
    def reason(row: pd.Series) -> str:
        bad = [f"{c}={row[c]}" for c in logit_columns if not np.isfinite(row[c])]
        return f"no finite score from the model ({', '.join(bad)}); its pixels overflow the model's arithmetic"

    return frame.apply(reason, axis=1)


def merge_parts(
    parts_dir: str | os.PathLike[str],
    parts: Sequence[Part],
    model_columns: Sequence[str],
    threshold: float,
    out: str | os.PathLike[str],
    probs_out: str | os.PathLike[str] | None,
    source_rejected: pd.DataFrame,
    targets: TargetSet | None = None,
) -> MergeResult:
    """Merge the parts into ``submission`` (+ ``probs``) and ``rejected.csv`` next to ``out``.

    Objects that could not be read, and objects whose logit (ensemble or any model's) is not
    finite, go to ``rejected.csv`` with the reason: no probability is ever written as NaN.

    With ``targets`` (the ensemble predicts lens parameters) the parts carry its predictive,
    which is averaged over a duplicated ID's rows like the logits and decoded into the
    submission's parameter columns and the probabilities file (:mod:`brahmasifier.inference.parameters`).
    """
    frame = read_parts(parts_dir, parts)
    logit_columns = ["logit", *model_columns]
    read_ok = frame["error"].astype(str) == ""
    finite = np.isfinite(frame[logit_columns].to_numpy(np.float64)).all(axis=1)
    errors = frame["error"].astype(str)
    unscored = read_ok & ~finite
    if unscored.any():
        errors.loc[unscored] = _no_finite_score(frame.loc[unscored], logit_columns)
    ok = read_ok & finite
    failed = frame.loc[~ok]
    read_rejects = pd.DataFrame({"stem": failed["stem"].astype(str), "file": failed["file"].astype(str),
                                 "reason": errors[~ok]})
    rejected = pd.concat([r for r in (source_rejected.loc[:, list(REJECTED_COLUMNS)].astype(str), read_rejects) if len(r)]
                         or [pd.DataFrame(columns=list(REJECTED_COLUMNS))], ignore_index=True)
    param_columns: list[str] = []
    if targets is not None:
        from brahmasifier.inference.parameters import parameter_columns

        param_columns = parameter_columns(targets)
    pixel_columns = [c for c in PIXEL_COLUMNS if c in frame.columns]
    ood = ["ood_score"] if "ood_score" in frame.columns else []
    scored = frame.loc[ok, ["id", "stem", "n_nan", *logit_columns, *ood, *param_columns, *pixel_columns]]
    combined, n_dup_ids, n_dup_rows = combine_duplicates(scored, [*logit_columns, *ood, *param_columns, *pixel_columns])
    prob = sigmoid(combined["logit"].to_numpy())
    probs = pd.DataFrame({"id": combined["id"].astype(str), "stem": combined["stem"].astype(str), "prob": prob})
    for column in logit_columns:
        probs[column] = combined[column].to_numpy(np.float64)
    probs["n_nan"] = combined["n_nan"].to_numpy(np.int64)
    pixel_summary: dict[str, Any] = {}
    if pixel_columns:
        for column in pixel_columns:
            probs[column] = combined[column].to_numpy()
        probs["misregistered"] = (probs["misregistered"].to_numpy(np.float64) > 0).astype(np.int64)  # any row of the ID
        pixel_summary = {**masked_summary(probs["masked_fraction"].to_numpy()),
                         "n_misregistered": int(probs["misregistered"].sum()), "pixel_checks": True}
        if "bands_registered" in probs:  # the most of any row of the ID (a mean over its rows, rounded up)
            probs["bands_registered"] = np.ceil(probs["bands_registered"].to_numpy(np.float64)).astype(np.int64)
            pixel_summary["n_registered"] = int((probs["bands_registered"] > 0).sum())
        angle_columns = [c for c in pixel_columns if c.startswith("band_angle_")]
        flagged = probs.loc[probs["misregistered"] == 1, angle_columns].to_numpy(np.float64)
        pixel_summary["suggested_groups"] = suggest_band_groups(band_agreement(flagged), len(flagged), len(probs),
                                                                tuple(c[len("band_angle_"):] for c in angle_columns))
    if ood:
        probs["ood_score"] = combined["ood_score"].to_numpy(np.float64)
    preds = (prob >= threshold).astype(np.int64)
    parameters = None
    notes: list[str] = []
    if targets is not None:
        from brahmasifier.inference.parameters import decode_table, guard_decoded, probability_columns, submission_parameters

        decoded = decode_table(targets, combined)
        notes = guard_decoded(targets, decoded)
        parameters = submission_parameters(targets, decoded, preds)
        probs = pd.concat([probs, probability_columns(decoded)], axis=1)
    escaped = int(probs["id"].str.contains(r"\\(?:x[0-9a-f]{2}|[ntr]|u[0-9a-f]{4})", regex=True).sum())
    if escaped:
        notes.append(f"{escaped} ID{'s' if escaped != 1 else ''} held bytes that are not UTF-8 or control characters: "
                     "written with backslash escapes (\\xNN, \\n), as file names are")
    out = Path(out)
    rejected_out = out.with_name("rejected.csv")
    write_table(printable_rejects(rejected), rejected_out)
    if probs_out is not None:
        write_table(probs, probs_out)
    write_submission(out, probs["id"].tolist(), preds, parameters)
    # One rejects row per object that was found but not scored; rows without a stem are stray
    # files (not objects), listed for the user but not counted.
    n_rejected_objects = int((rejected["stem"].astype(str) != "").sum())
    return MergeResult(
        n_found=int(ok.sum()) + n_rejected_objects,
        n_scored=int(ok.sum()),
        n_rejected=n_rejected_objects,
        n_ids=len(probs),
        n_duplicate_ids=n_dup_ids,
        n_duplicate_rows=n_dup_rows,
        n_positive=int(preds.sum()),
        n_stray_files=len(rejected) - n_rejected_objects,
        n_stem_ids=int((ok & (frame["id_source"].astype(str) == "stem")).sum()) if "id_source" in frame else 0,
        rejected_out=rejected_out,
        notes=notes,
        **pixel_summary,
        ood_scores=probs["ood_score"].to_numpy(np.float64) if ood else None,
    )
