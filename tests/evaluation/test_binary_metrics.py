"""The shared metric definitions (brahmasifier.binary_metrics): against scikit-learn, and NaN where undefined."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

from brahmasifier._atomic import write_json_atomic
from brahmasifier.binary_metrics import threshold_metrics, validation_metrics
from brahmasifier.models import ModelCard


def test_validation_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(400) < 0.3).astype(int)
    logits = np.round(rng.normal(labels * 1.5, 1.0), 1)  # ties
    m = validation_metrics(logits, labels, threshold=0.6, temperature=2.0)
    called = 1.0 / (1.0 + np.exp(-logits / 2.0)) >= 0.6
    assert m["auc"] == pytest.approx(roc_auc_score(labels, logits), abs=1e-12)
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, called))
    assert m["precision"] == pytest.approx(precision_score(labels, called))
    assert m["recall"] == pytest.approx(recall_score(labels, called))


def test_ranking_uses_logits_not_saturated_probabilities() -> None:
    # float32 sigmoid is exactly 1.0 for all three positives and the negative: a tie there would cost AUC
    logits = np.array([40.0, 35.0, 30.0, 25.0, -1.0])
    labels = np.array([1, 1, 1, 0, 0])
    assert np.unique(1.0 / (1.0 + np.exp(-logits.astype(np.float32)))).size < 5
    assert validation_metrics(logits, labels)["auc"] == 1.0


def test_undefined_metrics_are_nan_not_zero() -> None:
    """The convention (shared by training, export and evaluation): undefined is NaN, written as null."""
    labels = np.array([1, 0, 1, 0])
    nothing_called = validation_metrics(np.full(4, -5.0), labels)
    assert math.isnan(nothing_called["precision"])  # no object called a lens: precision is undefined, not 0
    assert nothing_called["recall"] == 0.0 and nothing_called["accuracy"] == 0.5
    one_class = validation_metrics(np.array([1.0, 2.0]), np.array([0, 0]))
    assert math.isnan(one_class["auc"]) and math.isnan(one_class["recall"])
    assert all(math.isnan(v) for v in threshold_metrics(np.zeros(0, bool), np.zeros(0, bool)).values())


def test_undefined_values_are_written_as_json_null(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "m.json", {"val_precision": float("nan"), "n": np.int64(3), "x": [np.float32(0.5)]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"val_precision": None, "n": 3, "x": [0.5]}
    card = ModelCard(training={"val_precision": float("nan")})
    assert '"val_precision": null' in card.to_json()
    assert ModelCard.from_dict(json.loads(card.to_json())).training["val_precision"] is None


def _sklearn_youden(probs: np.ndarray, labels: np.ndarray) -> float:
    """How training chose its threshold before binary_metrics had the ROC (scikit-learn's roc_curve)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    fpr, tpr, thresholds = sk_roc_curve(labels, probs)
    best = int(np.argmax(np.where(np.isfinite(thresholds), tpr - fpr, -np.inf)))
    return float(np.clip(thresholds[best], 0.0, 1.0))


@pytest.mark.parametrize("seed", range(4))
def test_roc_curve_and_youden_threshold_match_sklearn(seed: int) -> None:
    from sklearn.metrics import roc_curve as sk_roc_curve

    from brahmasifier.binary_metrics import roc_curve, youden_threshold

    rng = np.random.default_rng(seed)
    labels = (rng.random(300) < 0.4).astype(int)
    scores = rng.normal(labels, 1.0).astype(np.float32)
    if seed % 2:
        scores = np.round(scores, 1)  # many ties
    probs = (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)
    for got, want in zip(roc_curve(probs, labels), sk_roc_curve(labels, probs, drop_intermediate=False), strict=True):
        np.testing.assert_array_equal(got, want.astype(np.float64))
    assert youden_threshold(probs, labels) == _sklearn_youden(probs, labels)
    with pytest.raises(ValueError, match="NaN"):
        youden_threshold(np.r_[probs[:-1], np.nan], labels)
