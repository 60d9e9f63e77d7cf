"""Band registration: a known rotation between bands is found, clean objects are not flagged, the repair restores the bands."""

from __future__ import annotations

import numpy as np
import pytest
from tests.survey.tiny import structured_object

from brahmasifier.bands import band_groups
from brahmasifier.pixels import zeroed_bad_mask
from brahmasifier.survey.checks import PIXEL_COLUMNS, pixel_checks
from brahmasifier.survey.registration import (
    GROUP_MIN_SCORE,
    estimate_band_angles,
    estimate_grouped_and_alone,
)
from brahmasifier.survey.repair import register_bands
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def _objects(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([structured_object(rng) for _ in range(n)])


def test_known_rotation_of_one_band_is_found() -> None:
    clean = _objects(6, 1)
    rotated = np.stack([rotate_bands(im, np.array([25.0, 0, 0, 0, 0])) for im in clean])
    found = estimate_band_angles(rotated)
    assert found.misregistered.all()
    assert np.median(found.angles[:, 0]) == pytest.approx(25.0, abs=3.0)
    assert np.all(np.abs(found.angles[:, 1:]) < 3.0)
    assert not estimate_band_angles(clean).misregistered.any()


def test_two_groups_like_the_blind_set() -> None:
    clean = _objects(4, 2)
    angles = np.array([-20.0, 0.0, 0.0, 0.0, -20.0])  # g and y one way, r, i, z another
    found = estimate_band_angles(np.stack([rotate_bands(im, angles) for im in clean]))
    assert found.misregistered.all()
    assert np.all(np.abs(found.angles[:, [0, 4]] + 20.0) < 4.0)


def test_known_groups_share_one_angle_against_the_largest() -> None:
    """``groups``: g and y turned together are measured as one, r, i, z (the largest group) define 0."""
    clean = _objects(6, 2)
    angles = np.array([12.0, 0.0, 0.0, 0.0, 12.0])
    groups = ((0, 4), (1, 2, 3))
    found = estimate_band_angles(np.stack([rotate_bands(im, angles) for im in clean]), groups=groups)
    assert found.misregistered.all() and np.array_equal(found.misregistered, found.object_score >= GROUP_MIN_SCORE)
    assert np.array_equal(found.angles[:, 0], found.angles[:, 4]) and not found.angles[:, 1:4].any()
    assert np.all(np.abs(found.angles[:, 0] - 12.0) < 1.5)
    assert np.array_equal(found.band_flags, np.abs(found.angles) >= 1.0)
    assert not estimate_band_angles(clean, groups=groups).misregistered.any()
    with pytest.raises(ValueError, match="every one of the 5 bands exactly once"):
        estimate_band_angles(clean, groups=((0, 4), (1, 2)))


def test_grouped_and_alone_from_one_grid_are_the_two_estimates() -> None:
    """One polar grid for both (``--band-groups auto``'s fallback): the same numbers as two calls, holes included."""
    clean = _objects(5, 3)
    turned = np.stack([rotate_bands(im, np.array([a, 0.0, b, 0.0, a])) for im, a, b in
                       zip(clean, (15.0, -20.0, 0.0, 25.0, 8.0), (0.0, 10.0, 0.0, -15.0, 0.0), strict=True)])
    turned[1, 2, 5:9, 20:24] = np.nan  # a hole in one band
    groups = ((0, 4), (1, 2, 3))
    grouped, alone = estimate_grouped_and_alone(turned, None, groups)
    for got, want in ((grouped, estimate_band_angles(turned, groups=groups)), (alone, estimate_band_angles(turned))):
        for name in ("angles", "gain", "peak", "score", "object_score", "misregistered", "band_flags"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert alone.evidence is not None and grouped.evidence is None  # five bands alone: the detector flags
    empty = estimate_grouped_and_alone(turned[:0], None, groups)
    assert empty[0].angles.shape == empty[1].angles.shape == (0, 5)


def test_a_hole_common_to_every_band_does_not_hold_turned_bands_in_place() -> None:
    """Samples touching a hole are 0 after the ring mean: its edge, alike in every band, no longer pulls towards 0°.

    (With the hole at the level, as before, the turned bands read 2.5° short on average here.)
    """
    rng = np.random.default_rng(11)
    clean = np.stack([structured_object(rng) for _ in range(12)])
    turned = np.stack([rotate_bands(im, np.array([12.0, 0, 0, 0, 12.0])) for im in clean])
    xx = np.arange(41)[None, :].repeat(41, axis=0)
    invalid = np.zeros(turned.shape, dtype=bool)
    invalid[:, :, (xx >= 24) & (xx < 28)] = True  # a strip through every band
    found = estimate_band_angles(np.where(invalid, 0.0, turned), invalid)
    assert found.misregistered.all()
    assert np.abs(found.angles[:, [0, 4]] - 12.0).mean() < 2.0
    assert not estimate_band_angles(np.where(invalid, 0.0, clean), invalid).misregistered.any()


def test_a_gap_through_the_centre_of_every_band_is_filled_before_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chip gap on the same pixels of every band, through the core: filled from each band's neighbours, the turn is read.

    Left out instead (the fill disabled), the turned bands read ~4° short here.
    """
    import brahmasifier.survey.polar as polar

    rng = np.random.default_rng(11)
    clean = np.stack([structured_object(rng) for _ in range(12)])
    turned = np.stack([rotate_bands(im, np.array([15.0, 0, 0, 0, 15.0])) for im in clean])
    xx = np.arange(41)[None, :].repeat(41, axis=0)
    invalid = np.zeros(turned.shape, dtype=bool)
    invalid[:, :, (xx >= 19) & (xx < 22)] = True  # a 3-pixel gap through the centre of every band
    found = estimate_band_angles(np.where(invalid, 0.0, turned), invalid)
    assert found.misregistered.all()
    assert np.abs(found.angles[:, [0, 4]] - 15.0).mean() < 1.5
    assert not estimate_band_angles(np.where(invalid, 0.0, clean), invalid).misregistered.any()
    edge = np.zeros(turned.shape, dtype=bool)
    edge[:, :, (xx >= 33) & (xx < 37)] = True  # a shared strip farther than HOLE_RADIUS from the centre: left out
    at_edge = estimate_band_angles(np.where(edge, 0.0, turned), edge)
    monkeypatch.setattr(polar, "HOLE_MIN_WEIGHT", 2.0)  # nothing reaches it: no pixel filled
    assert np.abs(estimate_band_angles(np.where(invalid, 0.0, turned), invalid).angles[:, [0, 4]] - 15.0).mean() > 3.0
    np.testing.assert_array_equal(estimate_band_angles(np.where(edge, 0.0, turned), edge).angles, at_edge.angles)
    monkeypatch.setattr(polar, "HOLE_MIN_WEIGHT", 0.05)
    monkeypatch.setattr(polar, "HOLE_RADIUS", 20.5)  # the strip comes within it: filled, other numbers
    assert not np.array_equal(estimate_band_angles(np.where(edge, 0.0, turned), edge).angles, at_edge.angles)


def test_the_shared_hole_fill_is_astropys_interpolation() -> None:
    """:func:`fill_shared_holes` equals ``interpolate_replace_nans`` with a Gaussian kernel (σ 1, 3σ), band by band."""
    from astropy.convolution import Gaussian2DKernel, interpolate_replace_nans

    from brahmasifier.survey.polar import HOLE_SIGMA, fill_shared_holes

    images = _objects(2, 14)
    bad = np.zeros(images.shape, dtype=bool)
    bad[0, :, 15:18, 10:30] = True  # shared by every band of object 0
    bad[0, 2, 25:28, 25:28] = True  # one band's own hole: left alone
    bad[1, 3, 20:23, 20:23] = True  # object 1 has no shared hole
    filled, still = fill_shared_holes(images, bad, np.ones((41, 41), dtype=bool))
    assert np.array_equal(still[0], bad[0] & ~bad[0].all(axis=0)) and np.array_equal(still[1], bad[1])
    assert np.array_equal(filled[1], images[1]) and np.array_equal(filled[0][~bad[0]], images[0][~bad[0]])
    size = 2 * int(3 * HOLE_SIGMA) + 1
    kernel = Gaussian2DKernel(x_stddev=HOLE_SIGMA, x_size=size, y_size=size)
    for band in range(5):
        expected = interpolate_replace_nans(np.where(bad[0, band], np.nan, images[0, band]).astype(np.float64), kernel)
        hole = bad[0].all(axis=0)
        np.testing.assert_allclose(filled[0, band][hole], expected[hole], rtol=1e-4, atol=1e-4 * np.abs(images[0]).max())


def test_band_group_specs() -> None:
    assert band_groups("gy,riz") == ((0, 4), (1, 2, 3)) and band_groups("grizy") == ((0, 1, 2, 3, 4),)
    for bad in ("gy,ri", "gyy,riz", "gy,,riz", "gx,riz"):
        with pytest.raises(ValueError, match=f"band groups '{bad}'"):
            band_groups(bad)


def test_repair_brings_the_band_back() -> None:
    clean = _objects(3, 3)
    rotated = np.stack([rotate_bands(im, np.array([0, 0, 0, 30.0, 0])) for im in clean])
    repaired = register_bands(rotated, estimate_band_angles(rotated))
    inner = ~footprint_outside(41, 15.0)
    before = np.abs(rotated[:, 3][:, inner] - clean[:, 3][:, inner]).mean()
    after = np.nanmean(np.abs(repaired[:, 3][:, inner] - clean[:, 3][:, inner]))
    assert after < 0.4 * before


def test_the_batched_repair_is_scipys_rotation_with_another_cubic() -> None:
    """One grid_sample call turns bands like ``scipy.ndimage.rotate`` (sense, centre, coverage), Keys' cubic for its spline."""
    from scipy import ndimage

    from brahmasifier.survey.registration import BandAngles

    yy, xx = np.mgrid[:41, :41] - 20.0
    smooth = 100.0 * np.exp(-0.5 * ((yy - 3.0) ** 2 / 9.0 + (xx - 8.0) ** 2 / 4.0)) + 5.0  # off-centre, elongated
    images = np.repeat(smooth[None, None], 5, axis=1).repeat(3, axis=0).astype(np.float32)
    images[1, 2, 30:34, 5:9] = np.nan  # a hole in one band
    angles = np.array([[0.0, 30.0, 0.0, -12.0, 0.0], [0.0, 0.0, 47.0, 0.0, 0.0], [0.0] * 5])
    turned = BandAngles(angles, np.ones_like(angles), min_angle=0.0, min_score=0.0, peak=np.ones_like(angles))
    repaired = register_bands(images, turned)
    for obj, band in zip(*np.nonzero(turned.band_flags), strict=True):
        plane = np.nan_to_num(images[obj, band], nan=5.0).astype(np.float64)
        expected = ndimage.rotate(plane, -angles[obj, band], reshape=False, order=3, mode="constant", cval=5.0)
        covered = ndimage.rotate(np.isfinite(images[obj, band]).astype(float), -angles[obj, band], reshape=False, order=1)
        got = repaired[obj, band]
        assert np.array_equal(np.isnan(got), covered < 0.999)  # uncovered or touching the hole: invalid
        assert np.nanmax(np.abs(got - expected)) < 0.03 * smooth.max()
    assert np.array_equal(repaired[2], images[2]) and not turned.band_flags[2].any()  # nothing to turn: untouched


def test_pixel_checks_columns_and_nan_fills() -> None:
    images = _objects(2, 4)
    images[1][:, footprint_outside(41)] = 0.0
    out, columns = pixel_checks(images, np.zeros(2, np.int32))
    assert set(columns) == set(PIXEL_COLUMNS)
    assert columns["masked_fraction"][0] == 0.0
    assert columns["masked_fraction"][1] == pytest.approx(footprint_outside(41).mean())
    assert np.isnan(out[1][:, footprint_outside(41)]).all() and not np.isnan(out[0]).any()
    assert np.array_equal(columns["misregistered"], [0, 0])


def test_a_small_rotation_of_one_band_is_flagged_and_measured() -> None:
    """10° on one band (the issue's smallest span): the score is a fraction of the correlation left to gain, so it is found."""
    clean = _objects(8, 5)
    rotated = np.stack([rotate_bands(im, np.array([0, 0, 10.0, 0, 0])) for im in clean])
    found = estimate_band_angles(rotated)
    assert found.misregistered.all() and not estimate_band_angles(clean).misregistered.any()
    assert np.all(np.abs(found.angles[:, 2] - 10.0) < 1.0)
    assert np.all(found.band_flags[:, 2]) and not found.band_flags[:, [0, 1, 3, 4]].any()


def _with_zeroed_discs(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A NaN disc in one band per object, as the readers return it: set to 0 and counted in ``n_nan``."""
    yy, xx = np.mgrid[:41, :41] - 20.0
    disc = np.hypot(yy - 5.0, xx - 6.0) <= 4.0
    out = images.copy()
    for k in range(len(out)):
        out[k, k % out.shape[1]][disc] = 0.0
    return out, np.full(len(out), int(disc.sum()))


def test_the_readers_zeroed_nan_discs_are_invalid_and_a_masked_clean_object_is_not_flagged() -> None:
    clean = _objects(8, 6)
    masked, n_nan = _with_zeroed_discs(clean)
    zeroed = zeroed_bad_mask(masked, n_nan)
    assert np.array_equal(zeroed, masked == 0.0) and zeroed.reshape(8, -1).sum(axis=1).tolist() == n_nan.tolist()
    assert not zeroed_bad_mask(masked, np.zeros(8, int)).any()  # no bad pixels counted: nothing to find
    out, columns = pixel_checks(masked, n_nan)
    assert not columns["misregistered"].any()
    # and the model gets them as NaN (invalid: a valid_only model ignores them) — not as a disc of zero flux
    assert np.array_equal(np.isnan(out), zeroed) and np.array_equal(out[~zeroed], masked[~zeroed])
    same, _ = pixel_checks(masked, np.zeros(8, int))  # no bad pixels counted: the zeros are data
    assert not np.isnan(same).any()


def test_a_known_rotation_is_detected_in_a_masked_object() -> None:
    clean = _objects(8, 6)
    rotated = np.stack([rotate_bands(im, np.array([0.0, 15.0, 0.0, 0.0, -10.0])) for im in clean])
    masked, n_nan = _with_zeroed_discs(rotated)
    _, columns = pixel_checks(masked, n_nan)
    assert columns["misregistered"].all()
    assert np.all(np.abs(columns["band_angle_r"] - 15.0) < 4.0) and np.all(np.abs(columns["band_angle_y"] + 10.0) < 4.0)


def test_the_dft_matrices_are_numpys_fft() -> None:
    from brahmasifier.survey.polar import dft_matrices as _dft_matrices

    rng = np.random.default_rng(4)
    for n in (90, 91):
        forward, inverse = _dft_matrices(n)
        x = rng.normal(size=(3, 7, n)).astype(np.float32)
        spectrum = (x @ forward).view(np.complex64)
        np.testing.assert_allclose(spectrum, np.fft.rfft(x), atol=2e-4)
        back = np.ascontiguousarray(np.fft.rfft(x).astype(np.complex64)).view(np.float32) @ inverse
        np.testing.assert_allclose(back, np.fft.irfft(np.fft.rfft(x), n=n), atol=2e-5)


def test_the_turn_grid_is_torchs_affine_grid() -> None:
    """The float32 grid of the repair equals ``affine_grid``'s float64 rotation."""
    import torch
    import torch.nn.functional as F

    from brahmasifier.survey.repair import _turn_grid

    theta = np.random.default_rng(5).uniform(-np.pi, np.pi, 6)
    c, s = torch.cos(torch.from_numpy(theta)), torch.sin(torch.from_numpy(theta))
    zero = torch.zeros_like(c)
    expected = F.affine_grid(torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1),
                             [6, 1, 41, 41], align_corners=True).numpy()
    np.testing.assert_allclose(_turn_grid(theta, 41, 41), expected, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 561, 560])
def test_median_is_numpys(n: int) -> None:
    from brahmasifier.survey.polar import median as _median

    x = np.random.default_rng(n).normal(size=(4, 5, n)).astype(np.float32)
    np.testing.assert_array_equal(_median(x), np.median(x, axis=-1, keepdims=True))


def _direct_estimate(images: np.ndarray, invalid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The estimate written out the long way (np.fft along the angle, each round's reference built over every radius)."""
    from brahmasifier.survey import polar as grid
    from brahmasifier.survey import registration as reg

    k, nb, h, w = images.shape
    support, matrix = grid.polar_support(h, reg.STEP, tuple(reg.RADII))  # the pixels the polar grid reads
    flat = images.reshape(k, nb, h * w)[..., support].astype(np.float64)
    bad = ~np.isfinite(flat) | invalid.reshape(k, nb, h * w)[..., support]
    med, sigma = grid.level_and_noise(flat, bad)
    centred = np.where(bad, 0.0, flat - med)
    n_phi = round(360.0 / reg.STEP)
    polar = np.asarray(centred.reshape(k * nb, -1) @ matrix.astype(np.float64))
    polar = np.arcsinh(polar.reshape(k, nb, len(reg.RADII), n_phi) / (reg.ASINH_NOISE * sigma[..., None]))
    # a band's polar sample touching one of its invalid pixels: 0, after each ring's mean over its valid samples
    touched = np.asarray(bad.reshape(k * nb, -1).astype(np.float64) @ matrix.astype(np.float64))
    valid = (touched == 0).reshape(k, nb, len(reg.RADII), n_phi)
    ring_mean = (polar * valid).sum(axis=3, keepdims=True) / np.maximum(valid.sum(axis=3, keepdims=True), 1)
    polar = np.where(valid, polar - ring_mean, 0.0)
    spectra = np.fft.rfft(polar, axis=3)
    waves = np.arange(spectra.shape[-1])
    power = (polar**2).sum(axis=(2, 3))
    shift = np.zeros((k, nb))
    for _ in range(reg.ITERATIONS):
        aligned = spectra * np.exp(2j * np.pi / n_phi * waves * shift[..., None, None])
        reference = aligned.sum(axis=1, keepdims=True) - aligned
        corr = np.fft.irfft((spectra * np.conj(reference)).sum(axis=2), n=n_phi, axis=2)
        ref_power = (np.abs(reference) ** 2 * grid.rfft_weights(n_phi)).sum(axis=(2, 3)) / n_phi
        rho = corr / (np.sqrt(power * ref_power)[..., None] + 1e-12)
        best = rho.argmax(axis=2)
        left, mid, right = (np.take_along_axis(rho, ((best + d) % n_phi)[..., None], axis=2)[..., 0] for d in (-1, 0, 1))
        denom = left - 2 * mid + right
        refine = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
        found = (best + np.clip(refine, -0.5, 0.5) + n_phi / 2) % n_phi - n_phi / 2
        shift = (found - np.median(found, axis=1, keepdims=True) + n_phi / 2) % n_phi - n_phi / 2
    return -shift * reg.STEP, mid - rho[..., 0]


def test_the_cross_spectral_rounds_give_the_direct_estimate() -> None:
    """The shipped estimate (cross-spectra summed over radii once, DFT by matmul, float32) is the direct one."""
    rng = np.random.default_rng(5)
    clean = _objects(8, 5)
    turned = np.stack([rotate_bands(im, rng.uniform(-30, 30, size=5)) for im in clean])
    images = np.concatenate([clean, turned])
    invalid = np.zeros(images.shape, dtype=bool)
    invalid[::3, :, footprint_outside(images.shape[-1])] = True  # some with filled corners
    invalid[1, 2, 10:14, 12:30] = True  # a hole in one band
    angles, gain = _direct_estimate(images, invalid)
    shipped = estimate_band_angles(images, invalid)
    np.testing.assert_allclose(shipped.angles, angles, atol=0.01)
    np.testing.assert_allclose(shipped.gain, gain, atol=1e-4)
    assert shipped.misregistered[8:].sum() >= 6 and not shipped.misregistered[:8].any()


def _faint_with_neighbours(rng: np.random.Generator, angles: np.ndarray) -> np.ndarray:
    """A faint galaxy and two bright compact neighbours (12 and 20 px out), each band turned by its angle, cut to the circle."""
    from scipy import ndimage

    yy, xx = np.mgrid[:41, :41] - 20.0
    light = sum(f * np.exp(-0.5 * ((yy - y0) ** 2 + (xx - x0) ** 2) / w**2)
                for y0, x0, w, f in ((0, 0, 2.5, 3.0), (-15, -14, 1.5, 40.0), (-5, 12, 1.5, 30.0)))
    out = np.stack([ndimage.rotate(light, a, reshape=False, order=1) + rng.normal(0, 1, (41, 41)) for a in angles])
    out[:, footprint_outside(41)] = 0.0
    return out.astype(np.float32)


def test_bands_turned_alike_do_not_lock_onto_each_other() -> None:
    """Bands r and i turned alike against g and z: from 0 the rounds stop with r, i ~46° off in most noise draws.

    The second start (every band first aligned to the brightest, ``survey.alignment``) finds the turns.
    """
    from brahmasifier.survey import alignment

    rng = np.random.default_rng(0)
    angles = np.array([-27.1, 25.6, 23.5, -22.0, 0.0])
    images = np.stack([_faint_with_neighbours(rng, angles) for _ in range(12)])
    found = estimate_band_angles(images)
    np.testing.assert_allclose(found.angles, np.broadcast_to(angles, found.angles.shape), atol=2.0)
    assert found.misregistered.all()
    floor = alignment.SECOND_FLOOR
    try:  # the first start alone: most draws end far from the truth
        alignment.SECOND_FLOOR = np.inf
        first = estimate_band_angles(images)
    finally:
        alignment.SECOND_FLOOR = floor
    assert (np.abs(first.angles - angles).max(axis=1) > 20).sum() >= 4


def test_filled_corners_never_reach_the_estimate_and_batches_do_not_mix() -> None:
    """The estimate reads the pixels of its polar grid alone (r < 20.5 px), each object on its own.

    A rotated footprint's corners (outside the inscribed circle), filled and marked invalid,
    leave every number of the estimate unchanged; and an object's numbers do not depend on
    whether another object in its batch has a hole (each band's level and noise come from its
    own valid pixels, whatever the rest of the batch holds).
    """
    rng = np.random.default_rng(12)
    images = np.concatenate([_objects(4, 12), np.stack([rotate_bands(im, rng.uniform(-30, 30, 5))
                                                        for im in _objects(4, 13)])])
    plain = estimate_band_angles(images)
    cut = images.copy()
    corners = np.zeros(images.shape, dtype=bool)
    corners[..., footprint_outside(41)] = True
    cut[corners] = -3.0
    filled = estimate_band_angles(cut, corners)
    np.testing.assert_array_equal(filled.angles, plain.angles)
    np.testing.assert_array_equal(filled.object_score, plain.object_score)
    holed = images.copy()
    holed[0, 2, 18:23, 18:23] = np.nan  # a hole inside the grid, in one object's band
    mixed = estimate_band_angles(holed)
    np.testing.assert_array_equal(mixed.angles[1:], plain.angles[1:])
    np.testing.assert_array_equal(mixed.object_score[1:], plain.object_score[1:])
    alone = estimate_band_angles(holed[:1])
    np.testing.assert_array_equal(mixed.angles[:1], alone.angles)


def test_one_blas_thread_limits_numpys_openblas_only_while_it_lasts() -> None:
    from threadpoolctl import ThreadpoolController

    from brahmasifier.survey.checks import one_blas_thread

    def threads() -> dict[str, int]:
        return {i["internal_api"]: i["num_threads"] for i in ThreadpoolController().info()}

    before = threads()
    with one_blas_thread():
        inside = threads()
    assert threads() == before
    if "openblas" in before:  # numpy's wheels bundle OpenBLAS; another BLAS is left alone
        assert inside["openblas"] == 1
    assert {k: v for k, v in inside.items() if k != "openblas"} == {k: v for k, v in before.items() if k != "openblas"}
