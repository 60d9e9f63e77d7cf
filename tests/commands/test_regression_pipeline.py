"""Lens parameters through the real CLI: simulate → train --regress → predict → evaluate (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.inference.submission import SUBMISSION_COLUMNS, read_submission
from brahmasifier.io.parameters import canonical_parameter_name
from brahmasifier.models.targets import challenge_targets

pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
    "ignore:.*does not have many workers.*",
)


def test_simulate_train_regress_predict_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lenstronomy")
    sim, run, sub = tmp_path / "sim", tmp_path / "run", tmp_path / "pred" / "submission.csv"
    assert main(["simulate", "--out", str(sim), "--n-per-class", "3", "--seed", "4", "--workers", "1", "--no-preview",
                 "--no-progress"]) == 0
    assert main(["train", "--data", str(sim), "--out", str(run), "--targets", "Rein,zlens,vel_disp,ell_l,z_central",
                 "--epochs", "1", "--batch-size", "8",
                 "--model-kwargs", json.dumps({"widths": [8, 16], "depths": [0, 1]}), "--regression-hidden", "16",
                 "--val-fraction", "0.34", "--threads", "1", "--no-progress"]) == 0
    card = json.loads((run / "model" / "model.json").read_text())
    spec = card["regression"]["targets"]
    assert [t["name"] for t in spec["targets"]] == ["Rein", "zlens", "vel_disp", "ell_l", "z_central"]  # what it predicts
    assert all(d["scale"] > 0 and d["sigma_scale"] > 0 for d in spec["dims"])  # fitted scaling + recalibration stored
    assert card["regression"]["recalibration"]["tta"] == "flips"
    assert "regression" in json.loads((run / "metrics.json").read_text())

    probs = tmp_path / "pred" / "probs.csv"
    assert main(["predict", "--model", str(run), "--data", str(sim), "--out", str(sub), "--probs", str(probs),
                 "--no-progress"]) == 0
    assert "lens parameters:" in capsys.readouterr().out
    submission = read_submission(sub)
    assert list(submission.columns) == list(SUBMISSION_COLUMNS)
    predicted = [t for t in challenge_targets() if t.name in ("Rein", "zlens", "vel_disp", "ell_l", "z_central")]
    lens_cols = {canonical_parameter_name(c) for t in predicted if t.group == "lens" for s in t.submission for c in s}
    nonlens_cols = {c for t in predicted if t.group == "nonlens" for s in t.submission for c in s}
    assert lens_cols == {"Rein", "zlens", "vel_disp", "ell_l", "ell_l_PA"} and nonlens_cols == {"z_central"}
    template = list(SUBMISSION_COLUMNS[2:])
    values = submission[template].apply(pd.to_numeric)
    lens = submission["preds"].to_numpy() == 1
    for column in template:
        filled = values[column].to_numpy() != -999
        name = canonical_parameter_name(column)
        if name in lens_cols:
            assert np.array_equal(filled, lens), column  # lens columns exactly for predicted lenses
        elif name in nonlens_cols:
            assert np.array_equal(filled, ~lens), column
        else:  # columns the model does not predict (and ra/dec) stay -999
            assert not filled.any(), column
    assert (values.loc[lens, "vel disp"] == values.loc[lens, "vel_disp"]).all()
    table = pd.read_csv(probs, dtype={"id": str})
    assert "mag_src_g" not in table.columns
    for column in ("Rein", "Rein_sigma", "Rein_lo68", "Rein_hi95", "ell_l_PA_sigma", "z_central", "z_central_sigma"):
        assert table[column].notna().all(), column
    assert (table["Rein_lo95"] <= table["Rein_lo68"]).all() and (table["Rein_lo68"] <= table["Rein"]).all()
    assert (table["Rein"] <= table["Rein_hi68"]).all() and (table["Rein_sigma"] > 0).all()

    report = tmp_path / "eval"
    assert main(["evaluate", "--probs", str(probs), "--labels", str(run / "store"), "--out", str(report),
                 "--bootstrap", "0", "--no-progress"]) == 0
    metrics = json.loads((report / "metrics.json").read_text())["parameters"]
    rein = metrics["metrics"]["Rein"]
    assert rein["all"]["n"] == 6 and set(rein) >= {"slsim", "hsc", "by_Rein", "by_sim_arc_snr"}
    assert {"bias", "nmad", "p16", "p84", "outlier_fraction", "coverage_68", "coverage_95"} <= set(rein["all"])
    assert metrics["metrics"]["z_central"]["all"]["n"] == 6  # non-lens columns are scored on the non-lenses
    html = (report / "report.html").read_text()
    assert "Lens parameters" in html and "parameters_pred_vs_true.png" in html and "parameters_coverage.png" in html
