"""σ recalibration: scalar factors and the radial/tangential factors of (e, PA) pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from brahmasifier.models.conventions import TruthConventions
from brahmasifier.models.recalibration import recalibrate, standardized_residuals
from brahmasifier.models.target_decode import LEVELS, decode
from brahmasifier.models.targets import LENS, Target, TargetSet


def test_recalibration_fixes_a_known_miscalibration() -> None:
    spec = TargetSet((Target("x", LENS, "scalar", ("x",)),))
    rng = np.random.default_rng(3)
    truth = rng.normal(size=20000)
    mean = truth + rng.normal(scale=2.0, size=truth.size)  # errors of σ = 2, predicted σ = 1
    table, labels = pd.DataFrame({"x": truth}), np.ones(truth.size)
    var = np.ones((truth.size, 1))
    fixed = recalibrate(spec, table, labels, mean[:, None], var)
    assert fixed.sigma_scale[0] == pytest.approx(2.0, rel=0.03)
    r = standardized_residuals(fixed, table, labels, mean[:, None], var)
    assert np.mean(np.abs(r) <= 1.0) == pytest.approx(0.6827, abs=1e-3)
    dec = decode(fixed, mean[:, None], var)
    d = truth - dec.values["x"].to_numpy()
    assert np.mean((d >= -dec.minus[LEVELS[0]]["x"]) & (d <= dec.plus[LEVELS[0]]["x"])) == pytest.approx(0.6827, abs=1e-3)


def test_pair_recalibration_separates_magnitude_and_angle() -> None:
    """Errors 2× the predicted σ along the mean's direction and 0.5× across it: both e and PA get calibrated."""
    conv = TruthConventions(ellipticity="eccentricity", angle_unit="rad", angle_range=(0.0, math.pi))
    spec = TargetSet((Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity"),), conv)
    rng = np.random.default_rng(7)
    n = 1600
    e_mean, phi = rng.uniform(0.1, 0.3, n), rng.uniform(0, math.pi, n)
    mean = np.stack([e_mean * np.cos(2 * phi), e_mean * np.sin(2 * phi)], axis=1)
    sd = 0.02
    u = mean / e_mean[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    true_c = mean + (2.0 * sd * rng.normal(size=n))[:, None] * u + (0.5 * sd * rng.normal(size=n))[:, None] * v
    table = pd.DataFrame({"ell_l": np.hypot(*true_c.T), "ell_l_PA": 0.5 * np.arctan2(true_c[:, 1], true_c[:, 0]) % math.pi})
    labels, var = np.ones(n), np.full((n, 2), sd**2)
    half = n // 2
    fixed = recalibrate(spec, table.iloc[:half], labels[:half], mean[:half], var[:half])  # fit on one half
    np.testing.assert_allclose(fixed.sigma_scale, [2.0, 0.5], rtol=0.1)
    dec = decode(fixed, mean[half:], var[half:])  # check on the other
    for col, period in (("ell_l", None), ("ell_l_PA", math.pi)):
        d = table[col].to_numpy()[half:] - dec.values[col].to_numpy()
        if period:
            d = np.mod(d + period / 2, period) - period / 2
        for lv in LEVELS:
            inside = (d >= -dec.minus[lv][col].to_numpy()) & (d <= dec.plus[lv][col].to_numpy())
            assert inside.mean() == pytest.approx(lv, abs=0.04), (col, lv)


def test_predictive_pair_covariance_follows_the_frame_factors() -> None:
    from brahmasifier.models.target_decode import predictive

    spec = TargetSet((Target("sh", LENS, "spin2", ("sh", "sh_PA")),), sigma_scale=np.array([2.0, 0.5]))
    mean = np.array([[0.03, 0.04]])  # direction u = (0.6, 0.8)
    pred = predictive(spec, mean, np.array([[1e-4, 1e-4]]))
    u, v = np.array([0.6, 0.8]), np.array([-0.8, 0.6])
    cov = np.array([[pred.var[0, 0], pred.cov12[0, 0]], [pred.cov12[0, 0], pred.var[0, 1]]])
    assert u @ cov @ u == pytest.approx(4.0 * 1e-4) and v @ cov @ v == pytest.approx(0.25 * 1e-4)
    assert u @ cov @ v == pytest.approx(0.0, abs=1e-12)
