"""Each survey transform on tiny data: what it does to the pixels, its truth row, determinism per seed."""

from __future__ import annotations

import numpy as np
import pytest
from tests.survey.tiny import structured_object

from brahmasifier.errors import ConfigError
from brahmasifier.pixels import fill_mask
from brahmasifier.survey.transforms import (
    TRUTH_COLUMNS,
    PerturbConfig,
    correlate_noise,
    footprint_outside,
    lanczos_shift,
    perturb_image,
)


def _obj(seed: int = 0) -> np.ndarray:
    return structured_object(np.random.default_rng(seed))


def test_same_seed_same_pixels_and_truth() -> None:
    config = PerturbConfig(footprint="rotated", misregister_fraction=0.5, centre_offset=2.0, resample="lanczos3",
                           mask=("circles", "strips"))
    a, ta = perturb_image(_obj(), config, np.random.default_rng([3, 5]))
    b, tb = perturb_image(_obj(), config, np.random.default_rng([3, 5]))
    c, _ = perturb_image(_obj(), config, np.random.default_rng([4, 5]))
    assert np.array_equal(a, b, equal_nan=True) and ta == tb
    assert not np.array_equal(a, c, equal_nan=True)
    assert set(ta) == set(TRUTH_COLUMNS)


def test_draws_do_not_depend_on_other_settings() -> None:
    _, with_rotation = perturb_image(_obj(), PerturbConfig(footprint="rotated", centre_offset=2.0),
                                     np.random.default_rng(9))
    _, without = perturb_image(_obj(), PerturbConfig(centre_offset=2.0), np.random.default_rng(9))
    assert with_rotation["pert_offset_x"] == without["pert_offset_x"] != 0.0


def test_rotated_footprint_fills_the_corners_and_is_detected() -> None:
    image, truth = perturb_image(_obj(), PerturbConfig(footprint="rotated", rotation_angle=30.0, fill=-5.0),
                                 np.random.default_rng(1))
    outside = footprint_outside(41)
    assert truth["pert_rotation"] == 30.0 and truth["pert_fill"] == -5.0
    assert np.all(image[:, outside] == -5.0)
    mask = fill_mask(image)
    assert np.all(mask[:, outside])
    assert (mask & ~outside).sum() <= 5 * 8  # at most a few rim pixels the rotation left exactly at the fill


def test_masked_footprint_keeps_the_inside() -> None:
    obj = _obj()
    image, truth = perturb_image(obj, PerturbConfig(footprint="masked"), np.random.default_rng(1))
    inside = ~footprint_outside(41)
    assert np.array_equal(image[:, inside], obj[:, inside]) and truth["pert_rotation"] == 0.0


def test_misregistration_records_each_band_angle() -> None:
    obj = _obj()
    moved, truth = perturb_image(obj, PerturbConfig(misregister_fraction=1.0, misregister_angle=30.0),
                                 np.random.default_rng(2))
    angles = np.array([truth[f"pert_angle_{b}"] for b in "grizy"])
    assert truth["pert_misregistered"] == 1 and np.all(np.abs(angles) <= 30.0) and not np.array_equal(moved, obj)
    assert truth["pert_max_band_angle"] == pytest.approx(angles.max() - angles.min())
    none, t0 = perturb_image(obj, PerturbConfig(misregister_fraction=0.0), np.random.default_rng(2))
    assert t0["pert_misregistered"] == 0 and np.array_equal(none, obj)


def test_misregister_groups_turn_bands_together() -> None:
    obj = _obj()
    config = PerturbConfig(misregister_fraction=1.0, misregister_angle=30.0, misregister_groups="gy,riz")
    _, grouped = perturb_image(obj, config, np.random.default_rng(2))
    _, alone = perturb_image(obj, PerturbConfig(misregister_fraction=1.0, misregister_angle=30.0),
                             np.random.default_rng(2))
    angle = {b: grouped[f"pert_angle_{b}"] for b in "grizy"}
    assert angle["g"] == angle["y"] == alone["pert_angle_g"] and angle["r"] == angle["i"] == angle["z"] == alone["pert_angle_r"]
    assert angle["g"] != angle["r"] and grouped["pert_max_band_angle"] == pytest.approx(abs(angle["g"] - angle["r"]))
    for bad in ("gy,ri", "gyy,riz", "gy,,riz", "gx,riz"):
        with pytest.raises(ConfigError, match="misregister groups"):
            PerturbConfig(misregister_groups=bad)


def test_lanczos_integer_shift_is_exact_inside() -> None:
    obj = _obj()
    shifted = lanczos_shift(obj, 2.0, -1.0)
    assert np.allclose(shifted[:, 5:-5, 5:-5], obj[:, 3:-7, 6:-4], atol=1e-4)


def test_noise_correlation_hits_the_asked_value() -> None:
    noise = np.random.default_rng(3).normal(size=(5, 41, 41)).astype(np.float32)
    out = correlate_noise(noise, 0.15)
    a, b = out[:, 2:-2, 2:-3].ravel(), out[:, 2:-2, 3:-2].ravel()
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.15, abs=0.04)


def test_masks_write_nan_discs_and_constant_strips() -> None:
    image, truth = perturb_image(_obj(), PerturbConfig(mask=("circles", "strips", "chip-gaps"), fill=0.0),
                                 np.random.default_rng(4))
    assert np.isnan(image).any()
    assert "circles" in truth["pert_mask"] and "strip" in truth["pert_mask"] and "gap" in truth["pert_mask"]
    assert fill_mask(np.nan_to_num(image, nan=1.5)).sum() > 41 * 2 * 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="footprint"):
        PerturbConfig(footprint="square")
    with pytest.raises(ConfigError, match="both smooth"):
        PerturbConfig(resample="bilinear", noise_correlation=0.1)
