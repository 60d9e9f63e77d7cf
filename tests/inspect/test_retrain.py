"""Grades back into training: the graded candidates as a labelled store, fine-tuning through the CLI, the atlas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.errors import InputError
from brahmasifier.evaluation.gallery import load_cutouts
from brahmasifier.inspect.grades import GRADE_COLUMNS
from brahmasifier.inspect.retrain import graded_labels, graded_store
from brahmasifier.io.store import open_store

TINY = json.dumps({"widths": [8, 16], "depths": [0, 1]})


def write_grades(path: Path, truth: pd.DataFrame, grades: list[str], calibration: list[str]) -> pd.DataFrame:
    rows = truth.head(len(grades)).assign(position=range(len(grades)), prob=np.linspace(0.99, 0.5, len(grades)),
                                          calibration=calibration, grade=grades, note="", inspector="ana", graded_at="")
    rows[list(GRADE_COLUMNS)].to_csv(path, index=False)
    return rows


def test_graded_store_labels_and_images(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame]) -> None:
    root, truth = tiny_challenge_tree
    grades = ["A", "B", "C", "X", "X", "", "A", "X"]
    rows = write_grades(tmp_path / "g.csv", truth, grades, ["", "", "", "", "", "", "lens", ""])
    labels = graded_labels(tmp_path / "g.csv")
    # C and ungraded left out, the calibration object too; A/B lens, X non-lens.
    assert labels["id"].tolist() == rows["id"].iloc[[0, 1, 3, 4, 7]].tolist()
    assert labels["label"].tolist() == [1, 1, 0, 0, 0]
    assert graded_labels(tmp_path / "g.csv", c_label=1)["label"].tolist() == [1, 1, 1, 0, 0, 0]
    path, counts = graded_store(tmp_path / "g.csv", root, tmp_path / "graded")
    assert counts == {"lens": 2, "non-lens": 3}
    store = open_store(path)
    assert store.index["label"].tolist() == [1, 1, 0, 0, 0] and set(store.index["domain"]) == {"graded"}
    original = load_cutouts(root, labels[["id", "stem"]])
    np.testing.assert_array_equal(store.read([0])[0], original[(labels["id"][0], labels["stem"][0])])
    (tmp_path / "empty.csv").write_text(",".join(GRADE_COLUMNS) + "\n")
    with pytest.raises(InputError, match="no graded candidates"):
        graded_labels(tmp_path / "empty.csv")


def test_train_init_from_with_extra_labels_and_atlas(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    common = ["--epochs", "1", "--batch-size", "8", "--model-kwargs", TINY, "--no-progress", "--val-fraction", "0.25"]
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "r1"), *common]) == 0
    lenses_first = truth.sort_values("label", ascending=False, kind="stable")
    grades = ["A", "B", "X", "X"] + ["X"] * 4
    picked = pd.concat([lenses_first.head(4), lenses_first.tail(4)])
    write_grades(tmp_path / "g.csv", picked, grades, [""] * 8)
    capsys.readouterr()
    # FITS roots cannot be combined with the graded store: one line saying what to do.
    assert main(["train", "--init-from", str(tmp_path / "r1"), "--data", str(root), "--extra-labels", str(tmp_path / "g.csv"),
                 "--extra-images", str(root), "--out", str(tmp_path / "r2"), *common]) == 2
    assert "give --data as a packed store" in capsys.readouterr().err
    base = tmp_path / "r1" / "store"  # the run packed the tree here
    assert main(["train", "--init-from", str(tmp_path / "r1"), "--data", str(base), "--extra-labels", str(tmp_path / "g.csv"),
                 "--extra-images", str(root), "--out", str(tmp_path / "r2"), *common]) == 0
    out = capsys.readouterr().out
    assert "graded candidates from" in out and "2 lenses, 6 non-lenses" in out
    card = json.loads((tmp_path / "r2" / "model" / "model.json").read_text())
    assert card["training"]["init_from"] == str(tmp_path / "r1")
    assert str(tmp_path / "r2_graded") in (tmp_path / "r2" / "config.yaml").read_text()
    combined = open_store(tmp_path / "r2_graded")
    assert len(combined) == len(open_store(base)) + 8
    assert combined.index["domain"].tolist()[-8:] == ["graded"] * 8
    assert main(["inspect", "--atlas", str(tmp_path / "g.csv"), "--images", str(root), "--out", str(tmp_path / "fp.html")]) == 0
    page = (tmp_path / "fp.html").read_text()
    assert "6 candidates graded X" in page and page.count("data:image/png;base64,") == 1
    assert all(i in page for i in picked["id"].iloc[2:])
