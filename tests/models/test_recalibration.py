"""σ recalibration: scalar factors and the radial/tangential factors of (e, PA) pairs."""

from __future__ import annotations

import json
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


def _weak_shape_estimates(n: int, seed: int) -> tuple[TargetSet, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Axis ratios and PAs barely seen: means shrunk to the prior's centre, with one constant wrong σ."""
    spec = TargetSet((Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity"),))  # axis ratio, degrees
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.0, 0.45, n)
    table = pd.DataFrame({"ell_l": (1 - e) / (1 + e), "ell_l_PA": rng.uniform(0.0, 180.0, n)})
    labels = np.ones(n)
    true_c, _ = spec.encode_raw(table, labels)
    mean = 0.3 * true_c + rng.normal(scale=0.08, size=true_c.shape)
    return spec, table, labels, mean, np.full((n, 2), 0.1**2)


def _coverages(spec: TargetSet, table: pd.DataFrame, mean: np.ndarray, var: np.ndarray) -> dict[tuple[str, float], float]:
    dec = decode(spec, mean, var)
    out = {}
    for col in ("ell_l", "ell_l_PA"):
        d = table[col].to_numpy() - dec.values[col].to_numpy()
        if col.endswith("PA"):
            d = np.mod(d + 90.0, 180.0) - 90.0
        for lv in LEVELS:
            out[col, lv] = float(np.mean((d >= -dec.minus[lv][col].to_numpy()) & (d <= dec.plus[lv][col].to_numpy())))
    return out


def test_decoded_pair_intervals_are_calibrated_where_the_shape_is_barely_measured() -> None:
    """The README's failure (axis-ratio intervals too narrow, PA too wide): fixed by the decoded-interval factors."""
    spec, table, labels, mean, var = _weak_shape_estimates(6000, seed=11)
    half = len(table) // 2
    fixed = recalibrate(spec, table.iloc[:half], labels[:half], mean[:half], var[:half])  # fit on one half
    assert set(fixed.interval_scale) == {"ell_l", "ell_l_PA"}
    held_out = table.iloc[half:], mean[half:], var[half:]
    for (col, lv), coverage in _coverages(fixed, *held_out).items():  # check on the other
        assert coverage == pytest.approx(lv, abs=0.025), (col, lv)
    # without them (the component-space factors alone) the decoded intervals miss: the check is not trivial
    misses = [abs(c - lv) for (_, lv), c in _coverages(fixed.with_interval_scale({}), *held_out).items()]
    assert max(misses) > 0.06
    # the point values do not move, and the interval ends stay in the axis ratio's domain
    a, b = decode(fixed, *held_out[1:]), decode(fixed.with_interval_scale({}), *held_out[1:])
    np.testing.assert_array_equal(a.values.to_numpy(), b.values.to_numpy())
    for lv in LEVELS:
        assert (a.values["ell_l"] - a.minus[lv]["ell_l"]).min() >= 0.0
        assert (a.values["ell_l"] + a.plus[lv]["ell_l"]).max() <= 1.0
        assert a.plus[lv]["ell_l_PA"].max() <= 90.0


def test_interval_factors_scale_the_decoded_half_widths_and_round_trip() -> None:
    conv = TruthConventions(ellipticity="eccentricity", angle_unit="rad", angle_range=(0.0, math.pi))
    spec = TargetSet((Target("sh", LENS, "spin2", ("sh", "sh_PA")), Target("x", LENS, "scalar", ("x",))), conv)
    mean, var = np.array([[0.1, 0.0, 0.0]]), np.full((1, 3), 0.01**2)
    base = decode(spec, mean, var)
    wide = decode(spec.with_interval_scale({"sh": {LEVELS[0]: 2.0}, "sh_PA": {LEVELS[1]: 3.0}}), mean, var)
    np.testing.assert_allclose(wide.minus[LEVELS[0]]["sh"], 2.0 * base.minus[LEVELS[0]]["sh"])
    np.testing.assert_allclose(wide.plus[LEVELS[1]]["sh_PA"], 3.0 * base.plus[LEVELS[1]]["sh_PA"])
    np.testing.assert_array_equal(wide.minus[LEVELS[1]]["sh"], base.minus[LEVELS[1]]["sh"])  # other levels untouched
    np.testing.assert_array_equal(wide.plus[LEVELS[0]]["sh_PA"], base.plus[LEVELS[0]]["sh_PA"])
    huge = decode(spec.with_interval_scale({"sh": {LEVELS[0]: 100.0}, "sh_PA": {LEVELS[0]: 100.0}}), mean, var)
    assert huge.minus[LEVELS[0]]["sh"].iloc[0] == pytest.approx(huge.values["sh"].iloc[0])  # the modulus stays ≥ 0
    assert huge.plus[LEVELS[0]]["sh_PA"].iloc[0] == pytest.approx(math.pi / 2)  # at most a quarter turn of 2φ
    np.testing.assert_array_equal(huge.minus[LEVELS[0]]["x"], base.minus[LEVELS[0]]["x"])  # scalars untouched
    scaled = spec.with_interval_scale({"sh": {LEVELS[0]: 1.5, LEVELS[1]: 1.2}})
    again = TargetSet.from_dict(json.loads(json.dumps(scaled.to_dict())))
    assert again.interval_scale == scaled.interval_scale
    old = spec.to_dict()
    old.pop("intervals")
    old["version"] = 1
    assert TargetSet.from_dict(old).interval_scale == {}  # a version-1 spec reads as before
    bad = scaled.to_dict()
    bad["intervals"] = {"nope": {"0.6827": 1.0}}
    with pytest.raises(ValueError, match="intervals"):
        TargetSet.from_dict(bad)
