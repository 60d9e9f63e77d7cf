"""`brahmasifier evaluate` on the command line: exit codes, printed table, files written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main


def _inputs(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    logits = rng.normal(labels * 2.0 - 1.0, 1.0)
    ids = [str(10**16 + i) for i in range(40)]
    probs = root / "probs.csv"
    pd.DataFrame({"id": ids, "prob": 1 / (1 + np.exp(-logits)), "logit": logits}).to_csv(probs, index=False)
    truth = root / "truth.csv"
    pd.DataFrame({"id": ids, "label": labels, "domain": "hsc"}).to_csv(truth, index=False)
    return probs, truth


def test_evaluate_cli_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probs, truth = _inputs(tmp_path)
    out = tmp_path / "rep"
    code = main(["evaluate", "--probs", str(probs), "--labels", str(truth), "--out", str(out), "--threshold", "0.4",
                 "--bootstrap", "10", "--temperature", "1.5", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["threshold"] == 0.4 and metrics["settings"]["n_bootstrap"] == 10
    assert "AUC-ROC" in printed and f"{metrics['overall']['metrics']['auc_roc']['value']:.4f}" in printed
    assert "matched 40 of 40" in printed and (out / "report.html").is_file()


def test_evaluate_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probs, _ = _inputs(tmp_path)
    code = main(["evaluate", "--probs", str(probs), "--labels", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o"),
                 "--no-progress"])
    assert code == 2
    assert "missing.csv: no such labels file" in capsys.readouterr().err


def test_evaluate_help_is_light(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--help"])
    assert info.value.code == 0 and "--prevalence" in capsys.readouterr().out
