"""Post-hoc σ recalibration of the regression head, fitted on validation data and stored in the spec.

The NLL-trained variances of a small network are typically miscalibrated (in the phase-1
baseline experiment, ``experiments/regression_baseline.py`` in the git history, the raw 68%
intervals covered 73–89% of the test lenses for
most parameters after 10 epochs). :func:`recalibrate` multiplies each learned dimension's σ by
the factor that makes its ±1σ interval hold exactly 68.27% of the validation rows; the factors
are ``TargetSet.sigma_scale`` (so they travel in the model card) and
:func:`~brahmasifier.models.target_decode.decode` applies them.

``spin2`` pairs are calibrated in two steps. In component space the two factors scale the
direction of the predicted mean (radial: the magnitude e) and the direction across it
(tangential: the PA), from the radial/tangential residual quantiles: a diagonal Gaussian on
(c1, c2) cannot say "e is less certain than the PA" (in the baseline per-component factors gave
the deflector-light ellipticity 52% and its PA 78% coverage). That Gaussian is what an ensemble
combines, but its *decoded* intervals still miss where the image barely constrains the shape: the
errors are not Gaussian near e = 0 and at the edge of the prior, the mean's direction is noise
when ``|mean|`` < σ, and the predicted axis ratio sits near the prior's median (the 4-epoch
multi-task model of the README: e intervals held 49–58% of the validation lenses, PA intervals
77–79%, after the old bisection of the two component factors, which cannot reach both when
the coverage does not respond as a Gaussian's). So, second, the decoded intervals themselves are
calibrated (:func:`interval_factors`): for each magnitude and PA column and each level of
:data:`~brahmasifier.models.target_decode.LEVELS`, the factor ``f`` on the decoded half-widths
is the level's quantile of ``|truth − value| / half-width`` (the half-width on the truth's side),
so the scaled intervals hold exactly that fraction of the validation rows (normalised split
conformal calibration); the decoder keeps the ends in the column's domain, which never
excludes a truth. They are ``TargetSet.interval_scale`` and do not touch the point values.
Measured (README "Lens parameters"): the test coverage of the 4-epoch model's eight e/PA
columns went from 0.48–0.79 to 0.65–0.70.

Residuals: scalars and vectors ``(target − μ)/(σ · sigma_scale)``; spin2 pairs the radial and
tangential components of ``target − μ`` divided by the calibrated σ in those directions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brahmasifier.models.target_decode import LEVELS, decode
from brahmasifier.models.target_kinds import spin2_frame
from brahmasifier.models.targets import TargetSet

__all__ = ["MIN_INTERVAL_ROWS", "ONE_SIGMA", "interval_factors", "recalibrate", "standardized_residuals"]

#: Central probability of the ±1σ interval (what :func:`recalibrate` makes exact).
ONE_SIGMA = 0.6826894921370859


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
    rows keep theirs. ``interval_scale`` is refitted (:func:`interval_factors`), so the decoded
    magnitude and PA intervals of every measured pair hold each level's fraction of the rows.
    ``mean``/``var`` are the head's standardised outputs for the rows of ``table``.
    """
    residuals = standardized_residuals(spec, table, labels, mean, var)
    scale = np.array(spec.sigma_scale, dtype=np.float64)
    for d in range(spec.n_dims):
        r = np.abs(residuals[:, d])
        r = r[np.isfinite(r)]
        if r.size:
            scale[d] *= max(float(np.quantile(r, ONE_SIGMA)), 1e-6)
    out = spec.with_sigma_scale(scale).with_interval_scale({})
    return out.with_interval_scale(interval_factors(out, table, labels, mean, var))


#: Fewest validation rows a decoded-interval factor is fitted on (else the column keeps factor 1).
MIN_INTERVAL_ROWS = 20


def interval_factors(spec: TargetSet, table: pd.DataFrame, labels: np.ndarray, mean: np.ndarray,
                     var: np.ndarray) -> dict[str, dict[float, float]]:
    """Per ``spin2`` output column and level: the factor on ``spec``'s decoded half-widths (see module docstring).

    ``spec`` is decoded as it is (fit it with ``interval_scale`` cleared); columns with fewer than
    :data:`MIN_INTERVAL_ROWS` valid rows get no entry.
    """
    truth = spec.canonical_truth(table, labels)
    dec = decode(spec, mean, var)
    period = spec.conventions.angle_period
    out: dict[str, dict[float, float]] = {}
    for t in spec.targets:
        if t.kind != "spin2":
            continue
        for k, col in enumerate(t.columns):
            d = truth[col].to_numpy(np.float64) - dec.values[col].to_numpy(np.float64)
            if k == 1:
                d = np.mod(d + period / 2, period) - period / 2
            ok = np.isfinite(d)
            if ok.sum() < MIN_INTERVAL_ROWS:
                continue
            factors = {}
            for lv in LEVELS:
                half = np.where(d >= 0, dec.plus[lv][col].to_numpy(), dec.minus[lv][col].to_numpy())[ok]
                ratio = np.abs(d[ok]) / np.maximum(half, 1e-12)
                factors[lv] = max(float(np.quantile(ratio, lv)), 1e-6)
            out[col] = factors
    return out
