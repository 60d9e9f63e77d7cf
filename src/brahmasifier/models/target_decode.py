"""From predicted Gaussians on the learned dimensions back to the challenge's columns, with intervals.

Two steps. :func:`predictive` turns one model's standardised head outputs — means and
variances ``(N, D)``, after combining its test-time-augmentation views — into a calibrated
:class:`Predictive` in the encoded physical units (``location + scale · μ``; each σ multiplied by
the spec's ``sigma_scale``, :mod:`brahmasifier.models.recalibration`, which for a ``spin2`` pair
scales the directions along and across its mean and so gives the pair a full 2×2 covariance).
Predictives of several models — each with its own standardisation and recalibration — combine
with :func:`brahmasifier.inference.gaussian_ensemble.combine_predictives`. :func:`decode_predictive` then
writes the challenge's columns; :func:`decode` does both steps for one model.

Output (:class:`Decoded`), per canonical output column: the point value, and for each level
in :data:`LEVELS` the distances ``minus``/``plus`` from the value to the interval's ends
(non-negative), plus ``sigma`` = the half-width of the 68% interval.

- Scalars: the Gaussian's quantiles mapped through the (monotone) inverse encoding — exact;
  the point value is the median (``exp(μ)`` for a log encoding: the log-normal's median).
- ``spin2`` pairs ``(c1, c2)``: the marginals of the 2-D Gaussian, on a fixed polar grid of
  2048 standard-normal points (deterministic): the magnitude is the median of ``|c|`` with its
  quantiles as the interval (the Rice distribution: ``|mean|`` would be biased low where σ is
  comparable to e, and a first-order (delta-method) interval covered 43–56% instead of 68% for
  the shear and source ellipticity in the phase-1 baseline experiment,
  ``experiments/regression_baseline.py`` in the git history); the angle is
  ``½ atan2(c2, c1)`` of the mean with the quantile of the angular deviation as a symmetric
  half-width (at most 90°: an unconstrained PA). Then each level's half-widths of the magnitude
  and of the PA are multiplied by the spec's ``interval_scale`` factors (fitted on validation,
  :mod:`brahmasifier.models.recalibration`) and kept within the column's domain (e ≥ 0, an axis
  ratio in [0, 1], a PA half-width ≤ 90°). Angles are written in the spec's unit and
  range, ellipticities in its definition (e.g. the axis ratio; the quantiles of e map to its
  quantiles), see :class:`~brahmasifier.models.conventions.TruthConventions`.
- Vectors: component-wise Gaussians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from brahmasifier.models.target_kinds import spin2_frame
from brahmasifier.models.targets import TargetSet

__all__ = ["LEVELS", "Decoded", "Predictive", "decode", "decode_predictive", "gaussian_z", "predictive", "submission_values"]

#: Interval levels (central probability): the 1σ "68%" interval and the 95% interval.
LEVELS: tuple[float, ...] = (0.6827, 0.95)


def gaussian_z(level: float) -> float:
    """Half-width in σ of the central Gaussian interval holding ``level`` of the probability."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))


@dataclass
class Decoded:
    """Point values and intervals in the challenge's columns (see module docstring)."""

    values: pd.DataFrame
    minus: dict[float, pd.DataFrame]
    plus: dict[float, pd.DataFrame]

    @property
    def sigma(self) -> pd.DataFrame:
        """Half-width of the 68% interval (what a probabilities file reports as the uncertainty)."""
        level = LEVELS[0]
        return (self.minus[level] + self.plus[level]) / 2.0


def _inverse(encoding: str, v: np.ndarray) -> np.ndarray:
    """Inverse of a scalar encoding (monotone, so Gaussian quantiles map to quantiles)."""
    if encoding == "log":
        return np.exp(v)
    if encoding == "log1p":
        return np.expm1(v)
    return v


@dataclass
class Predictive:
    """Calibrated Gaussian predictions in the encoded physical units of a target list.

    Attributes:
        mean: ``(N, D)`` means (``location + scale · μ``).
        var: ``(N, D)`` variances, recalibration included.
        cov12: ``(N, D)`` covariance of a ``spin2`` pair's two components, stored at the pair's first
            dimension (0 everywhere else).
    """

    mean: np.ndarray
    var: np.ndarray
    cov12: np.ndarray


def predictive(spec: TargetSet, mean: np.ndarray, var: np.ndarray) -> Predictive:
    """One model's standardised head outputs ``(N, D)`` → its calibrated :class:`Predictive`."""
    mean = np.asarray(mean, dtype=np.float64)
    var = np.clip(np.asarray(var, dtype=np.float64), 0.0, None)
    if mean.ndim != 2 or mean.shape[1] != spec.n_dims or var.shape != mean.shape:
        raise ValueError(f"expected means and variances of shape (N, {spec.n_dims}), got {mean.shape} and {var.shape}")
    mu = spec.location + spec.scale * mean
    raw = spec.scale**2 * var
    out_var = raw * spec.sigma_scale**2
    cov12 = np.zeros_like(mu)
    for t, sl in spec.target_slices():
        if t.kind != "spin2":
            continue
        # Σ = A diag(raw) Aᵀ with A = s_r u uᵀ + s_t v vᵀ (u along the mean, v across it)
        u, v, _, _ = spin2_frame(mu[:, sl], raw[:, sl])
        s_r, s_t = spec.sigma_scale[sl]
        a = s_r * u[:, :, None] * u[:, None, :] + s_t * v[:, :, None] * v[:, None, :]
        cov = np.einsum("nij,nj,nkj->nik", a, raw[:, sl], a)
        out_var[:, sl.start], out_var[:, sl.start + 1], cov12[:, sl.start] = cov[:, 0, 0], cov[:, 1, 1], cov[:, 0, 1]
    return Predictive(mu, out_var, cov12)


def decode(spec: TargetSet, mean: np.ndarray, var: np.ndarray, index: pd.Index | None = None) -> Decoded:
    """Standardised means/variances ``(N, D)`` of one model → :class:`Decoded` (see module docstring)."""
    return decode_predictive(spec, predictive(spec, mean, var), index)


def decode_predictive(spec: TargetSet, pred: Predictive, index: pd.Index | None = None) -> Decoded:
    """A calibrated :class:`Predictive` → :class:`Decoded` (``spec``: the targets, conventions and ``interval_scale``)."""
    if pred.mean.ndim != 2 or pred.mean.shape[1] != spec.n_dims:
        raise ValueError(f"decode: expected predictions of shape (N, {spec.n_dims}), got {pred.mean.shape}")
    values: dict[str, np.ndarray] = {}
    minus: dict[float, dict[str, np.ndarray]] = {lv: {} for lv in LEVELS}
    plus: dict[float, dict[str, np.ndarray]] = {lv: {} for lv in LEVELS}
    conv = spec.conventions
    sd_all = np.sqrt(pred.var)
    for t, sl in spec.target_slices():
        m, s = pred.mean[:, sl], sd_all[:, sl]
        if t.kind == "scalar":
            col = t.columns[0]
            values[col] = _inverse(t.encoding, m[:, 0])
            for lv in LEVELS:
                z = gaussian_z(lv)
                minus[lv][col] = values[col] - _inverse(t.encoding, m[:, 0] - z * s[:, 0])
                plus[lv][col] = _inverse(t.encoding, m[:, 0] + z * s[:, 0]) - values[col]
            continue
        if t.kind == "vector":
            for k, col in enumerate(t.columns):
                values[col] = m[:, k] + conv.position_centre
                for lv in LEVELS:
                    minus[lv][col] = plus[lv][col] = gaussian_z(lv) * s[:, k]
            continue
        e, pa, e_lo, e_hi, pa_half = _spin2_marginals(m, pred.var[:, sl], pred.cov12[:, sl.start])
        lo = conv.angle_range[0] * conv.radians_per_unit
        pa = lo + np.mod(pa - lo, math.pi)
        mag_col, pa_col = t.columns
        values[pa_col] = pa / conv.radians_per_unit
        if t.encoding == "ellipticity":  # quantiles map through the monotone e → ell (decreasing for an axis ratio)
            to_ell = conv.ellipticity_from_eccentricity
            values[mag_col] = to_ell(e)
            bounds = tuple(sorted(float(b) for b in to_ell(np.array([0.0, 1.0]))))
            for lv in LEVELS:
                low, high = to_ell(e_lo[lv]), to_ell(e_hi[lv])
                ends = (high, low) if conv.ellipticity_decreasing else (low, high)
                minus[lv][mag_col], plus[lv][mag_col] = values[mag_col] - ends[0], ends[1] - values[mag_col]
        else:
            values[mag_col], bounds = e, (0.0, math.inf)
            for lv in LEVELS:
                minus[lv][mag_col], plus[lv][mag_col] = e - e_lo[lv], e_hi[lv] - e
        for lv in LEVELS:  # the validation-fitted interval factors, within the column's domain
            f_mag, f_pa = (spec.interval_scale.get(c, {}).get(lv, 1.0) for c in (mag_col, pa_col))
            minus[lv][mag_col] = np.minimum(f_mag * minus[lv][mag_col], values[mag_col] - bounds[0])
            plus[lv][mag_col] = np.minimum(f_mag * plus[lv][mag_col], bounds[1] - values[mag_col])
            minus[lv][pa_col] = plus[lv][pa_col] = np.minimum(f_pa * pa_half[lv], math.pi / 2) / conv.radians_per_unit
    columns = spec.output_columns

    def frame(d: dict[str, np.ndarray]) -> pd.DataFrame:
        return pd.DataFrame({c: d[c] for c in columns}, index=index)

    return Decoded(frame(values), {lv: frame(minus[lv]) for lv in LEVELS}, {lv: frame(plus[lv]) for lv in LEVELS})


#: Radii × angles of the fixed polar grid of standard-normal points for magnitude/angle marginals (64 × 32):
#: radial quantiles of the 2-D standard normal (Rayleigh) at (i + ½)/64 times 32 uniform angles, so both
#: radial tails are represented (a product grid of 1-D quantiles put the 97.5% radius 9% low).
RADIAL_NODES, ANGULAR_NODES = 64, 32
_CHUNK = 2048


_Levels = dict[float, np.ndarray]


def _spin2_marginals(mu: np.ndarray, var: np.ndarray,
                     cov12: np.ndarray) -> tuple[np.ndarray, np.ndarray, _Levels, _Levels, _Levels]:
    """Marginals of 2-D Gaussians on ``(c1, c2)``: magnitude median and quantiles, PA and half-widths.

    ``mu`` ``(N, 2)``, ``var`` ``(N, 2)``, ``cov12`` ``(N,)``. The angle is that of the mean;
    everything comes from a fixed polar grid of standard-normal points mapped through the
    Cholesky factor of each covariance (deterministic, no RNG).
    """
    u = (np.arange(RADIAL_NODES) + 0.5) / RADIAL_NODES
    angles = 2.0 * math.pi * (np.arange(ANGULAR_NODES) + 0.5) / ANGULAR_NODES
    radius, theta = np.meshgrid(np.sqrt(-2.0 * np.log1p(-u)), angles)  # Rayleigh quantiles × uniform angles
    z1, z2 = (radius * np.cos(theta)).ravel(), (radius * np.sin(theta)).ravel()
    n = len(mu)
    e = np.empty(n)
    e_lo = {lv: np.empty(n) for lv in LEVELS}
    e_hi = {lv: np.empty(n) for lv in LEVELS}
    half = {lv: np.empty(n) for lv in LEVELS}
    pa = 0.5 * np.arctan2(mu[:, 1], mu[:, 0])
    l11 = np.sqrt(var[:, 0])  # Cholesky factor [[l11, 0], [l21, l22]] of [[v1, c], [c, v2]]
    l21 = np.where(l11 > 0, cov12 / np.where(l11 > 0, l11, 1.0), 0.0)
    l22 = np.sqrt(np.clip(var[:, 1] - l21**2, 0.0, None))
    for a in range(0, n, _CHUNK):
        b = min(a + _CHUNK, n)
        c1 = mu[a:b, :1] + l11[a:b, None] * z1
        c2 = mu[a:b, 1:] + l21[a:b, None] * z1 + l22[a:b, None] * z2
        mags = np.hypot(c1, c2)
        dphi = np.abs(np.mod(0.5 * np.arctan2(c2, c1) - pa[a:b, None] + math.pi / 2, math.pi) - math.pi / 2)
        e[a:b] = np.median(mags, axis=1)
        for lv in LEVELS:
            e_lo[lv][a:b], e_hi[lv][a:b] = np.quantile(mags, [0.5 - lv / 2, 0.5 + lv / 2], axis=1)
            half[lv][a:b] = np.quantile(dphi, lv, axis=1)
    return e, pa, e_lo, e_hi, half


def submission_values(spec: TargetSet, values: pd.DataFrame, group: str) -> pd.DataFrame:
    """The submission columns filled by ``group``'s targets (``lens``/``nonlens``), from decoded values.

    Keyed as :func:`brahmasifier.inference.submission.format_submission` takes them (store names;
    it writes ``vel_disp`` into both template columns); columns of the other group are not
    included (the writer leaves them -999).
    """
    out: dict[str, np.ndarray] = {}
    for t in spec.targets:
        if t.group != group:
            continue
        for col, names in zip(t.columns, t.submission, strict=True):
            for name in names:
                out[name] = values[col].to_numpy()
    return pd.DataFrame(out, index=values.index)
