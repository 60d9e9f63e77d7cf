"""The README's challenge workflow, verbatim paths, on a tiny release in its published form (real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.inference.submission import read_submission
from brahmasifier.io import open_store

from .release_tree import PublishedRelease

pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
)


def test_pack_train_predict_on_the_published_layout(published_release: PublishedRelease, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(published_release.root)
    assert main(["pack", "data/slsim_lenses", "data/slsim_nonlenses", "data/hsc_lenses", "data/hsc_nonlenses",
                 "--out", "stores/challenge", "--workers", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "rejected 0 objects and 0 stray files" in printed and "20 listed, 0 missing, 0 band files not listed" in printed

    store = open_store("stores/challenge")
    index = store.index.set_index("stem")
    truth = published_release.truth.set_index("stem")
    assert sorted(index.index) == sorted(truth.index)  # every object found, none invented
    assert (index.loc[truth.index, "label"] == truth["label"]).all()
    assert (index.loc[truth.index, "domain"] == truth["domain"]).all()
    assert (index.loc[truth.index, "id"] == truth["id"]).all()  # exact string IDs, leading zeros kept
    expected = published_release.parameters.set_index("id")
    joined = index.set_index("id").loc[expected.index]
    for column in ("vel_disp", "Rein", "zlens", "zsrc", "z_central"):  # incl. parameters_updated.fits over parameters.fits
        np.testing.assert_array_equal(joined[column].to_numpy(float), expected[column].to_numpy(float))
    assert store.manifest["n_found"] == len(store) + int((store.rejected["stem"] != "").sum()) == len(truth)

    assert main(["info", "stores/challenge"]) == 0
    info = capsys.readouterr().out
    assert "non-image files: 4 _manifest.txt, 3 parameters.fits, 1 parameters_updated.fits" in info
    assert "data/hsc_lenses: parameters_updated.fits over parameters.fits" in info
    assert "data/slsim_nonlenses: none" in info
    assert "lens: hsc 4, slsim 4" in info and "non-lens: hsc 4, slsim 4" in info

    assert main(["train", "--data", "stores/challenge", "--out", "runs/compact", "--epochs", "1", "--batch-size", "4",
                 "--val-fraction", "0.25", "--model-kwargs", json.dumps({"widths": [8, 16], "depths": [0, 1]}),
                 "--no-progress"]) == 0
    assert "val AUC" in capsys.readouterr().out

    assert main(["predict", "--runs", "runs/compact", "--data", "data/test_dataset", "--out", "out/submission.csv",
                 "--probs", "out/probs.csv", "--tta", "flips", "--workers", "0", "--no-progress"]) == 0
    capsys.readouterr()
    submission = read_submission("out/submission.csv")  # the template's exact header, 0/1 preds
    assert sorted(submission["id"]) == sorted(published_release.blind["stem"])  # IDs are the blind stems
    assert not Path("out/rejected.csv").exists() or pd.read_csv("out/rejected.csv").empty
    assert (submission["vel disp"] == -999).all() and (submission["vel_disp"] == -999).all()

    assert main(["evaluate", "--probs", "out/probs.csv", "--labels", "blind_truth.csv", "--out", "out/report",
                 "--bootstrap", "10"]) == 0
    join = json.loads(Path("out/report/metrics.json").read_text())["join"]  # truth kept outside data/, joined by stem-ID
    n_blind = len(published_release.blind)
    assert (join["n_matched"], join["n_unmatched_predictions"], join["n_unmatched_labels"]) == (n_blind, 0, 0)
