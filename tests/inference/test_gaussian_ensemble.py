"""The ensemble rule for Gaussian estimates: mean of means, mean variance + spread of means."""

from __future__ import annotations

import numpy as np
import pytest

from brahmasifier.inference.gaussian_ensemble import combine_gaussians


def test_hand_computed_example() -> None:
    means = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 13.0]])
    variances = np.array([[1.0, 4.0], [2.0, 4.0], [3.0, 1.0]])
    mean, var = combine_gaussians(means, variances)
    # column 0: μ = 3; mean variance 2; spread ((1-3)² + 0 + (5-3)²)/3 = 8/3
    # column 1: μ = 11; mean variance 3; spread (1 + 1 + 4)/3 = 2
    np.testing.assert_allclose(mean, [3.0, 11.0])
    np.testing.assert_allclose(var, [2.0 + 8.0 / 3.0, 5.0])


def test_matches_the_moments_of_the_equal_weight_mixture() -> None:
    rng = np.random.default_rng(0)
    means, sds = np.array([0.0, 2.0, -1.0]), np.array([1.0, 0.5, 2.0])
    samples = np.concatenate([rng.normal(m, s, 200_000) for m, s in zip(means, sds, strict=True)])
    mean, var = combine_gaussians(means[:, None], sds[:, None] ** 2)
    assert mean[0] == pytest.approx(samples.mean(), abs=0.01) and var[0] == pytest.approx(samples.var(), rel=0.01)


def test_single_member_and_missing_members() -> None:
    mean, var = combine_gaussians(np.array([[2.0]]), np.array([[0.5]]))
    assert (mean[0], var[0]) == (2.0, 0.5)
    means = np.array([[1.0, np.nan], [3.0, np.nan]])
    variances = np.array([[1.0, 1.0], [np.nan, 1.0]])
    mean, var = combine_gaussians(means, variances)
    assert (mean[0], var[0]) == (1.0, 1.0)  # the member without a variance is left out
    assert np.isnan(mean[1]) and np.isnan(var[1])  # no member predicts it
    with pytest.raises(ValueError, match="negative"):
        combine_gaussians(np.zeros((2, 1)), -np.ones((2, 1)))
    with pytest.raises(ValueError, match="match"):
        combine_gaussians(np.zeros((2, 1)), np.ones((3, 1)))


def test_combine_predictives_keeps_the_pair_covariance() -> None:
    from brahmasifier.inference.gaussian_ensemble import combine_predictives
    from brahmasifier.models.target_decode import Predictive
    from brahmasifier.models.targets import LENS, Target, TargetSet

    spec = TargetSet((Target("Rein", LENS, "scalar", ("Rein",), "log"), Target("sh", LENS, "spin2", ("sh", "sh_PA"))))
    a = Predictive(np.array([[0.0, 0.02, 0.00]]), np.array([[0.01, 1e-4, 2e-4]]), np.array([[0.0, 5e-5, 0.0]]))
    b = Predictive(np.array([[0.2, 0.04, 0.02]]), np.array([[0.03, 3e-4, 2e-4]]), np.array([[0.0, -1e-5, 0.0]]))
    c = combine_predictives([a, b], spec)
    np.testing.assert_allclose(c.mean, [[0.1, 0.03, 0.01]])
    np.testing.assert_allclose(c.var, [[0.02 + 0.01, 2e-4 + 1e-4, 2e-4 + 1e-4]])
    # cov12: mean (5e-5 - 1e-5)/2 = 2e-5, plus the covariance of the means: ((-0.01)(-0.01) + (0.01)(0.01))/2 = 1e-4
    np.testing.assert_allclose(c.cov12, [[0.0, 2e-5 + 1e-4, 0.0]])
