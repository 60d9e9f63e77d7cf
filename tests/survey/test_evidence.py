"""The misregistration detector: the shipped file loads, its numpy network is PyTorch's, and it flags by its threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tests.survey.tiny import structured_object

from brahmasifier.survey.evidence import FEATURE_NAMES, N_FEATURES, Detector, detector, features
from brahmasifier.survey.registration import MIN_ANGLE, MIN_SCORE, estimate_band_angles
from brahmasifier.survey.transforms import rotate_bands


def test_the_numpy_network_is_the_torch_network_it_was_fitted_as() -> None:
    found = detector()
    a = found.arrays
    net = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, a["w0"].shape[1]), torch.nn.ReLU(),
                              torch.nn.Linear(a["w1"].shape[0], a["w1"].shape[1]), torch.nn.ReLU(),
                              torch.nn.Linear(a["w2"].shape[0], 1))
    with torch.no_grad():
        for j in range(3):
            net[2 * j].weight.copy_(torch.from_numpy(a[f"w{j}"].T))
            net[2 * j].bias.copy_(torch.from_numpy(a[f"b{j}"]))
        x = np.random.default_rng(0).normal(size=(64, N_FEATURES)).astype(np.float32) * a["scale"] + a["mean"]
        expected = net(torch.from_numpy((x - a["mean"]) / a["scale"]))[:, 0].numpy()
    np.testing.assert_allclose(found.logit(x), expected, rtol=1e-4, atol=1e-4)
    assert json.loads(found.metadata["features"]) == list(FEATURE_NAMES) and len(FEATURE_NAMES) == N_FEATURES
    assert "fit_registration_detector.py" in str(found.metadata["fitted_by"])


def test_the_detector_flags_turned_bands_and_leaves_aligned_ones() -> None:
    rng = np.random.default_rng(3)
    clean = np.stack([structured_object(rng) for _ in range(8)])
    turned = np.stack([rotate_bands(im, np.array([20.0, 0.0, -15.0, 0.0, 10.0])) for im in clean])
    for images, expect in ((clean, False), (turned, True)):
        found = estimate_band_angles(images)
        assert found.evidence is not None
        np.testing.assert_array_equal(found.misregistered, found.evidence >= detector().threshold)
        assert found.misregistered.all() if expect else not found.misregistered.any()
        assert np.array_equal(found.band_flags, found.misregistered[:, None] & (np.abs(found.angles) >= 1.0))
    rule = estimate_band_angles(turned, min_score=MIN_SCORE)  # an explicit threshold: the rule, no detector
    assert rule.evidence is None
    np.testing.assert_array_equal(rule.misregistered, rule.object_score >= MIN_SCORE)
    np.testing.assert_allclose(features(rule, MIN_ANGLE), features(estimate_band_angles(turned), MIN_ANGLE))


def test_other_band_counts_and_groups_keep_the_rule() -> None:
    rng = np.random.default_rng(4)
    four = np.stack([structured_object(rng)[:4] for _ in range(3)])
    assert estimate_band_angles(four).evidence is None
    five = np.stack([structured_object(rng) for _ in range(3)])
    assert estimate_band_angles(five, groups=((0, 4), (1, 2, 3))).evidence is None
    with pytest.raises(ValueError, match="reads 5 bands"):
        features(estimate_band_angles(four), MIN_ANGLE)


def test_a_file_without_its_arrays_is_refused() -> None:
    arrays = dict(detector().arrays)
    del arrays["w1"]
    with pytest.raises(ValueError, match=r"\['w1'\] missing"):
        Detector(arrays, {"threshold": "0"})
    arrays = dict(detector().arrays, mean=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="expects 22 features"):
        Detector(arrays, {"threshold": "0"})


def test_cutouts_of_noise_alone_are_seldom_flagged() -> None:
    """Nothing to register: fitted without faint negatives the network flagged 2.5-2.9% of these, with them 0.2%."""
    noise = np.random.default_rng(5).normal(0.0, 1.0, (1000, 5, 41, 41)).astype(np.float32)
    found = estimate_band_angles(noise)
    assert found.misregistered.mean() <= 0.01
    assert not estimate_band_angles(noise, min_score=MIN_SCORE).misregistered.any()  # the rule: none
