"""`inspect --merge`: consensus, Fleiss' kappa against known values, disagreements, calibration per inspector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.inspect.grades import GRADE_COLUMNS
from brahmasifier.inspect.merge import fleiss_kappa, merge_grade_files

# Fleiss (1971) as reproduced on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters,
# 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
FLEISS_TABLE = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def test_fleiss_kappa_textbook_value() -> None:
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(np.array([[3, 0], [0, 3], [3, 0]])) == pytest.approx(1.0)
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [3, 0]])))  # one category only: undefined
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[2, 0], [1, 2]]))


def write_grades(path: Path, inspector: str, grades: list[str], calibration: list[str] | None = None) -> None:
    rows = [{"position": k, "id": f"obj{k}", "stem": f"stem{k}", "prob": 1 - k / 10,
             "calibration": (calibration or [""] * len(grades))[k], "grade": g, "note": "arc?" if g == "C" else "",
             "inspector": inspector if g else "", "graded_at": "2026-01-01T00:00:00+00:00" if g else ""}
            for k, g in enumerate(grades)]
    pd.DataFrame(rows, columns=list(GRADE_COLUMNS)).to_csv(path, index=False)


def test_merge_cli_known_kappa_consensus_and_disagreements(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Objects × inspectors: (A,A,A) (A,A,B) (X,X,X) (B,C,X); obj4 graded by two only (left out of kappa).
    # By hand: P_i = 1, 1/3, 1, 0 → P̄ = 7/12; p = (5, 2, 1, 4)/12 → P̄e = 46/144; κ = 38/98 = 19/49.
    columns = [["A", "A", "X", "B", "A"], ["A", "A", "X", "C", "B"], ["A", "B", "X", "X", ""]]
    paths = []
    for name, grades in zip(("ana", "ben", "cy"), columns, strict=True):
        paths.append(tmp_path / f"{name}.csv")
        write_grades(paths[-1], name, grades)
    out = tmp_path / "merged.csv"
    assert main(["inspect", "--merge", *map(str, paths), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Fleiss' kappa (objects graded by all): 0.388" in printed
    result = merge_grade_files(paths)
    assert result.kappa == pytest.approx(19 / 49)
    assert result.n_common == 4
    merged = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("id")
    assert merged.loc["obj0", "consensus"] == "A"
    assert merged.loc["obj1", "consensus"] == "A"  # mean 8/3
    assert merged.loc["obj2", "consensus"] == "X"
    assert merged.loc["obj3", "consensus"] == "C"  # mean 1
    assert merged.loc["obj4", "consensus"] == "A"  # (3 + 2) / 2 = 2.5: the boundary rounds up
    assert merged["disagree"].map({"True": True, "False": False}).to_dict() == {
        "obj0": False, "obj1": False, "obj2": False, "obj3": True, "obj4": False}
    assert "disagreements to re-examine (grades two or more apart): 1" in printed
    assert "obj3" in printed.split("disagreements")[1]
    assert merged.loc["obj3", "notes"] == "ben: arc?"


def test_merge_reports_calibration_per_inspector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calibration = ["lens", "", "non-lens", "lens", "non-lens"]
    write_grades(tmp_path / "ana.csv", "ana", ["A", "B", "X", "C", "B"], calibration)
    out = tmp_path / "m.csv"
    assert main(["inspect", "--merge", str(tmp_path / "ana.csv"), "--out", str(out)]) == 0
    table = pd.read_csv(tmp_path / "m_calibration.csv").set_index("threshold")
    # Known lenses graded A and C; known non-lenses X and B.
    assert table.loc["A", "completeness"] == pytest.approx(0.5)
    assert table.loc["A+B+C", "completeness"] == pytest.approx(1.0)
    assert table.loc["A", "false_positive_rate"] == pytest.approx(0.0)
    assert table.loc["A+B", "false_positive_rate"] == pytest.approx(0.5)
    assert "completeness" in capsys.readouterr().out


def test_merge_refuses_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.csv").write_text("id,prob\n1,0.5\n")
    assert main(["inspect", "--merge", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "not a grade file" in err and "x.csv" in err
    assert main(["inspect", "--merge", str(tmp_path / "missing.csv")]) == 2
    assert "no such grade file" in capsys.readouterr().err
