"""``brahmasifier check``: does new data look like what the model learned? Statistics side by side and a verdict.

:func:`check_data` streams a FITS tree or a store (:func:`brahmasifier.inference.sources.open_source`,
the reader ``predict`` uses) in batches, measures every object
(:class:`~brahmasifier.shift.record.StatsCollector`) and, with a model whose card holds an
embedding density, its embedding's Mahalanobis distance (the per-object OOD score), and compares
with the reference: the model card's ``data_statistics`` or, with ``against``, the statistics of
another data set (a store or FITS tree measured here the same way; no embedding then unless a
model with a density is given too). Outputs in ``out``:

- ``check.json``: both summaries, every finding (:mod:`brahmasifier.shift.compare`), the verdict;
- ``check_scores.csv``: per object ``id, stem, ood_score, ood_beyond_p99, pixel_score`` and its statistics
  (``ood_score``: the embedding's Mahalanobis distance, as ``predict`` writes it; ``pixel_score``:
  :func:`~brahmasifier.shift.compare.pixel_score`, the most unusual noise/mask/alignment statistic),
  then ``misregistered`` (0/1: ``predict``'s band-registration flag, :mod:`brahmasifier.survey.checks`)
  (objects that could not be read: their error, no statistics; none is dropped);
- ``check.png``: the figure (:mod:`brahmasifier.shift.figure`).

Memory is bounded: per-object rows are written as they come, only a random sample of
:data:`~brahmasifier.shift.record.SAMPLE_SIZE` objects' statistics is kept for the summary.

The registration check is ``predict``'s, on the same pixels: how many objects it flags and, from
the flagged objects' angles (:func:`~brahmasifier.survey.checks.band_agreement`, counts that add
over batches), the groups their bands turn in (``registration`` in ``check.json``; the CLI prints
``predict``'s summary line for it, with the advice on ``--band-groups`` or ``--repair-score 0``)
— so a data set such as the challenge's blind set can be looked at before it is scored.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brahmasifier._atomic import atomic_path, write_json_atomic
from brahmasifier._progress import progress_bar
from brahmasifier.bands import BANDS
from brahmasifier.errors import ModelFormatError
from brahmasifier.shift.compare import Finding, compare, findings_json, pixel_score, verdict_line
from brahmasifier.shift.config import CheckConfig
from brahmasifier.shift.embedding import EmbeddingDensity, embed
from brahmasifier.shift.record import StatsCollector
from brahmasifier.shift.stats import STAT_COLUMNS
from brahmasifier.survey.checks import band_agreement, misregistered_line, pixel_checks, suggest_band_groups

__all__ = ["CHECK_FIGURE", "CHECK_JSON", "CHECK_SCORES", "CheckResult", "check_data", "reference_from_data"]

CHECK_JSON = "check.json"
CHECK_SCORES = "check_scores.csv"
CHECK_FIGURE = "check.png"


@dataclass
class CheckResult:
    """What :func:`check_data` found."""

    verdict: str
    findings: list[Finding]
    n_objects: int
    n_unreadable: int
    reference: str
    summary: dict[str, Any]
    reference_summary: dict[str, Any]
    ood_scores: np.ndarray = field(default_factory=lambda: np.empty(0))
    #: The sampled per-object statistics of the new data (for the figure).
    values: dict[str, np.ndarray] = field(default_factory=dict)
    n_misregistered: int = 0  # objects the band-registration check flags (predict's check)
    suggested_groups: str = ""  # the groups the flagged objects' bands turn in (survey.checks.suggest_band_groups)

    def registration_line(self) -> str:
        """``predict``'s summary line on band registration, for this data (with its advice)."""
        n_read = self.n_objects - self.n_unreadable
        return misregistered_line(self.n_misregistered, n_read, register_bands=False, n_registered=0,
                                  repair_score=None, suggested_groups=self.suggested_groups)


def _batches(source: Any, batch_size: int, progress: bool, desc: str) -> Any:
    with progress_bar(total=len(source), desc=desc, unit="obj", enabled=progress, leave=False) as bar:
        for start in range(0, len(source), batch_size):
            batch = source.read_range(start, min(start + batch_size, len(source)))
            yield batch
            bar.update(len(batch.ids))


def reference_from_data(data: str | os.PathLike[str] | list[str], rng: np.random.Generator, batch_size: int = 256,
                        progress: bool = True) -> dict[str, Any]:
    """The pixel summary of a reference data set (``check --against``), measured like the training data's."""
    from brahmasifier.inference.sources import open_source

    collector = StatsCollector(rng)
    for batch in _batches(open_source(data), batch_size, progress, "reference statistics"):
        ok = np.array([not e for e in batch.errors], dtype=bool) if batch.errors else np.ones(len(batch.ids), bool)
        if ok.any():
            collector.add(batch.images[ok])
    return collector.summary()


def _reference(model: str | None, against: Any, rng: np.random.Generator, batch_size: int,
               progress: bool) -> tuple[dict[str, Any], EmbeddingDensity | None, Any, str]:
    density, module, name = None, None, ""
    pixels: dict[str, Any] | None = None
    if model is not None:
        from brahmasifier.models.io import load_model

        module, card = load_model(model)
        stats = card.data_statistics
        if stats is None and against is None:
            raise ModelFormatError(f"{model}: the model card has no training-data statistics (trained before "
                                   "brahmasifier recorded them); retrain, or compare with a data set: --against STORE")
        if stats is not None:
            pixels = stats.get("pixels")
            if stats.get("embedding"):
                density = EmbeddingDensity.from_dict(stats["embedding"])
            name = f"the training data of {model}"
    if against is not None:
        pixels = reference_from_data(against, rng, batch_size, progress)
        name = f"{against}" + (f" (embedding: {model})" if density is not None else "")
    assert pixels is not None
    return pixels, density, module, name


def check_data(data: str | os.PathLike[str] | list[str], out: str | os.PathLike[str], model: str | None = None,
               against: Any = None, batch_size: int = 256, seed: int = 0, progress: bool = True) -> CheckResult:
    """Measure ``data``, compare with the model's training data (or ``against``), write the outputs (module docstring)."""
    from brahmasifier.inference.sources import open_source

    CheckConfig(batch_size=batch_size, seed=seed)  # checks them, once
    if model is None and against is None:
        raise ModelFormatError("check needs a reference: --model RUN_OR_MODEL (its card's statistics) or --against DATA")
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pixels_ref, density, module, reference = _reference(model, against, rng, batch_size, progress)
    source = open_source(data)
    collector = StatsCollector(rng)
    scores: list[np.ndarray] = []
    n_bad = 0
    limit = float(np.interp(0.99, pixels_ref["quantile_levels"], density.distance_quantiles)) if density else float("nan")
    with atomic_path(out / CHECK_SCORES) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "stem", "ood_score", "ood_beyond_p99", "pixel_score", *STAT_COLUMNS, "misregistered",
                         "error"])
        n_flagged, agreement = 0, np.zeros((len(BANDS), len(BANDS)), dtype=np.int64)
        for batch in _batches(source, batch_size, progress, "check"):
            errors = batch.errors or [""] * len(batch.ids)
            ok = np.array([not e for e in errors], dtype=bool)
            n_bad += int((~ok).sum())
            stats = {c: np.full(len(ok), np.nan) for c in STAT_COLUMNS}
            score = np.full(len(ok), np.nan)
            flagged = np.full(len(ok), "", dtype=object)
            if ok.any():
                measured = collector.add(batch.images[ok])
                _, columns = pixel_checks(batch.images[ok], batch.n_nan[ok],
                                          None if batch.n_masked is None else batch.n_masked[ok])
                hit = columns["misregistered"].astype(bool)
                flagged[ok] = columns["misregistered"].astype(int)
                angles = np.stack([v for c, v in columns.items() if c.startswith("band_angle_")], axis=1)
                agreement += band_agreement(angles[hit])
                n_flagged += int(hit.sum())
                for c in STAT_COLUMNS:
                    stats[c][ok] = measured[c]
                if density is not None:
                    with torch.no_grad():
                        features = embed(module, torch.from_numpy(batch.images[ok])).numpy()
                    score[ok] = density.distance(features)
                    scores.append(score[ok])
            pixels = np.where(ok, pixel_score(stats, pixels_ref), np.nan)
            for k in range(len(ok)):
                writer.writerow([batch.ids[k], batch.stems[k], f"{score[k]:.5g}",
                                 "" if not np.isfinite(score[k]) else int(score[k] > limit), f"{pixels[k]:.4g}",
                                 *(f"{stats[c][k]:.5g}" for c in STAT_COLUMNS), flagged[k], errors[k]])
    summary = collector.summary()
    all_scores = np.concatenate(scores) if scores else np.empty(0)
    tail = density.tail_fraction(all_scores) if density is not None and all_scores.size else None
    findings = compare(pixels_ref, summary, collector.sample.rows, tail)
    verdict = verdict_line(findings)
    groups = suggest_band_groups(agreement, n_flagged, len(source) - n_bad)
    result = CheckResult(verdict=verdict, findings=findings, n_objects=len(source), n_unreadable=n_bad,
                         reference=reference, summary=summary, reference_summary=pixels_ref, ood_scores=all_scores,
                         values=collector.sample.rows, n_misregistered=n_flagged, suggested_groups=groups)
    write_json_atomic(out / CHECK_JSON, {
        "verdict": verdict, "reference": reference, "data": [str(d) for d in ([data] if isinstance(data, (str, os.PathLike))
                                                                             else data)],
        "n_objects": len(source), "n_unreadable": n_bad, "n_rejected_by_scan": len(source.rejected),
        "findings": findings_json(findings),
        "registration": {"n_misregistered": n_flagged, "suggested_groups": groups,
                         "what": "objects predict's band-registration check flags, and the groups their bands turn in"},
        "ood_score": {"what": "Mahalanobis distance of the embedding (PPCA of a Ledoit-Wolf covariance, validation split)",
                      "training_p99": limit if density else None,
                      "quantiles": [float(q) for q in np.quantile(all_scores, [0.05, 0.25, 0.5, 0.75, 0.95])]
                      if all_scores.size else None},
        "summary": summary, "reference_summary": pixels_ref,
    })
    from brahmasifier.shift.figure import check_figure

    check_figure(result, density, out / CHECK_FIGURE)
    return result
