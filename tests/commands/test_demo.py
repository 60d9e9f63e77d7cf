"""The README's main job, end to end, at --quick size: simulate → pack → train → predict → evaluate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from brahmasifier.cli import main

pytestmark = pytest.mark.slow

OFFICIAL_TEMPLATE = Path(__file__).parents[1] / "data_files" / "submission_format.csv"


def test_quick_demo_writes_a_valid_submission_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "--no-progress", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Brahmasifier demo: done" in printed

    # The submission: official header exactly, one row per blind-set object, preds in {0,1}, -999 fill.
    with OFFICIAL_TEMPLATE.open() as fh:
        official_header = next(csv.reader(fh))
    with (out / "submission.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == official_header
    truth = pd.read_csv(out / "blind_fits" / "truth.csv", dtype={"id": str})
    submitted_ids = [r[0] for r in rows[1:]]
    assert sorted(submitted_ids) == sorted(truth["id"])
    assert len(set(submitted_ids)) == len(submitted_ids)
    assert {r[1] for r in rows[1:]} <= {"0", "1"}
    assert all(cell == "-999" for r in rows[1:] for cell in r[2:])

    # Every output the summary names exists, and the numbers in it come from the metrics file.
    summary = json.loads((out / "demo_summary.json").read_text())
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert summary["test_auc"] == pytest.approx(metrics["overall"]["metrics"]["auc_roc"]["value"])
    assert summary["n_test_objects"] == len(truth)
    assert 0.0 <= summary["val_auc"] <= 1.0
    for key in ("submission", "probs", "report_html"):
        assert Path(summary["paths"][key]).is_file(), key
    assert (out / "run" / "model" / "model.safetensors").is_file()
