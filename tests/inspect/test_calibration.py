"""Calibration objects: mixed into the list unmarked, seeded, shown like any candidate, scored per inspector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.errors import InputError
from brahmasifier.inspect.candidates import build_list, load_images
from brahmasifier.inspect.grades import GradeBook, read_grade_file
from brahmasifier.inspect.server import create_app


def test_calibration_objects_mixed_in_and_scored(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                 probs_file: tuple[Path, pd.DataFrame],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    probs_path, probs = probs_file
    table = build_list(probs_path, top=9, calibration_fraction=0.25, calibration_data=root, seed=3)
    # 25% of 12: three calibration objects (two lenses, one non-lens), the candidates in score order around them.
    cal = table[table["calibration"] != ""]
    assert len(table) == 12 and len(cal) == 3
    assert sorted(cal["calibration"]) == ["lens", "lens", "non-lens"]
    label = truth.set_index("stem")["label"]
    assert all((label[s] == 1) == (k == "lens") for s, k in zip(cal["stem"], cal["calibration"], strict=True))
    assert table.loc[table["calibration"] == "", "id"].tolist() == (
        probs.sort_values("prob", ascending=False, kind="stable").head(9)["id"].tolist())
    assert cal["prob"].isna().all()
    # The same seed draws the same list; another seed another one.
    assert build_list(probs_path, 9, 0.25, root, seed=3).equals(table)
    assert not build_list(probs_path, 9, 0.25, root, seed=4)[["id", "calibration"]].equals(table[["id", "calibration"]])

    book = GradeBook(tmp_path / "ana.csv", table, "ana")
    images = load_images(book.table, root, root)
    assert sorted(images) == list(range(12))
    client = create_app(book, images, feedback=True).test_client()
    state = client.get("/api/state").get_json()
    assert all(item["prob"] is None for item in state["items"])  # scores hidden: they would mark the calibration objects
    assert "calibration" not in str(state["items"])
    for position, row in table.iterrows():
        grade = {"lens": "A", "non-lens": "B", "": "C"}[row["calibration"]]  # the non-lens wrongly called likely
        answer = client.post("/api/grade", json={"position": position, "grade": grade, "note": ""}).get_json()
        if row["calibration"]:
            assert answer["feedback"] == f"known {row['calibration']}"
            assert answer["correct"] == (row["calibration"] == "lens")
        else:
            assert "feedback" not in answer
    assert client.get(f"/api/panel/{int(cal.index[0])}/residual.png").data.startswith(b"\x89PNG")
    assert client.get("/api/panel/99/residual.png").status_code == 404
    assert client.post("/api/grade", json={"position": 0, "grade": "Q"}).status_code == 400
    assert client.post("/api/grade", data="position=0&grade=A").status_code == 400  # a form post (cross-site) is no grade
    assert client.get("/api/state", headers={"Host": "evil.example:8765"}).status_code == 403
    expected = table["calibration"].map({"lens": "A", "non-lens": "B", "": "C"}).tolist()
    assert read_grade_file(tmp_path / "ana.csv")["grade"].tolist() == expected  # every grade on disk at once
    assert main(["inspect", "--merge", str(tmp_path / "ana.csv"), "--out", str(tmp_path / "m.csv")]) == 0
    report = pd.read_csv(tmp_path / "m_calibration.csv").set_index("threshold")
    assert report.loc["A", "completeness"] == 1.0 and report.loc["A", "n_lenses"] == 2
    assert report.loc["A", "false_positive_rate"] == 0.0
    assert report.loc["A+B", "false_positive_rate"] == 1.0
    assert "false-positive rate" in capsys.readouterr().out


def test_calibration_needs_enough_labelled_objects(tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                   probs_file: tuple[Path, pd.DataFrame]) -> None:
    root, _ = tiny_challenge_tree
    probs_path, _ = probs_file
    with pytest.raises(InputError, match="known lenses wanted"):
        build_list(probs_path, top=20, calibration_fraction=0.9, calibration_data=root, seed=0)


def test_grade_file_resume_keeps_list(tmp_path: Path) -> None:
    table = pd.DataFrame({"id": ["a", "b", "c"], "stem": ["", "", ""], "prob": [0.9, 0.8, np.nan],
                          "calibration": ["", "", "lens"]})
    book = GradeBook(tmp_path / "g.csv", table, "ana")
    book.save()
    book.set(0, "A", "ring,\nclear")
    again = GradeBook.resume(tmp_path / "g.csv", "ben")
    assert again.first_ungraded() == 1 and again.n_graded() == 1
    assert again.table["calibration"].tolist() == ["", "", "lens"]
    assert again.table.loc[0, "note"] == "ring, clear"
