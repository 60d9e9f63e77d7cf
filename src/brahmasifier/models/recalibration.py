"""Post-hoc σ recalibration of the regression head, fitted on validation data and stored in the spec.

The NLL-trained variances of a small network are typically miscalibrated (in the phase-1
baseline experiment, ``experiments/regression_baseline.py`` in the git history, the raw 68%
intervals covered 73–89% of the test lenses for
most parameters after 10 epochs). :func:`recalibrate` multiplies each learned dimension's σ by
the factor that makes its ±1σ interval hold exactly 68.27% of the validation rows; the factors
are ``TargetSet.sigma_scale`` (so they travel in the model card) and
:func:`~brahmasifier.models.target_decode.decode` applies them.

``spin2`` pairs are calibrated in their own frame: the two factors scale the direction of the
predicted mean (radial: the magnitude e) and the direction across it (tangential: the PA). A
diagonal Gaussian on (c1, c2) cannot say "e is less certain than the PA"; in the baseline
per-component factors gave the deflector-light ellipticity 52% and its PA 78% coverage. The
factors start from the radial/tangential residual quantiles and are then refined by bisection
until the *decoded* e and PA ±1σ intervals each hold 68.27% of the validation rows (the residual
quantiles alone still left e at 53–58%: the errors are not Gaussian near e = 0 and at the edge of
the prior), where the pair is measured and the refinement helps (see :func:`_refine_pair`).

Residuals: scalars and vectors ``(target − μ)/(σ · sigma_scale)``; spin2 pairs the radial and
tangential components of ``target − μ`` divided by the calibrated σ in those directions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brahmasifier.models.targets import Target, TargetSet

__all__ = ["ONE_SIGMA", "recalibrate", "spin2_frame", "standardized_residuals"]

#: Central probability of the ±1σ interval (what :func:`recalibrate` makes exact).
ONE_SIGMA = 0.6826894921370859


def spin2_frame(mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors along / across the mean of each pair and the predicted σ in those directions.

    Args:
        mu: ``(N, 2)`` means of ``(c1, c2)``.
        var: ``(N, 2)`` diagonal variances.

    Returns:
        ``(u, v, sd_u, sd_v)``: ``u`` ``(N, 2)`` along ``mu`` (``(1, 0)`` where ``mu`` is 0),
        ``v`` ``(N, 2)`` perpendicular, and the standard deviations along each.
    """
    norm = np.hypot(mu[:, 0], mu[:, 1])
    safe = np.where(norm > 0, norm, 1.0)
    u = np.where((norm > 0)[:, None], mu / safe[:, None], np.array([1.0, 0.0]))
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    return u, v, np.sqrt((u**2 * var).sum(axis=1)), np.sqrt((v**2 * var).sum(axis=1))


def standardized_residuals(spec: TargetSet, table: pd.DataFrame, labels: np.ndarray, mean: np.ndarray,
                           var: np.ndarray) -> np.ndarray:
    """Calibrated residuals per learned dimension ``(N, D)``, NaN where masked (see module docstring)."""
    target, mask = spec.encode(table, labels)
    mean = np.asarray(mean, dtype=np.float64)
    var = np.clip(np.asarray(var, dtype=np.float64), 1e-300, None)
    out = (target - mean) / (np.sqrt(var) * spec.sigma_scale)
    for t, sl in spec.target_slices():
        if t.kind != "spin2":
            continue
        u, v, sd_u, sd_v = spin2_frame(mean[:, sl], var[:, sl])
        d = target[:, sl] - mean[:, sl]
        out[:, sl.start] = (d * u).sum(axis=1) / (sd_u * spec.sigma_scale[sl.start])
        out[:, sl.start + 1] = (d * v).sum(axis=1) / (sd_v * spec.sigma_scale[sl.start + 1])
    return np.where(mask, out, np.nan)


def recalibrate(spec: TargetSet, table: pd.DataFrame, labels: np.ndarray, mean: np.ndarray, var: np.ndarray) -> TargetSet:
    """A copy of ``spec`` whose ±1σ intervals hold 68.27% of these (validation) rows in each learned dimension.

    ``sigma_scale`` is multiplied by the 68.27% quantile of ``|residual|``; dimensions without
    rows keep theirs. ``mean``/``var`` are the head's standardised outputs for the rows of ``table``.
    """
    residuals = standardized_residuals(spec, table, labels, mean, var)
    scale = np.array(spec.sigma_scale, dtype=np.float64)
    for d in range(spec.n_dims):
        r = np.abs(residuals[:, d])
        r = r[np.isfinite(r)]
        if r.size:
            scale[d] *= max(float(np.quantile(r, ONE_SIGMA)), 1e-6)
    out = spec.with_sigma_scale(scale)
    for t, sl in spec.target_slices():
        if t.kind == "spin2":
            scale[sl] = _refine_pair(out, t, sl, table, labels, np.asarray(mean)[:, sl], np.asarray(var)[:, sl])
    return spec.with_sigma_scale(scale)


def _pair_coverage(spec: TargetSet, truth: pd.DataFrame, mean: np.ndarray, var: np.ndarray, column: int) -> float:
    """Fraction of rows whose true magnitude (column 0) or PA (column 1) lies in the decoded ±1σ interval."""
    from brahmasifier.models.target_decode import LEVELS, decode

    (target,) = spec.targets
    col = target.columns[column]
    dec = decode(spec, mean, var)
    d = truth[col].to_numpy() - dec.values[col].to_numpy()
    if column == 1:
        period = np.pi / spec.conventions.radians_per_unit
        d = np.mod(d + period / 2, period) - period / 2
    return float(np.mean((d >= -dec.minus[LEVELS[0]][col].to_numpy()) & (d <= dec.plus[LEVELS[0]][col].to_numpy())))


def _refine_pair(spec: TargetSet, target: Target, sl: slice, table: pd.DataFrame, labels: np.ndarray, mean: np.ndarray,
                 var: np.ndarray, steps: int = 10) -> np.ndarray:
    """(radial, tangential) factors whose decoded magnitude / PA ±1σ intervals hold 68.27% of the rows.

    Starts from the residual quantiles (exact for a Gaussian). Each factor is then bisected on
    its log within [start/3, 3 × start] (two alternations: they interact only weakly), but only
    where that bracket holds the target coverage; the refinement is kept only if it brings both
    decoded coverages closer to 68.27%. Unmeasured pairs (the typical |mean| below 1 σ: the
    direction of the mean, and so the frame, is noise) keep the start.
    """
    sub = TargetSet((target,), spec.conventions, spec.location[sl], spec.scale[sl], spec.sigma_scale[sl], spec.n_fit[sl])
    truth = sub.canonical_truth(table, labels)
    ok = truth.notna().all(axis=1).to_numpy()
    start = np.array(sub.sigma_scale, dtype=np.float64)
    if ok.sum() < 20 or np.median(np.hypot(*mean[ok].T) / np.sqrt(var[ok].mean(axis=1))) < 1.0:
        return start
    truth, mean, var = truth[ok], mean[ok], var[ok]

    def coverage(factors: np.ndarray, k: int) -> float:
        return _pair_coverage(sub.with_sigma_scale(factors), truth, mean, var, k)

    def miss(factors: np.ndarray) -> float:
        return max(abs(coverage(factors, k) - ONE_SIGMA) for k in (0, 1))

    factors = start.copy()
    for _ in range(2):
        for k in (0, 1):
            lo, hi = np.log(factors[k] / 3.0), np.log(factors[k] * 3.0)
            if not coverage(_with(factors, k, np.exp(lo)), k) < ONE_SIGMA <= coverage(_with(factors, k, np.exp(hi)), k):
                continue  # not bracketed: the coverage does not respond as a Gaussian's would
            for _ in range(steps):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if coverage(_with(factors, k, np.exp(mid)), k) >= ONE_SIGMA else (mid, hi)
            factors[k] = np.exp(hi)
    return factors if miss(factors) < miss(start) else start


def _with(factors: np.ndarray, k: int, value: float) -> np.ndarray:
    out = factors.copy()
    out[k] = value
    return out
