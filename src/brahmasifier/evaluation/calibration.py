"""How well probabilities mean what they say: reliability curves and expected calibration error.

A lens finder's score is used as a probability when candidates are ranked for visual
inspection and when purity is predicted at survey prevalence, so it should mean what it
says. Temperature scaling itself (the model card's ``temperature``, its fit and its
application) lives in :mod:`brahmasifier.models.temperature`.

Convention: binary, positive-class reliability. A bin's *confidence* is the mean predicted
lens probability in it and its *accuracy* is the fraction of lenses in it (the same
convention as ``torchmetrics.classification.BinaryCalibrationError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from brahmasifier.models.temperature import as_binary_labels

__all__ = ["ReliabilityCurve", "expected_calibration_error", "reliability_curve"]


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
        """Expected calibration error: count-weighted mean ``|accuracy - confidence|``."""
        filled = self.count > 0
        total = self.count.sum()
        if total == 0:
            return float("nan")
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(self.count[filled] * gaps) / total)

    def to_dict(self) -> dict[str, Any]:
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
    y = as_binary_labels(labels, p.size)
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
