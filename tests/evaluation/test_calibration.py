"""Temperature scaling, ECE and reliability curves against known answers and torchmetrics/sklearn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brahmasifier.evaluation.calibration import expected_calibration_error, reliability_curve
from brahmasifier.models.temperature import T_MAX, T_MIN, apply_temperature, fit_temperature


def _calibrated_sample(rng: np.random.Generator, n: int, true_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z); logits reported as z * true_scale (i.e. T_true = true_scale)."""
    z = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    return z * true_scale, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 3.0])
def test_fit_temperature_recovers_known_temperature(true_t: float) -> None:
    rng = np.random.default_rng(0)
    logits, labels = _calibrated_sample(rng, 20000, true_t)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.06)


def test_fit_temperature_matches_torch_lbfgs() -> None:
    rng = np.random.default_rng(1)
    logits, labels = _calibrated_sample(rng, 3000, 2.0)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    z = torch.as_tensor(logits)
    y = torch.as_tensor(labels, dtype=torch.float64)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    assert fit_temperature(logits, labels) == pytest.approx(float(log_t.detach().exp()), rel=1e-4)


def test_fit_temperature_improves_nll_and_ece() -> None:
    rng = np.random.default_rng(2)
    logits, labels = _calibrated_sample(rng, 5000, 4.0)  # over-confident model
    t = fit_temperature(logits, labels)
    before = apply_temperature(logits, 1.0)
    after = apply_temperature(logits, t)
    assert expected_calibration_error(after, labels) < 0.5 * expected_calibration_error(before, labels)


def test_fit_temperature_separable_and_degenerate_inputs() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    logits = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    assert fit_temperature(logits, labels) == pytest.approx(T_MIN)
    # perfectly anti-correlated scores: the flattest allowed temperature is best
    assert fit_temperature(-logits, labels) == pytest.approx(T_MAX)
    assert fit_temperature(np.zeros(6), labels) == 1.0
    assert fit_temperature(logits, labels.astype(bool)) == pytest.approx(T_MIN)


@pytest.mark.parametrize(
    ("logits", "labels", "match"),
    [
        (np.array([]), np.array([]), "empty"),
        (np.array([1.0, 2.0]), np.array([1, 1]), "all 2 labels are lenses"),
        (np.array([1.0, 2.0]), np.array([0, 0]), "non-lenses"),
        (np.array([1.0, np.nan]), np.array([0, 1]), "NaN"),
        (np.array([1.0, 2.0]), np.array([0, -1]), "must be 0"),
        (np.array([1.0, 2.0]), np.array([0, 1, 1]), "3 entries"),
    ],
)
def test_fit_temperature_errors(logits: np.ndarray, labels: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_temperature(logits, labels)


def test_apply_temperature_is_stable() -> None:
    p = apply_temperature(np.array([-1000.0, 0.0, 1000.0]), 0.05)
    np.testing.assert_allclose(p, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(np.zeros(2), 0.0)


@pytest.mark.parametrize("n_bins", [5, 15])
def test_ece_matches_torchmetrics(n_bins: int) -> None:
    from torchmetrics.classification import BinaryCalibrationError

    rng = np.random.default_rng(3)
    probs = rng.beta(0.5, 2.0, 4000)
    labels = (rng.random(4000) < probs**0.7).astype(int)
    reference = BinaryCalibrationError(n_bins=n_bins, norm="l1")(torch.as_tensor(probs), torch.as_tensor(labels))
    assert expected_calibration_error(probs, labels, n_bins=n_bins) == pytest.approx(float(reference), abs=1e-9)


def test_reliability_curve_matches_sklearn_and_hand_case() -> None:
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(4)
    probs = rng.random(2000)
    labels = (rng.random(2000) < probs).astype(int)
    curve = reliability_curve(probs, labels, n_bins=10)
    prob_true, prob_pred = calibration_curve(labels, probs, n_bins=10, strategy="uniform")
    filled = curve.count > 0
    np.testing.assert_allclose(curve.accuracy[filled], prob_true)
    np.testing.assert_allclose(curve.confidence[filled], prob_pred)
    assert curve.count.sum() == 2000

    hand = reliability_curve(np.array([0.05, 0.15, 0.95, 1.0]), np.array([0, 1, 1, 1]), n_bins=2)
    np.testing.assert_array_equal(hand.count, [2, 2])
    np.testing.assert_allclose(hand.confidence, [0.1, 0.975])
    np.testing.assert_allclose(hand.accuracy, [0.5, 1.0])
    assert hand.ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.025)
    d = reliability_curve(np.array([0.1, 0.2]), np.array([0, 1]), n_bins=3).to_dict()
    assert d["count"] == [2, 0, 0] and d["confidence"][1] is None


def test_reliability_curve_quantile_and_errors() -> None:
    rng = np.random.default_rng(5)
    probs = rng.random(1000) ** 4
    curve = reliability_curve(probs, probs > 0.5, n_bins=10, strategy="quantile")
    assert curve.count.min() >= 90 and curve.count.sum() == 1000
    with pytest.raises(ValueError, match="within"):
        reliability_curve(np.array([1.5]), np.array([1]))
    with pytest.raises(ValueError, match="strategy"):
        reliability_curve(np.array([0.5]), np.array([1]), strategy="nope")
