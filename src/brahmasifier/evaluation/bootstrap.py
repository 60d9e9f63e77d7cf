"""Metrics of one set of scored objects: point values, 68% bootstrap intervals and notes.

The metric definitions are :mod:`brahmasifier.binary_metrics` (shared with training); here
they are evaluated on one subset, resampled (68% percentile bootstrap, resampling lenses and
non-lenses separately: the class counts of a labelled set are fixed by construction; seeded
``numpy`` Generator), and every undefined or weakly supported number gets its reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brahmasifier.binary_metrics import (
    THRESHOLD_METRICS,
    RankedScores,
    auc,
    average_precision,
    fpr_for_tpr,
    purity_at_prevalence,
    threshold_metrics,
    tpr_at_false_positives,
)

__all__ = [
    "DEFAULT_COMPLETENESS", "DEFAULT_FPRS", "MIN_NEGATIVES_PER_INVERSE_FPR", "MetricSettings", "metrics_for_subset",
    "paired_tpr_difference", "paired_tpr_draws", "purity_at_tpr_name", "tpr_at_fpr_name",
]

#: False-positive rates at which TPR is reported.
DEFAULT_FPRS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: Target completeness levels at which purity is reported (besides at the threshold).
DEFAULT_COMPLETENESS: tuple[float, ...] = (0.5, 0.9)
#: An FPR of f is only "supported" with at least this many negatives per 1/f.
MIN_NEGATIVES_PER_INVERSE_FPR: float = 10.0


@dataclass(frozen=True)
class MetricSettings:
    """Everything that defines the metrics (recorded in metrics.json)."""

    threshold: float = 0.5
    prevalence: float = 1e-3
    fprs: tuple[float, ...] = DEFAULT_FPRS
    completeness_levels: tuple[float, ...] = DEFAULT_COMPLETENESS

    def metric_names(self) -> list[str]:
        """Scalar metrics in display order."""
        names = [*THRESHOLD_METRICS, "auc_roc", "average_precision"]
        names += [tpr_at_fpr_name(f) for f in self.fprs]
        names += ["tpr0", "tpr10", "purity_at_threshold"]
        names += [purity_at_tpr_name(c) for c in self.completeness_levels]
        return names


def tpr_at_fpr_name(fpr: float) -> str:
    """Metric key of TPR at a false-positive rate, e.g. ``tpr_at_fpr_1e-03``."""
    return f"tpr_at_fpr_{fpr:.0e}"


def purity_at_tpr_name(completeness: float) -> str:
    """Metric key of purity at a completeness, e.g. ``purity_at_tpr_0.9``."""
    return f"purity_at_tpr_{completeness:g}"


def _scalar_metrics(ranked: RankedScores, settings: MetricSettings, weights: np.ndarray | None = None) -> dict[str, float]:
    """All scalar metrics for one (re)sample; NaN where undefined."""
    nan = float("nan")
    out = dict.fromkeys(settings.metric_names(), nan)
    assert ranked.probs is not None, "metrics need the probabilities for the decision at the threshold"
    w = np.ones(ranked.n) if weights is None else weights
    out.update(threshold_metrics(ranked.probs >= settings.threshold, ranked.is_pos, w))
    n_pos = float(np.sum(w[ranked.is_pos]))
    n_neg = float(np.sum(w[~ranked.is_pos]))
    if n_pos > 0 and n_neg > 0:
        tp, fp = ranked.counts(weights)
        out["auc_roc"] = auc(tp, fp)
        out["average_precision"] = average_precision(tp, fp)
        for f in settings.fprs:
            out[tpr_at_fpr_name(f)] = tpr_at_false_positives(tp, fp, f * n_neg)
        out["tpr0"] = tpr_at_false_positives(tp, fp, 0)
        out["tpr10"] = tpr_at_false_positives(tp, fp, 9)
        out["purity_at_threshold"] = purity_at_prevalence(out["recall"], out["fpr"], settings.prevalence)
        for c in settings.completeness_levels:
            out[purity_at_tpr_name(c)] = purity_at_prevalence(c, fpr_for_tpr(tp, fp, c), settings.prevalence)
    return out


def _undefined_reason(name: str, n_pos: int, n_neg: int, n_called: int, threshold: float) -> str:
    if n_pos + n_neg == 0:
        return "no labelled objects"
    needs_both = name not in THRESHOLD_METRICS
    if needs_both and (n_pos == 0 or n_neg == 0):
        only = "non-lenses" if n_pos == 0 else "lenses"
        return f"needs both lenses and non-lenses; this set has only {only} ({n_pos + n_neg} objects)"
    if name == "recall":
        return "no lenses in this set"
    if name == "fpr":
        return "no non-lenses in this set"
    if name == "precision":
        return f"no object has prob >= threshold {threshold:g}"
    return "undefined for this set"


def _bootstrap_weights(is_pos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicities of one class-stratified bootstrap resample."""
    weights = np.zeros(is_pos.size)
    for members in (np.nonzero(is_pos)[0], np.nonzero(~is_pos)[0]):
        if members.size:
            draws = rng.integers(0, members.size, members.size)
            weights[members] = np.bincount(draws, minlength=members.size)
    return weights


def metrics_for_subset(
    scores: np.ndarray,
    probs: np.ndarray,
    labels: np.ndarray,
    settings: MetricSettings,
    n_bootstrap: int = 200,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Point values, 68% bootstrap intervals and notes for one set of scored objects."""
    labels = np.asarray(labels).astype(int)
    ranked = RankedScores(scores, labels, probs)
    called = np.asarray(probs, dtype=np.float64).reshape(-1) >= settings.threshold
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    point = _scalar_metrics(ranked, settings)
    intervals: dict[str, list[float] | None] = dict.fromkeys(point)
    if n_bootstrap > 0 and ranked.n > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        samples = np.array([list(_scalar_metrics(ranked, settings, _bootstrap_weights(ranked.is_pos, rng)).values())
                            for _ in range(n_bootstrap)])
        for k, name in enumerate(point):
            finite = samples[:, k][np.isfinite(samples[:, k])]
            if np.isfinite(point[name]) and finite.size:
                lo, hi = np.percentile(finite, [15.865, 84.135])
                intervals[name] = [float(lo), float(hi)]
    n_called = int(np.sum(called)) if ranked.n else 0
    metrics: dict[str, dict[str, Any]] = {}
    for name, value in point.items():
        entry: dict[str, Any] = {"value": float(value) if np.isfinite(value) else None, "ci68": intervals[name]}
        if entry["value"] is None:
            entry["reason"] = _undefined_reason(name, n_pos, n_neg, n_called, settings.threshold)
        metrics[name] = entry
    for f in settings.fprs:
        entry = metrics[tpr_at_fpr_name(f)]
        needed = math.ceil(MIN_NEGATIVES_PER_INVERSE_FPR / f)
        entry.update(fpr=f, n_negatives=n_neg, max_false_positives=math.floor(f * n_neg * (1 + 1e-12)),
                     supported=n_neg >= needed)
        if n_neg < needed and entry["value"] is not None:
            entry["note"] = (f"only {n_neg} non-lenses: FPR={f:g} allows {entry['max_false_positives']} false "
                             f"positive(s); ~{needed} non-lenses are needed to measure it")
    for name in ["purity_at_threshold"] + [purity_at_tpr_name(c) for c in settings.completeness_levels]:
        metrics[name]["prevalence"] = settings.prevalence
    fp_at_threshold = int(np.sum(called & ~ranked.is_pos)) if ranked.n else 0
    if metrics["purity_at_threshold"]["value"] is not None and fp_at_threshold == 0 and n_neg > 0:
        recall = metrics["recall"]["value"]
        bound = purity_at_prevalence(recall, 1.0 / n_neg, settings.prevalence) if recall else float("nan")
        metrics["purity_at_threshold"]["note"] = (
            f"no false positive among {n_neg} non-lenses, so purity 1 is an extrapolation; with FPR just under "
            f"1/{n_neg} it would be {bound:.3g}")
        metrics["purity_at_threshold"]["lower_bound_fpr_1_over_n"] = bound if np.isfinite(bound) else None
    return {"n": int(labels.size), "n_lenses": n_pos, "n_nonlenses": n_neg, "n_called_lens": n_called, "metrics": metrics}


def paired_tpr_draws(scorings: Sequence[np.ndarray], labels: np.ndarray, fpr: float = 1e-2, n_bootstrap: int = 1000,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """TPR at ``fpr`` of several scorings of the **same objects**: point values ``(S,)`` and paired draws ``(n_bootstrap, S)``.

    Each draw resamples objects (lenses and non-lenses separately, as :func:`metrics_for_subset`)
    and applies the same multiplicities to every scoring, so any contrast between them (a
    difference, a difference of differences, a mean over training seeds) is read from the draws'
    rows with what the scorings share cancelled: :func:`paired_tpr_difference` is the contrast of
    two; ``experiments/survey_gap_arms.py`` compares perturbed-minus-clean gaps of several runs.
    """
    labels = np.asarray(labels).astype(int)
    ranked = [RankedScores(scores, labels) for scores in scorings]
    n_neg = int((labels == 0).sum())

    def tprs(weights: np.ndarray | None) -> list[float]:
        return [tpr_at_false_positives(*r.counts(weights), fpr * n_neg) for r in ranked]

    rng = rng if rng is not None else np.random.default_rng(0)
    is_pos = labels == 1
    draws = np.array([tprs(_bootstrap_weights(is_pos, rng)) for _ in range(n_bootstrap)]).reshape(n_bootstrap, len(ranked))
    return np.array(tprs(None)), draws


def paired_tpr_difference(scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, fpr: float = 1e-2,
                          n_bootstrap: int = 1000, rng: np.random.Generator | None = None) -> dict[str, Any]:
    """TPR at ``fpr`` of scores ``b`` minus that of scores ``a`` on the **same objects**, with paired bootstrap intervals.

    ``scores_a[i]`` and ``scores_b[i]`` belong to one object (e.g. a clean cutout and its
    perturbed copy); each resample draws objects (lenses and non-lenses separately, as
    :func:`metrics_for_subset`) and applies the same multiplicities to both, so what the two
    scorings share (which non-lenses set the threshold, which lenses are hard) cancels: at FPR
    1e-2 on 1,000 non-lenses the operating point is set by ten objects, and two independent
    68% intervals of ±0.02 would hide a difference a paired one resolves. Returns the point
    difference and its 68% and 95% percentile intervals (:func:`paired_tpr_draws`' two columns).
    """
    point, draws = paired_tpr_draws([scores_a, scores_b], labels, fpr, n_bootstrap, rng)
    diff = draws[:, 1] - draws[:, 0]
    lo68, hi68, lo95, hi95 = np.percentile(diff, [15.865, 84.135, 2.5, 97.5]) if diff.size else [np.nan] * 4
    return {"difference": float(point[1] - point[0]), "ci68": [float(lo68), float(hi68)], "ci95": [float(lo95), float(hi95)],
            "fpr": fpr, "n_negatives": int((np.asarray(labels).astype(int) == 0).sum()), "n_bootstrap": n_bootstrap}
