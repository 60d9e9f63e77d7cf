"""The model card's temperature: the logistic function, temperature scaling and its fit.

A card's ``temperature`` ``T`` turns the model's logit into a calibrated probability
``sigmoid(logit / T)`` (temperature scaling, Guo et al. 2017): fitted once on the validation
split at the end of training, applied by prediction to every model of an ensemble, and shown
before/after by the evaluation report. It fixes over-confidence without changing the ranking
(AUC, TPR at any FPR are unchanged). This module is the one home of those functions; it needs
numpy and scipy only, so every stage of the pipeline can import it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["T_MAX", "T_MIN", "apply_temperature", "as_binary_labels", "fit_temperature", "logit", "sigmoid"]

#: Range of temperatures searched. Separable training data drives the unconstrained optimum
#: to T -> 0 (infinitely sharp); the bound keeps the result usable and says so.
T_MIN: float = 0.05
T_MAX: float = 20.0


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``sigmoid(logits / temperature)`` (numerically stable, float64)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function (temperature 1), numerically stable, float64."""
    return apply_temperature(x, 1.0)


def logit(p: float, eps: float = 1e-12) -> float:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]`` (the inverse of :func:`sigmoid`)."""
    p = min(max(float(p), eps), 1.0 - eps)
    return math.log(p / (1.0 - p))


def as_binary_labels(labels: np.ndarray, n: int, what: str = "labels") -> np.ndarray:
    """Labels as float64 0/1, with a clear error for anything else (e.g. unknown labels, -1)."""
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

    Raises:
        ValueError: empty input, non-finite logits, non-binary labels or a single class (with
            one class the optimum is degenerate: ``T -> 0`` or ``T -> inf``).
    """
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if z.size == 0:
        raise ValueError("fit_temperature: no logits given (empty input)")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"fit_temperature: {int((~np.isfinite(z)).sum())} logits are NaN or infinite")
    y = as_binary_labels(labels, z.size)
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
