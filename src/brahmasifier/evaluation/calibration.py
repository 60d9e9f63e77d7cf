"""Probability calibration: temperature scaling, expected calibration error, reliability curves.

A lens finder's score is used as a probability when candidates are ranked for visual
inspection and when purity is predicted at survey prevalence, so it should mean what it
says. Temperature scaling (Guo et al. 2017) rescales the logits by one number ``T`` fitted
on held-out data: it fixes over-confidence without changing the ranking (AUC, TPR at any
FPR are unchanged).

Convention: binary, positive-class reliability. A bin's *confidence* is the mean predicted
lens probability in it and its *accuracy* is the fraction of lenses in it (the same
convention as ``torchmetrics.classification.BinaryCalibrationError``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Range of temperatures searched. Separable training data drives the unconstrained optimum
#: to T -> 0 (infinitely sharp); the bound keeps the result usable and says so.
T_MIN: float = 0.05
T_MAX: float = 20.0


def _as_binary_labels(labels: np.ndarray, n: int, what: str = "labels") -> np.ndarray:
    """Labels as float64 0/1, with a clear error for anything else."""
    y = np.asarray(labels).reshape(-1)
    if y.size != n:
        raise ValueError(f"{what} has {y.size} entries but the scores have {n}")
    if y.dtype == bool:
        return y.astype(np.float64)
    y = y.astype(np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        values = np.unique(y[bad])[:5]
        raise ValueError(f"{what} must be 0 (non-lens) or 1 (lens); found {values.tolist()} "
                         f"in {int(bad.sum())} entries (drop unknown labels, -1, first)")
    return y


def _bce(logits: np.ndarray, labels: np.ndarray, inverse_temperature: float) -> float:
    """Mean binary cross-entropy of sigmoid(logits * s), computed stably via logaddexp."""
    z = logits * inverse_temperature
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    t_min: float = T_MIN,
    t_max: float = T_MAX,
) -> float:
    """The temperature ``T`` minimising the BCE of ``sigmoid(logits / T)`` on held-out data.

    The loss is convex in ``1/T`` (a one-parameter logistic regression without intercept),
    so a bounded scalar search over ``log T`` finds the global optimum. The result is
    clipped to ``[t_min, t_max]``; it lands on ``t_min`` for (near-)separable data, where
    the unconstrained optimum is ``T -> 0``.

    Raises ``ValueError`` for empty input, non-finite logits, non-binary labels or a single
    class (with one class the optimum is degenerate: ``T -> 0`` or ``T -> inf``).
    """
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if z.size == 0:
        raise ValueError("fit_temperature: no logits given (empty input)")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"fit_temperature: {int((~np.isfinite(z)).sum())} logits are NaN or infinite")
    y = _as_binary_labels(labels, z.size)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        which = "lenses (label 1)" if n_pos else "non-lenses (label 0)"
        raise ValueError(f"fit_temperature: all {y.size} labels are {which}; temperature scaling "
                         "needs both classes in the held-out set")
    if not 0.0 < t_min < t_max:
        raise ValueError(f"fit_temperature: need 0 < t_min < t_max, got {t_min}, {t_max}")
    if not np.any(z):
        return 1.0  # all logits zero: every temperature gives the same loss

    lo, hi = np.log(t_min), np.log(t_max)
    result = minimize_scalar(lambda log_t: _bce(z, y, float(np.exp(-log_t))),
                             bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    log_t = float(result.x)
    # The bounded search never evaluates the end points exactly; check them so that
    # separable data returns t_min (and the opposite extreme t_max) exactly.
    candidates = [(float(result.fun), log_t), (_bce(z, y, 1.0 / t_min), lo), (_bce(z, y, 1.0 / t_max), hi)]
    best = min(candidates)[1]
    return float(np.clip(np.exp(best), t_min, t_max))


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``sigmoid(logits / temperature)`` (numerically stable)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    return np.exp(-np.logaddexp(0.0, -z))


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per-bin summary of predicted probability against observed lens fraction.

    Bins with no objects have ``count == 0`` and NaN ``confidence`` / ``accuracy``.
    """

    bin_edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # mean predicted probability per bin
    accuracy: np.ndarray  # fraction of lenses per bin
    count: np.ndarray  # objects per bin (int)

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted mean |accuracy - confidence|."""
        filled = self.count > 0
        total = self.count.sum()
        if total == 0:
            return float("nan")
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(self.count[filled] * gaps) / total)

    def to_dict(self) -> dict[str, list[float | None] | list[int]]:
        """JSON-ready form (NaN becomes None)."""
        def clean(a: np.ndarray) -> list[float | None]:
            return [None if not np.isfinite(v) else float(v) for v in a]
        return {"bin_edges": [float(e) for e in self.bin_edges], "confidence": clean(self.confidence),
                "accuracy": clean(self.accuracy), "count": [int(c) for c in self.count]}


def _checked_probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ValueError("no probabilities given (empty input)")
    if not np.all(np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("probabilities must be finite and within [0, 1]")
    return p


def reliability_curve(
    probs: np.ndarray,
    labels: np.ndarray,
    n_bins: int = 15,
    strategy: str = "uniform",
) -> ReliabilityCurve:
    """Bin objects by predicted probability; compare mean probability with lens fraction.

    ``strategy="uniform"``: equal-width bins on [0, 1] (bins are ``[lo, hi)``, the last one
    also holds 1.0). ``"quantile"``: edges at probability quantiles, so that each bin holds
    about the same number of objects (useful when almost all scores are near 0, as in a
    survey-like test set).
    """
    p = _checked_probs(probs)
    y = _as_binary_labels(labels, p.size)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
        edges = np.maximum.accumulate(edges)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    # index of the bin [edges[k], edges[k+1]); p == 1 goes to the last bin
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(count > 0, sum_p / np.maximum(count, 1), np.nan)
        accuracy = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    return ReliabilityCurve(bin_edges=edges, confidence=confidence, accuracy=accuracy, count=count.astype(np.int64))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width bins (positive-class convention, L1 norm)."""
    return reliability_curve(probs, labels, n_bins=n_bins, strategy="uniform").ece
