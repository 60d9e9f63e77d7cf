"""Metrics against scikit-learn / torchmetrics, hand-built TPR0/TPR10 cases, ties, bad inputs, joins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from brahmasifier.binary_metrics import RankedScores, purity_at_prevalence
from brahmasifier.errors import EvaluationInputError
from brahmasifier.evaluation.bootstrap import (
    MetricSettings,
    _bootstrap_weights,
    _scalar_metrics,
    metrics_for_subset,
    paired_tpr_difference,
)
from brahmasifier.evaluation.completeness import completeness_by, jeffreys_interval, source_magnitude_column
from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
from brahmasifier.evaluation.metrics import compute_metrics
from brahmasifier.evaluation.tables import format_table
from brahmasifier.io.store import write_store


def _scores(seed: int, n: int = 2000, decimals: int | None = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.25).astype(int)
    logits = rng.normal(labels * 2.0, 1.0)
    if decimals is not None:  # coarse scores: many ties, the hard case
        logits = np.round(logits, decimals)
    return logits, 1.0 / (1.0 + np.exp(-logits)), labels


@pytest.mark.parametrize("decimals", [None, 1, 0])
def test_ranking_metrics_match_sklearn_and_torchmetrics(decimals: int | None) -> None:
    from torchmetrics.functional.classification import binary_auroc, binary_average_precision

    logits, probs, labels = _scores(0, decimals=decimals)
    m = _scalar_metrics(RankedScores(logits, labels, probs), MetricSettings())
    assert m["auc_roc"] == pytest.approx(roc_auc_score(labels, logits), abs=1e-12)
    assert m["average_precision"] == pytest.approx(average_precision_score(labels, logits), abs=1e-12)
    assert m["auc_roc"] == pytest.approx(float(binary_auroc(torch.as_tensor(probs), torch.as_tensor(labels))), abs=1e-6)
    ap_tm = float(binary_average_precision(torch.as_tensor(probs), torch.as_tensor(labels)))
    assert m["average_precision"] == pytest.approx(ap_tm, abs=1e-6)
    fpr, tpr, _ = roc_curve(labels, logits, drop_intermediate=False)
    for f in (1e-2, 1e-3, 1e-4):
        assert m[f"tpr_at_fpr_{f:.0e}"] == pytest.approx(tpr[fpr <= f].max())


def test_threshold_metrics_match_sklearn() -> None:
    logits, probs, labels = _scores(1, decimals=None)
    for threshold in (0.3, 0.5, 0.8):
        m = _scalar_metrics(RankedScores(logits, labels, probs), MetricSettings(threshold=threshold))
        called = (probs >= threshold).astype(int)
        assert m["accuracy"] == pytest.approx(accuracy_score(labels, called))
        assert m["precision"] == pytest.approx(precision_score(labels, called))
        assert m["recall"] == pytest.approx(recall_score(labels, called))
        assert m["f1"] == pytest.approx(f1_score(labels, called))
        assert m["fpr"] == pytest.approx(called[labels == 0].mean())


def test_bootstrap_weights_equal_sklearn_sample_weight() -> None:
    """A resample is a multiplicity vector; the weighted fast path must equal sklearn on it."""
    logits, probs, labels = _scores(2)
    ranked = RankedScores(logits, labels, probs)
    weights = _bootstrap_weights(ranked.is_pos, np.random.default_rng(0))
    assert weights[labels == 1].sum() == labels.sum() and weights[labels == 0].sum() == (labels == 0).sum()
    m = _scalar_metrics(ranked, MetricSettings(), weights)
    assert m["auc_roc"] == pytest.approx(roc_auc_score(labels, logits, sample_weight=weights), abs=1e-12)
    assert m["average_precision"] == pytest.approx(average_precision_score(labels, logits, sample_weight=weights), abs=1e-12)
    assert m["precision"] == pytest.approx(precision_score(labels, probs >= 0.5, sample_weight=weights))


def test_paired_tpr_difference() -> None:
    """Paired TPR differences: exact point value, zero for identical scorings, narrower than one scoring's interval.

    The point difference equals the two TPRs' difference; identical scorings differ by exactly 0
    in every resample; a small perturbation's paired interval is narrower than one scoring's own
    bootstrap interval.
    """
    logits, probs, labels = _scores(3, decimals=None)
    fpr = 1e-2
    same = paired_tpr_difference(logits, logits, labels, fpr=fpr, n_bootstrap=200)
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0]
    rng = np.random.default_rng(4)
    worse = logits - rng.uniform(0.0, 0.6, logits.size) * labels  # lenses score lower: TPR must fall
    diff = paired_tpr_difference(logits, worse, labels, fpr=fpr, n_bootstrap=300, rng=np.random.default_rng(5))
    n_neg = int((labels == 0).sum())

    def tpr(scores: np.ndarray) -> float:
        threshold = np.sort(scores[labels == 0])[::-1][int(fpr * n_neg)]  # scores above the (k+1)-th non-lens
        return float((scores[labels == 1] > threshold).mean())

    assert diff["difference"] == pytest.approx(tpr(worse) - tpr(logits))
    assert diff["difference"] < 0 and diff["ci95"][1] < 0
    lo, hi = diff["ci68"]
    assert lo <= diff["difference"] <= hi
    own = metrics_for_subset(logits, probs, labels, MetricSettings(fprs=(fpr,)), n_bootstrap=300,
                             rng=np.random.default_rng(5))["metrics"]["tpr_at_fpr_1e-02"]["ci68"]
    assert hi - lo < own[1] - own[0]


def test_tpr0_tpr10_hand_built() -> None:
    # sorted by score: L L N L L N N N N N N N N N L (N = non-lens)
    labels = np.array([1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    scores = -np.arange(labels.size, dtype=float)
    m = _scalar_metrics(RankedScores(scores, labels, np.full(labels.size, 0.5)), MetricSettings())
    assert m["tpr0"] == pytest.approx(2 / 5)  # two lenses before the first false positive
    assert m["tpr10"] == pytest.approx(4 / 5)  # the last lens comes after the 10th non-lens
    # fewer than ten non-lenses: every lens is reached with at most 9 false positives
    m = _scalar_metrics(RankedScores(scores[:8], labels[:8], np.full(8, 0.5)), MetricSettings())
    assert m["tpr10"] == 1.0


def test_tpr0_ties_are_not_lucky() -> None:
    """A lens tied with the top non-lens cannot be separated from it by any threshold."""
    labels = np.array([1, 0, 1, 1, 0])
    scores = np.array([0.9, 0.8, 0.8, 0.7, 0.1])
    m = _scalar_metrics(RankedScores(scores, labels, scores), MetricSettings())
    assert m["tpr0"] == pytest.approx(1 / 3)
    # the order of tied rows must not matter
    m2 = _scalar_metrics(RankedScores(scores[[0, 2, 1, 3, 4]], labels[[0, 2, 1, 3, 4]], scores), MetricSettings())
    assert m2["tpr0"] == m["tpr0"] and m2["auc_roc"] == m["auc_roc"]
    fpr, tpr, _ = roc_curve(labels, scores)
    assert m["tpr0"] == pytest.approx(tpr[fpr == 0].max())


def test_purity_formula_and_values() -> None:
    assert purity_at_prevalence(0.5, 0.001, 0.001) == pytest.approx(0.0005 / (0.0005 + 0.000999))
    assert purity_at_prevalence(0.9, 0.0, 0.001) == 1.0
    logits, probs, labels = _scores(3, decimals=None)
    settings = MetricSettings(prevalence=0.01, completeness_levels=(0.5,))
    m = _scalar_metrics(RankedScores(logits, labels, probs), settings)
    fpr, tpr, _ = roc_curve(labels, logits, drop_intermediate=False)
    expected = purity_at_prevalence(0.5, fpr[np.argmax(tpr >= 0.5)], 0.01)
    assert m["purity_at_tpr_0.5"] == pytest.approx(expected)
    assert m["purity_at_threshold"] == pytest.approx(purity_at_prevalence(m["recall"], m["fpr"], 0.01))


def test_metrics_for_subset_intervals_and_notes() -> None:
    logits, probs, labels = _scores(4, n=600)
    a = metrics_for_subset(logits, probs, labels, MetricSettings(), n_bootstrap=50, rng=np.random.default_rng(7))
    b = metrics_for_subset(logits, probs, labels, MetricSettings(), n_bootstrap=50, rng=np.random.default_rng(7))
    assert a == b  # seeded
    auc = a["metrics"]["auc_roc"]
    assert auc["ci68"][0] <= auc["value"] <= auc["ci68"][1] and auc["ci68"][0] < auc["ci68"][1]
    low = a["metrics"]["tpr_at_fpr_1e-04"]
    assert low["supported"] is False and low["n_negatives"] == a["n_nonlenses"] and low["max_false_positives"] == 0
    assert "non-lenses are needed" in low["note"]
    assert a["metrics"]["tpr_at_fpr_1e-02"]["max_false_positives"] == int(0.01 * a["n_nonlenses"])
    none = metrics_for_subset(logits, probs, labels, MetricSettings(), n_bootstrap=0)
    assert none["metrics"]["auc_roc"]["ci68"] is None and none["metrics"]["auc_roc"]["value"] == auc["value"]


def test_single_class_gives_null_with_reason() -> None:
    probs = np.array([0.1, 0.7, 0.2])
    result = metrics_for_subset(probs, probs, np.zeros(3, dtype=int), MetricSettings(), n_bootstrap=10)
    m = result["metrics"]
    assert m["auc_roc"]["value"] is None and "only non-lenses" in m["auc_roc"]["reason"]
    assert m["tpr0"]["value"] is None and m["recall"]["value"] is None and m["recall"]["reason"] == "no lenses in this set"
    assert m["accuracy"]["value"] == pytest.approx(2 / 3) and m["fpr"]["value"] == pytest.approx(1 / 3)
    lenses_only = metrics_for_subset(probs, probs, np.ones(3, dtype=int), MetricSettings(threshold=0.9), n_bootstrap=0)
    assert lenses_only["metrics"]["precision"]["value"] is None
    assert "no object has prob >= threshold 0.9" in lenses_only["metrics"]["precision"]["reason"]
    assert "only lenses" in lenses_only["metrics"]["average_precision"]["reason"]


def test_purity_note_when_no_false_positive() -> None:
    labels = np.array([1, 1, 0, 0, 0])
    probs = np.array([0.9, 0.8, 0.2, 0.1, 0.3])
    m = metrics_for_subset(probs, probs, labels, MetricSettings(), n_bootstrap=0)["metrics"]
    assert m["purity_at_threshold"]["value"] == 1.0
    assert "no false positive among 3 non-lenses" in m["purity_at_threshold"]["note"]
    assert m["purity_at_threshold"]["lower_bound_fpr_1_over_n"] == pytest.approx(purity_at_prevalence(1.0, 1 / 3, 1e-3))


def test_load_predictions_keeps_large_integer_ids(tmp_path: Path) -> None:
    path = tmp_path / "probs.csv"
    path.write_text("id,prob,logit\n75339100000000001,0.25,-1.0986\nGG-LENS_0.0159_-0.0846,0.9,2.197\n00123,0.5,0\n")
    table = load_predictions(path)
    assert table["id"].tolist() == ["75339100000000001", "GG-LENS_0.0159_-0.0846", "00123"]
    assert table["prob"].dtype == np.float64
    only_logit = tmp_path / "logit.csv"
    only_logit.write_text("id,logit\na,0\nb,100\n")
    np.testing.assert_allclose(load_predictions(only_logit)["prob"], [0.5, 1.0])


@pytest.mark.parametrize(
    ("text", "match"),
    [("ident,prob\na,0.5\n", "no 'id' column"), ("id,score\na,0.5\n", "'prob' or a 'logit'"),
     ("id,prob\na,\n", "missing or non-numeric 'prob'"), ("id,prob\na,1.5\n", r"\[0, 1\]")],
)
def test_load_predictions_errors_name_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(EvaluationInputError, match=match) as info:
        load_predictions(path)
    assert str(path) in str(info.value)


def test_load_labels_csv_and_store(tmp_path: Path) -> None:
    csv = tmp_path / "truth.csv"
    csv.write_text("id,label,domain,Rein\n75339100000000001,1,hsc,1.2\nx,0,slsim,-999\n")
    table = load_labels(csv)
    assert table["id"].tolist() == ["75339100000000001", "x"] and np.isnan(table["Rein"].iloc[1])
    index = pd.DataFrame({"id": ["a", "b"], "stem": ["D1_L0000000", "D1_N0000000"], "label": [1, 0],
                          "domain": ["slsim", "slsim"], "n_nan": [0, 0], "Rein": [1.5, -999.0]})
    write_store(tmp_path / "store", np.zeros((2, 5, 41, 41), np.float32), index)
    from_store = load_labels(tmp_path / "store")
    assert from_store["label"].tolist() == [1, 0] and np.isnan(from_store["Rein"].iloc[1])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\na,2\n")
    with pytest.raises(EvaluationInputError, match="labels must be"):
        load_labels(bad)
    (tmp_path / "folder").mkdir()
    with pytest.raises(EvaluationInputError, match="not a packed store"):
        load_labels(tmp_path / "folder")


def test_join_reports_unmatched_unknown_and_duplicates() -> None:
    preds = pd.DataFrame({"id": ["a", "b", "c", "dup", "dup"], "stem": ["D1_L0000001", "s2", "s3", "d1", "d2"],
                          "prob": [0.9, 0.2, 0.4, 0.6, 0.1], "label": [0, 0, 0, 0, 0]})
    labels = pd.DataFrame({"id": ["a", "b", "z", "dup", "dup", "c"], "stem": ["D1_L0000001", "s2", "sz", "d1", "d2", "s3"],
                           "label": [1, 0, 1, 1, 0, -1]})
    table, report = join_predictions(preds, labels)
    assert sorted(zip(table["id"], table["stem"], table["label"], strict=True)) == [
        ("a", "D1_L0000001", 1), ("b", "s2", 0), ("dup", "d1", 1), ("dup", "d2", 0)]
    assert report.n_unknown_label == 1 and report.n_unmatched_labels == 1 and report.unmatched_label_ids == ["z"]
    assert report.n_unmatched_predictions == 0 and report.n_matched == 5
    assert table.set_index("stem").loc["D1_L0000001", "domain"] == "slsim"  # from the labelled stem
    no_stem, report2 = join_predictions(preds.drop(columns="stem").assign(id=["a", "b", "q", "dup", "dup"]),
                                        labels.drop(columns="stem"))
    assert report2.n_ambiguous == 2 and report2.unmatched_prediction_ids == ["q"]
    assert "share a duplicated id" in report2.describe() and len(no_stem) == 2


def test_completeness_by_bins_and_intervals() -> None:
    table = pd.DataFrame({"label": [1] * 6 + [0], "prob": [0.9, 0.1, 0.8, 0.7, 0.2, 0.95, 0.9],
                          "Rein": [0.5, 0.6, 1.0, 1.1, 2.0, np.nan, np.nan]})
    block = completeness_by(table, table["Rein"], threshold=0.5, n_bins=2)
    assert block["n_lenses_with_value"] == 5 and block["n_lenses_without_value"] == 1
    assert [b["n_lenses"] for b in block["bins"]] == [2, 3]
    assert [b["n_found"] for b in block["bins"]] == [1, 2]
    lo, hi = jeffreys_interval(1, 2)
    assert block["bins"][0]["ci68"] == [lo, hi] and lo < 0.5 < hi
    assert jeffreys_interval(0, 5)[0] == 0.0 and jeffreys_interval(5, 5)[1] == 1.0
    assert completeness_by(table.assign(Rein=np.nan), table["Rein"] * np.nan, 0.5) is None


def test_source_magnitude_prefers_i_else_brightest() -> None:
    table = pd.DataFrame({"mag_src_g": [24.0, 23.0], "mag_src_r": [22.5, np.nan]})
    mag = source_magnitude_column(table)
    assert mag.name == "mag_src_brightest" and mag.tolist() == [22.5, 23.0]
    assert source_magnitude_column(table.assign(mag_src_i=[21.0, 22.0])).name == "mag_src_i"
    assert source_magnitude_column(pd.DataFrame({"x": [1]})) is None


def test_compute_metrics_per_domain_and_table() -> None:
    logits, probs, labels = _scores(5, n=400)
    domains = np.where(np.arange(400) % 3 == 0, "hsc", "slsim")
    table = pd.DataFrame({"id": [str(i) for i in range(400)], "prob": probs, "logit": logits, "label": labels,
                          "domain": domains, "Rein": np.where(labels == 1, np.linspace(0.5, 2.5, 400), np.nan)})
    result = compute_metrics(table, MetricSettings(), n_bootstrap=20, seed=1, progress=False)
    assert set(result["by_domain"]) == {"slsim", "hsc"} and result["settings"]["ranking_score"] == "logit"
    hsc = table[table["domain"] == "hsc"]
    assert result["by_domain"]["hsc"]["metrics"]["auc_roc"]["value"] == pytest.approx(roc_auc_score(hsc["label"], hsc["logit"]))
    assert result["by_domain"]["hsc"]["n"] == len(hsc)
    assert "Rein" in result["completeness"] and "source_magnitude" not in result["completeness"]
    text = format_table(result)
    assert "AUC-ROC" in text and f"{result['overall']['metrics']['auc_roc']['value']:.4f}" in text and "TPR10" in text
