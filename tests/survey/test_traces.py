"""Resampling traces: each band's rotation read from the moiré its interpolation left in the noise."""

from __future__ import annotations

import numpy as np
from tests.survey.tiny import structured_object

from brahmasifier.pixels import fill_mask
from brahmasifier.survey.checks import pixel_checks
from brahmasifier.survey.registration import estimate_band_angles
from brahmasifier.survey.traces import MIN_TURN, Traces, refined_angles, trace_angles, with_traces
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def _wrap(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x) + 45.0) % 90.0 - 45.0


def _turned(n: int, seed: int, order: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` tiny objects, each band turned by its own angle (a common one plus U(−30°, 30°)), cut to the circle."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0.0, 360.0, (n, 1)) + rng.uniform(-30.0, 30.0, (n, 5))
    images = np.stack([rotate_bands(structured_object(rng), a, order=order) for a in angles])
    images[:, :, footprint_outside(41)] = 0.0
    return images, angles


def test_bilinear_turns_are_read_mod_90_from_the_noise() -> None:
    images, angles = _turned(6, 1)
    found = trace_angles(images, fill_mask(images))
    readable = np.abs(_wrap(angles)) >= MIN_TURN + 1.0
    assert found.reliable[readable].mean() > 0.8
    error = np.abs(_wrap(found.angle - angles))[found.reliable]
    assert error.max() < 0.5


def test_an_objects_traces_do_not_depend_on_its_batch() -> None:
    images, _ = _turned(5, 8)
    together = trace_angles(images, fill_mask(images))
    for i in (0, 3):
        alone = trace_angles(images[i:i + 1], fill_mask(images[i:i + 1]))
        assert np.array_equal(alone.angle[0], together.angle[i]) and np.array_equal(alone.reliable[0], together.reliable[i])


def test_unturned_bands_leave_no_trace() -> None:
    rng = np.random.default_rng(2)
    images = np.stack([structured_object(rng) for _ in range(8)])
    assert not trace_angles(images).reliable.any()
    assert trace_angles(images[:0]).angle.shape == (0, 5)


def test_invalid_pixels_are_left_out() -> None:
    images, angles = _turned(3, 3)
    holed = images.copy()
    holed[:, 1, 5:12, 14:20] = np.nan  # a masked disc in one band
    found = trace_angles(holed, fill_mask(holed))
    assert np.isfinite(found.angle).all()
    good = found.reliable
    assert np.abs(_wrap(found.angle - angles))[good].max() < 0.5


def test_refined_angles_take_the_branch_the_image_estimate_says() -> None:
    """Traces know each band mod 90°; a band 60° from the others needs the image estimate's word on which branch."""
    truth = np.array([[0.0, 10.0, -20.0, 60.0, 5.0]])
    image = truth + np.array([[1.5, -3.0, 2.0, 4.0, -6.0]])  # a few degrees off, as colour structure leaves it
    image = image - np.median(image)
    common = 17.3
    traces = Traces(_wrap(truth + common), np.ones_like(truth, dtype=bool))
    refined = refined_angles(image, traces)
    expected = truth - np.median(truth)
    assert np.allclose(refined, expected, atol=1e-6)


def test_refined_angles_keep_unreliable_bands_and_too_few_reliable_ones() -> None:
    image = np.array([[0.0, 4.0, -3.0, 12.0, -1.0], [0.0, 4.0, -3.0, 12.0, -1.0]])
    traces = Traces(np.array([[20.0, 25.0, 17.0, 33.0, 19.5], [20.0, 25.0, 17.0, 33.0, 19.5]]),
                    np.array([[True, True, True, False, True], [True, False, False, False, False]]))
    refined = refined_angles(image, traces)
    assert np.allclose(refined[1], image[1])  # one reliable band: nothing to compare
    # the unreliable band keeps its image angle (in the traces' frame: the agreeing bands' mean offset, 20.375°)
    assert abs(refined[0, 3] - refined[0, 0] - 12.375) < 1e-3
    assert np.allclose(refined[0, [1, 2, 4]] - refined[0, 0], [5.0, -3.0, -0.5])


def test_faint_objects_with_meaningless_image_angles_take_the_traces_alone() -> None:
    truth = np.array([[0.0, 10.0, -20.0, 25.0, 5.0]])
    image = np.array([[120.0, -80.0, 33.0, -120.0, 10.0]])  # a round, faint object: its image angles say nothing
    refined = refined_angles(image, Traces(_wrap(truth - 31.0), np.ones_like(truth, dtype=bool)))
    assert np.allclose(refined, truth - np.median(truth), atol=1e-6)


def test_with_traces_refines_only_the_objects_to_repair_and_keeps_the_flags() -> None:
    images, angles = _turned(4, 4)
    rng = np.random.default_rng(5)
    clean = np.stack([structured_object(rng) for _ in range(2)])
    batch = np.concatenate([images, clean])
    estimate = estimate_band_angles(batch, fill_mask(batch))
    refined = with_traces(estimate, batch, fill_mask(batch))
    assert (refined.misregistered == estimate.misregistered).all()
    untouched = ~estimate.band_flags.any(axis=1)
    assert (refined.angles[untouched] == estimate.angles[untouched]).all()
    flagged = np.flatnonzero(estimate.band_flags[:4].any(axis=1))
    assert flagged.size >= 3
    reliable = trace_angles(images, fill_mask(images)).reliable
    for i in flagged:  # between two reliable bands the traces' angles are right to a fraction of a degree
        j = np.flatnonzero(reliable[i])
        truth = np.subtract.outer(angles[i, j], angles[i, j])
        before = np.abs(np.subtract.outer(estimate.angles[i, j], estimate.angles[i, j]) - truth).max()
        after = np.abs(np.subtract.outer(refined.angles[i, j], refined.angles[i, j]) - truth).max()
        assert after < 1.0 and after < before


def test_predict_checks_repair_with_the_traces_angles() -> None:
    images, angles = _turned(3, 6)
    _, columns = pixel_checks(images, np.zeros(3, np.int32), register=True)
    found = np.stack([columns[f"band_angle_{b}"] for b in "grizy"], axis=1)
    assert columns["misregistered"].all()
    reliable = trace_angles(images, fill_mask(images)).reliable
    for i in range(3):
        j = np.flatnonzero(reliable[i])
        error = np.subtract.outer(found[i, j], found[i, j]) - np.subtract.outer(angles[i, j], angles[i, j])
        assert j.size >= 3 and np.abs(error).max() < 1.0
