"""The invalid-pixel rule (``brahmasifier/pixels.py``): constant-filled border regions and bad pixels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from brahmasifier.pixels import FILL_MIN_PIXELS, fill_mask, invalid_mask, masked_fraction


def _noise(rng: np.random.Generator, shape: tuple[int, ...] = (5, 41, 41)) -> np.ndarray:
    return rng.normal(0.0, 1.0, shape).astype(np.float32)


def test_clean_noise_has_no_fill() -> None:
    rng = np.random.default_rng(11)
    images = _noise(rng, (200, 5, 41, 41))
    assert not fill_mask(images).any()


def test_rotated_footprint_corners_are_found_exactly() -> None:
    rng = np.random.default_rng(12)
    image = _noise(rng)
    yy, xx = np.mgrid[:41, :41] - 20.0
    outside = np.hypot(yy, xx) > 20.5
    image[:, outside] = 0.0
    mask = fill_mask(image)
    assert np.array_equal(mask, np.broadcast_to(outside, mask.shape))
    assert masked_fraction(mask)[0] == pytest.approx(outside.mean())


def test_rotated_by_ndimage_with_constant_cval() -> None:
    rng = np.random.default_rng(13)
    image = _noise(rng)[0]
    rotated = ndimage.rotate(image, 33.0, reshape=False, order=1, mode="constant", cval=-7.0)
    mask = fill_mask(rotated)
    assert mask.sum() > 200  # four corner triangles
    assert np.all(rotated[mask] == -7.0)
    assert not mask[20, 20]


def test_small_runs_and_interior_regions_are_not_fills() -> None:
    rng = np.random.default_rng(14)
    image = _noise(rng)[0]
    image[0, 3:3 + FILL_MIN_PIXELS - 1] = 5.0  # too short
    image[15:25, 15:25] = 0.0  # constant but does not touch the border
    assert not fill_mask(image).any()
    image[0, 3:3 + FILL_MIN_PIXELS] = 5.0
    assert fill_mask(image).sum() == FILL_MIN_PIXELS


def test_invalid_includes_bad_pixels() -> None:
    image = np.ones((1, 5, 41, 41), np.float32) + np.random.default_rng(15).normal(0, 1, (1, 5, 41, 41)).astype(np.float32)
    image[0, 2, 7, 9] = np.nan
    image[0, 3, 8, 9] = 1e30
    m = invalid_mask(image)
    assert m.sum() == 2 and m[0, 2, 7, 9] and m[0, 3, 8, 9]


def test_edge_strip_is_found() -> None:
    image = _noise(np.random.default_rng(16))
    image[1, :, :6] = 0.0  # a chip edge in r only
    m = fill_mask(image)
    assert m[1, :, :6].all() and m.sum() == 41 * 6


def test_distinct_planes_are_exact_even_when_hashes_collide() -> None:
    from brahmasifier.pixels import _distinct_planes

    rng = np.random.default_rng(7)
    base = rng.random((3, 41, 41)) < 0.3
    masks = base[[0, 1, 0, 2, 1, 0]]
    distinct, copies = _distinct_planes(masks)
    assert len(distinct) == 3
    np.testing.assert_array_equal(masks[distinct][copies], masks)
    # Two different planes with one 64-bit hash: word 0 + 1 and word 1 − m0 / m1 (mod 2^64).
    words = np.packbits(base[0].reshape(-1)).copy()
    w = np.zeros(216, np.uint8)
    w[:211] = words
    as_int = w.view(np.uint64).copy()
    m0, m1 = 0x9E3779B97F4A7C15, (3 * 0x9E3779B97F4A7C15) % 2**64  # the hash's first two multipliers
    inverse = pow(m1, -1, 2**64)
    as_int[0] = np.uint64((int(as_int[0]) + 1) % 2**64)
    as_int[1] = np.uint64((int(as_int[1]) - m0 * inverse) % 2**64)
    twin = np.unpackbits(as_int.view(np.uint8)[:211])[: 41 * 41].reshape(41, 41).astype(bool)
    assert not np.array_equal(twin, base[0])
    pair = np.stack([base[0], twin, base[0]])
    distinct, copies = _distinct_planes(pair)
    assert len(distinct) == 2
    np.testing.assert_array_equal(pair[distinct][copies], pair)
