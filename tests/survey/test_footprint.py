"""Footprint angles: each band's rotation read from its filled corners; flags, repair angles, what must not flag."""

from __future__ import annotations

import numpy as np
import pytest
from tests.survey.tiny import structured_object

from brahmasifier.pixels import fill_mask
from brahmasifier.survey.checks import pixel_checks
from brahmasifier.survey.footprint import footprint_angles, relative_footprint_angles, with_footprint
from brahmasifier.survey.registration import estimate_band_angles
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def _objects(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([structured_object(rng) for _ in range(n)])


@pytest.mark.parametrize("order", [1, 3])
def test_each_bands_angle_is_read_from_its_corners(order: int) -> None:
    """Bilinear (the templates' kernel) and bicubic rotations: within 1.5° of the truth, mod 90° (typically 0.1–0.5°)."""
    rng = np.random.default_rng(5)
    truth = rng.uniform(-40.0, 40.0, (6, 5))
    truth[0] = [3.0, -7.5, 12.25, 30.0, -44.0]
    images = np.stack([rotate_bands(im, a, order=order) for im, a in zip(_objects(6, 6), truth, strict=True)])
    found = footprint_angles(fill_mask(images))
    error = (found - truth + 45.0) % 90.0 - 45.0
    assert np.abs(error).max() < 1.5 and np.median(np.abs(error)) < 0.5


def test_aligned_clean_and_circle_cut_objects_have_no_spread() -> None:
    images = _objects(3, 7)
    aligned = np.stack([rotate_bands(im, np.full(5, 23.0)) for im in images])
    circle = images.copy()
    circle[:, :, footprint_outside(41)] = 0.0  # corners cut to the inscribed circle: no angle to read
    for batch, expected in ((images, 0.0), (aligned, 23.0)):
        found = footprint_angles(fill_mask(batch))
        assert np.allclose(found, expected, atol=1.0) and np.ptp(found, axis=1).max() == 0.0
    assert np.isfinite(footprint_angles(fill_mask(circle))).all()
    assert np.ptp(footprint_angles(fill_mask(circle)), axis=1).max() == 0.0


def test_a_strip_is_not_a_rotated_footprint() -> None:
    images = _objects(2, 8)
    images[:, 2, :, :6] = 0.0  # one band's left strip, filled
    found = footprint_angles(fill_mask(images))
    assert np.isnan(found[:, 2]).all() and (found[:, [0, 1, 3, 4]] == 0.0).all()
    assert not with_footprint(estimate_band_angles(images), found).footprint_flag.any()


def test_relative_angles_wrap_mod_90() -> None:
    rel = relative_footprint_angles(np.array([[44.0, -44.0, 44.5, np.nan, 43.0]]))
    assert np.allclose(rel[0, [0, 1, 2, 4]], [0.0, 2.0, 0.5, -1.0]) and np.isnan(rel[0, 3])


def test_bands_rotated_apart_are_flagged_with_the_footprint_angles_and_repaired() -> None:
    """A faint object (no angle in its light) rotated like the blind set's two groups: found from the corners alone."""
    rng = np.random.default_rng(9)
    faint = rng.normal(0.0, 1.0, (4, 5, 41, 41)).astype(np.float32)  # noise only: the image estimate has nothing
    angles = np.array([-12.0, 0.0, 0.0, 0.0, -12.0])
    rotated = np.stack([rotate_bands(im, angles + 17.0) for im in faint])
    out, columns = pixel_checks(rotated, np.zeros(4, np.int32), register=True)
    assert np.array_equal(columns["misregistered"], [1, 1, 1, 1])
    assert np.allclose(columns["band_angle_g"], -12.0, atol=1.0) and np.allclose(columns["band_angle_r"], 0.0, atol=1.0)
    assert np.isnan(out[:, 0]).sum() > np.isnan(rotated[:, 0]).sum()  # g turned back: the corners it uncovers are NaN
