"""Combining the Gaussian parameter estimates of an ensemble (and of test-time-augmentation views).

For M members each predicting ``N(μ_m, σ_m²)`` for a quantity, the ensemble's estimate is
the moment-matched mixture (Lakshminarayanan et al. 2017):

    μ = mean_m μ_m,      σ² = mean_m σ_m²  +  mean_m (μ_m − μ)²

i.e. the mean of the variances (what each member is unsure of) plus the spread of the means
(what the members disagree on; the population variance, ddof = 0). Combination happens on
the learned dimensions, where ellipticity components average without any wrap-around,
before decoding to the challenge's columns:

- the test-time-augmentation views of one model: :func:`combine_gaussians` on its standardised
  outputs (each view un-transformed with ``TargetSet.d4_apply_targets(..., inverse=True)``);
- the members of an ensemble: :func:`combine_predictives` on their calibrated
  :class:`~brahmasifier.models.target_decode.Predictive` (physical encoded units, so members with
  different standardisations and recalibrations combine; a ``spin2`` pair's 2×2 covariance,
  including the spread of its means, is kept).

A member that does not predict a quantity gives NaN there and is left out of that quantity's
combination; a quantity no member predicts stays NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from brahmasifier.models.target_decode import Predictive
from brahmasifier.models.targets import TargetSet

__all__ = ["combine_gaussians", "combine_predictives"]


def combine_gaussians(means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moment-matched combination over the first axis.

    Args:
        means: ``(M, ...)`` member means (NaN where a member does not predict).
        variances: ``(M, ...)`` member variances, same shape, ≥ 0.

    Returns:
        ``(mean, variance)`` of shape ``means.shape[1:]``.
    """
    means = np.asarray(means, dtype=np.float64)
    variances = np.asarray(variances, dtype=np.float64)
    if means.shape != variances.shape or means.ndim < 1 or means.shape[0] < 1:
        raise ValueError(f"combine_gaussians: means {means.shape} and variances {variances.shape} must match, "
                         "(M, ...) with M >= 1")
    if np.any(variances < 0):
        raise ValueError("combine_gaussians: negative variance")
    present = np.isfinite(means) & np.isfinite(variances)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices stay NaN
        mean = np.nanmean(np.where(present, means, np.nan), axis=0)
        within = np.nanmean(np.where(present, variances, np.nan), axis=0)
        spread = np.nanmean(np.where(present, (means - mean) ** 2, np.nan), axis=0)
    return mean, within + spread


def combine_predictives(members: Sequence[Predictive], spec: TargetSet) -> Predictive:
    """The ensemble rule on calibrated predictives of models sharing ``spec``'s target list.

    Means and variances as :func:`combine_gaussians`; for each ``spin2`` pair the covariance is
    the mean covariance plus the covariance of the members' means.
    """
    if not members:
        raise ValueError("combine_predictives: no members")
    means = np.stack([m.mean for m in members])
    mean, var = combine_gaussians(means, np.stack([m.var for m in members]))
    cov12 = np.zeros_like(mean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        within = np.nanmean(np.stack([m.cov12 for m in members]), axis=0)
        for t, sl in spec.target_slices():
            if t.kind == "spin2":
                i = sl.start
                spread = np.nanmean((means[:, :, i] - mean[:, i]) * (means[:, :, i + 1] - mean[:, i + 1]), axis=0)
                cov12[:, i] = within[:, i] + spread
    return Predictive(mean, var, cov12)
