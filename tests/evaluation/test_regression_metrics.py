"""Regression metrics against a hand-computed example, error kinds, binning, coverage curves and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.evaluation.regression import (
    binned_metrics,
    coverage_curve,
    errors,
    nmad,
    parameter_metrics,
    regression_metrics,
)

PRED = np.array([1.0, 2.0, 3.5, 4.0, 10.0])
TRUE = np.array([1.1, 2.0, 3.0, 4.4, 5.0])


def test_hand_computed_example() -> None:
    # err = pred - true = [-0.1, 0, 0.5, -0.4, 5.0]; sorted [-0.4, -0.1, 0, 0.5, 5]
    intervals = {0.68: (np.full(5, 0.6), np.full(5, 0.05))}  # interval [pred - 0.6, pred + 0.05]
    m = parameter_metrics(PRED, TRUE, "linear", intervals)
    assert m["n"] == 5 and m["bias"] == pytest.approx(0.0)
    assert m["nmad"] == pytest.approx(1.4826 * 0.4)  # |err - 0| sorted [0, .1, .4, .5, 5] -> median 0.4
    assert m["p16"] == pytest.approx(-0.4 + 0.64 * 0.3)  # numpy's linear interpolation at position 0.64
    assert m["p84"] == pytest.approx(0.5 + 0.36 * 4.5)
    assert m["outlier_fraction"] == pytest.approx(0.2)  # only 5.0 is beyond 3 NMAD = 1.78
    # true - pred = [0.1, 0, -0.5, 0.4, -5] inside [-0.6, 0.05]: rows 1 and 2
    assert m["coverage_68"] == pytest.approx(0.4)
    assert parameter_metrics(PRED, TRUE, "linear", threshold=0.45)["outlier_fraction"] == pytest.approx(0.4)
    assert nmad(np.array([])) != nmad(np.array([]))  # NaN when empty


def test_error_kinds_and_missing_truth() -> None:
    assert errors("redshift", np.array([1.1]), np.array([1.0]))[0][0] == pytest.approx(0.05)
    assert errors("relative", np.array([220.0]), np.array([200.0]))[0][0] == pytest.approx(0.1)
    err, d = errors("angle", np.array([179.0, 1.0]), np.array([1.0, 179.0]), period=180.0)
    np.testing.assert_allclose(err, [-2.0, 2.0])
    np.testing.assert_allclose(d, [2.0, -2.0])
    m = parameter_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, -999.0, np.nan]))
    assert (m["n"], m["n_missing"], m["bias"]) == (1, 2, 0.0)
    empty = parameter_metrics(np.array([1.0]), np.array([np.nan]), intervals={0.95: (np.ones(1), np.ones(1))})
    assert empty["n"] == 0 and empty["bias"] is None and empty["coverage_95"] is None


def test_binned_and_per_domain() -> None:
    by = np.array([0.3, 0.6, 0.6, 1.2, 2.0])
    rows = binned_metrics(PRED, TRUE, by, (0.0, 0.5, 1.0, 3.0))
    assert [r["n"] for r in rows] == [1, 2, 2]
    assert rows[1]["bias"] == pytest.approx(0.25) and rows[0]["bias"] == pytest.approx(-0.1)
    values, truth = pd.DataFrame({"Rein": PRED}), pd.DataFrame({"Rein": TRUE})
    minus = {0.6827: pd.DataFrame({"Rein": np.full(5, 0.6)})}
    plus = {0.6827: pd.DataFrame({"Rein": np.full(5, 0.05)})}
    out = regression_metrics(values, truth, {"Rein": "linear"}, minus, plus, np.array(["a", "a", "b", "b", "b"]),
                             pd.DataFrame({"Rein": by}), bins={"Rein": (0.0, 1.0, 3.0)})
    entry = out["Rein"]
    assert entry["all"]["coverage_68"] == pytest.approx(0.4) and entry["a"]["n"] == 2 and entry["b"]["n"] == 3
    assert entry["a"]["coverage_68"] == pytest.approx(0.5)
    assert entry["all"]["outlier_fraction"] == pytest.approx(0.6)  # physical threshold for Rein: |err| > 0.3″
    assert [r["n"] for r in entry["by_Rein"]] == [3, 2]


def test_coverage_curve() -> None:
    levels, observed = coverage_curve(np.array([0.1, -0.5, 1.5, np.nan, -3.0]), levels=(0.6827, 0.95))
    np.testing.assert_allclose(levels, [0.6827, 0.95])
    np.testing.assert_allclose(observed, [0.5, 0.75])  # |z| <= 1.0: 2 of 4; |z| <= 1.96: 3 of 4
    rng = np.random.default_rng(0)
    _, calibrated = coverage_curve(rng.normal(size=50_000))
    assert np.max(np.abs(calibrated - np.linspace(0.05, 0.99, 48))) < 0.01


def test_plots_write_pngs(tmp_path: Path) -> None:
    from brahmasifier.evaluation.regression_plots import plot_binned_errors, plot_coverage, plot_predicted_vs_true

    values, truth = pd.DataFrame({"Rein": PRED, "zlens": PRED / 10}), pd.DataFrame({"Rein": TRUE, "zlens": TRUE / 10})
    paths = [
        plot_predicted_vs_true(values, truth, ["Rein", "zlens"], tmp_path / "pvt.png", np.array(["slsim", "hsc"] * 2 + ["hsc"])),
        plot_coverage({"log(Rein)": coverage_curve(np.array([0.1, 1.0, -2.0]))}, tmp_path / "cov.png"),
        plot_binned_errors({"Rein": binned_metrics(PRED, TRUE, TRUE, (0.0, 2.5, 6.0))}, tmp_path / "bin.png", "θ_E"),
    ]
    for path in paths:
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"


def test_probability_file_estimates_scored_by_true_class(tmp_path: Path) -> None:
    """``evaluate``'s section on ``probs.csv`` columns: lens columns on true lenses only, hand-computed values."""
    from brahmasifier.evaluation.parameters import estimate_columns, parameter_section

    # 5 true lenses (PRED/TRUE above as θ_E) and 2 non-lenses whose Rein estimates must be ignored
    rein = np.r_[PRED, 0.7, 0.9]
    probs = pd.DataFrame({"id": [f"o{k}" for k in range(7)], "Rein": rein, "Rein_sigma": 0.3,
                          "Rein_lo68": rein - 0.6, "Rein_hi68": rein + 0.05, "Rein_lo95": rein - 1.0, "Rein_hi95": rein + 1.0,
                          "z_central": [9.0] * 5 + [0.5, 0.2], "z_central_sigma": 0.1, "z_central_lo68": 0.0,
                          "z_central_hi68": 1.0, "z_central_lo95": 0.0, "z_central_hi95": 1.0})
    renamed, columns = estimate_columns(probs)
    assert columns == ["Rein", "z_central"] and "est:Rein_lo68" in renamed.columns and "Rein" not in renamed.columns
    truth = pd.DataFrame({"label": [1] * 5 + [0, 0], "domain": ["slsim"] * 7, "Rein": np.r_[TRUE, np.nan, np.nan],
                          "z_central": [np.nan] * 5 + [0.5, 0.4]})
    block, figures = parameter_section(pd.concat([renamed, truth], axis=1), columns, tmp_path)
    m = block["metrics"]["Rein"]["all"]
    assert m["n"] == 5 and m["bias"] == pytest.approx(0.0) and m["nmad"] == pytest.approx(1.4826 * 0.4)
    assert m["coverage_68"] == pytest.approx(0.4) and m["outlier_fraction"] == pytest.approx(0.6)  # |err| > 0.3″: 0.5, -0.4, 5.0
    assert m["coverage_95"] == pytest.approx(0.8)  # |true - pred| <= 1 except the 5.0 row
    z = block["metrics"]["z_central"]["all"]  # (pred - true)/(1 + true) = [0, -0.2/1.4]
    assert z["n"] == 2 and z["bias"] == pytest.approx(-0.1 / 1.4)
    head = block["headline"]["rein_ge_0.5"]  # θ_E ≥ 0.5 is every lens here
    assert head["n"] == 5 and head["p84"] == pytest.approx(0.5 + 0.36 * 4.5)
    assert all((tmp_path / f).is_file() for f in figures)


def test_headline_on_the_lenses_called_lenses(tmp_path: Path) -> None:
    """With a threshold, the issue-22 headline is also computed on the true lenses with ``prob`` ≥ threshold."""
    from brahmasifier.evaluation.parameters import estimate_columns, format_parameter_table, parameter_section

    n = 8  # 5 lenses (θ_E PRED/TRUE; zlens) and 3 non-lenses
    rein = np.r_[PRED, 1.0, 1.0, 1.0]
    zl = np.r_[0.5, 0.6, 0.7, 0.8, 0.9, 0.5, 0.5, 0.5]
    probs = pd.DataFrame({"id": [f"o{k}" for k in range(n)], "prob": [0.9, 0.2, 0.8, 0.95, 0.1, 0.99, 0.1, 0.1],
                          "Rein": rein, "Rein_sigma": 0.3, "Rein_lo68": rein - 0.6, "Rein_hi68": rein + 0.05,
                          "Rein_lo95": rein - 1.0, "Rein_hi95": rein + 1.0,
                          "zlens": zl, "zlens_sigma": 0.1, "zlens_lo68": zl - 0.1, "zlens_hi68": zl + 0.1,
                          "zlens_lo95": zl - 0.2, "zlens_hi95": zl + 0.2})
    renamed, columns = estimate_columns(probs)
    true_z = np.r_[0.5, 0.9, 0.6, 1.0, 0.5, np.nan, np.nan, np.nan]
    truth = pd.DataFrame({"label": [1] * 5 + [0] * 3, "domain": "slsim", "Rein": np.r_[TRUE, np.nan, np.nan, np.nan],
                          "zlens": true_z})
    table = pd.concat([renamed, truth], axis=1)
    block, _ = parameter_section(table, columns, tmp_path, threshold=0.5)
    called = block["headline_called"]  # lenses 0, 2, 3 (the non-lens with prob 0.99 is not a lens)
    assert called["n_called_lenses"] == 3 and called["threshold"] == 0.5
    err = PRED[[0, 2, 3]] - TRUE[[0, 2, 3]]  # -0.1, 0.5, -0.4
    r = called["rein_ge_0.5"]
    assert r["n"] == 3 and r["bias"] == pytest.approx(np.median(err)) and r["p16"] == pytest.approx(np.percentile(err, 16))
    assert r["coverage_68"] == pytest.approx(1 / 3)  # truth inside [pred - 0.6, pred + 0.05]: row 2 only
    zerr = (zl[[0, 2, 3]] - true_z[[0, 2, 3]]) / (1 + true_z[[0, 2, 3]])
    assert called["zlens_nmad"] == pytest.approx(1.4826 * np.median(np.abs(zerr - np.median(zerr))))
    assert called["zlens_nmad"] != pytest.approx(block["headline"]["zlens_nmad"])  # not the all-lens value
    assert "called lenses (prob >= 0.500: 3)" in format_parameter_table(block)
    assert "headline_called" not in parameter_section(table, columns, tmp_path)[0]  # no threshold: as before
