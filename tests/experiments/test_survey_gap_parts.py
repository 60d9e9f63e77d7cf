"""experiments/survey_gap_parts.py: the gap split into lenses lost and non-lenses pushed over, on constructed scores."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
from tests.experiment_scripts import load_script

from brahmasifier.binary_metrics import RankedScores, tpr_at_false_positives


def _module() -> ModuleType:
    return load_script("survey_gap_parts")


def _tpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    tp, fp = RankedScores(scores, labels).counts()
    return tpr_at_false_positives(tp, fp, fpr * int((labels == 0).sum()))


def test_threshold_gives_binary_metrics_operating_point() -> None:
    module = _module()
    rng = np.random.default_rng(5)
    for n_neg in (100, 999, 1000, 3000):
        labels = np.r_[np.ones(400, dtype=int), np.zeros(n_neg, dtype=int)]
        scores = np.r_[rng.normal(2.0, 1.0, 400), rng.normal(0.0, 1.0, n_neg)]
        cut = module.threshold(scores[labels == 0], 1e-2)
        assert np.mean(scores[labels == 1] > cut) == _tpr(scores, labels, 1e-2)


def test_a_raised_non_lens_tail_is_the_whole_gap_and_lost_lenses_show_at_the_clean_threshold() -> None:
    module = _module()
    rng = np.random.default_rng(7)
    lens, neg = rng.normal(3.0, 1.5, 2000), rng.normal(0.0, 1.0, 2000)
    labels = np.r_[np.ones(2000, dtype=int), np.zeros(2000, dtype=int)]
    clean = np.r_[lens, neg]
    tail = neg.copy()
    tail[np.argsort(neg)[-100:-20]] += 2.0  # non-lenses just under the clean threshold pushed over it
    pushed = module.gap_parts(pd.DataFrame({"label": labels, "logit_clean": clean, "logit": np.r_[lens, tail]}))
    assert pushed["tpr_perturbed_at_clean_threshold"] == pushed["tpr_clean"]  # no lens lost
    assert pushed["tpr_perturbed"] < pushed["tpr_clean"] - 0.05
    assert pushed["negatives_over_clean_threshold_clean"] == 20
    assert pushed["negatives_over_clean_threshold_perturbed"] > 20
    assert pushed["tpr_perturbed"] == _tpr(np.r_[lens, tail], labels, 1e-2)
    lost = module.gap_parts(pd.DataFrame({"label": labels, "logit_clean": clean, "logit": np.r_[lens - 1.0, neg]}))
    assert lost["tpr_perturbed_at_clean_threshold"] == lost["tpr_perturbed"] < lost["tpr_clean"]
    assert lost["negatives_over_clean_threshold_perturbed"] == lost["negatives_over_clean_threshold_clean"]


def test_residual_spread_counts_only_the_bands_turned_back() -> None:
    module = _module()
    applied = np.array([[10.0, 0.0, 0.0, 0.0, -20.0], [10.0, 0.0, 0.0, 0.0, -20.0], [3.0, 0.0, 0.0, 0.0, 0.0]])
    estimated = np.array([[9.0, 0.0, 0.0, 0.0, -20.5], [9.0, 0.0, 0.0, 0.0, -20.5], [0.5, 0.0, 0.0, 0.0, 0.0]])
    table = pd.DataFrame({**{f"pert_angle_{b}": applied[:, j] for j, b in enumerate("grizy")},
                          **{f"band_angle_{b}": estimated[:, j] for j, b in enumerate("grizy")},
                          "bands_registered": [2, 0, 1]})
    spread = module.residual_spread(table)
    # repaired: 1° left in g, 0.5° in y (spread 1°); not repaired: the applied 30°; under the repair's 1°: not turned, 3° left
    np.testing.assert_allclose(spread, [1.0, 30.0, 3.0])
