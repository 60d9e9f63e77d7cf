"""``train --adapt-to``: DANN trains on tiny data, logs the domain classifier per epoch, resumes, refuses the training data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from brahmasifier.cli import main
from brahmasifier.training.adaptation import GradientReversal, dann_lambda

from .helpers import tiny_store

pytestmark = [pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),
              pytest.mark.filterwarnings("ignore:Experiment logs directory .* exists and is not empty:UserWarning")]


def _train(*args: str) -> list[str]:
    return ["train", "--arch", "compact", "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--batch-size", "16",
            "--lr", "3e-3", "--no-progress", "--seed", "2", *args]


def test_adapt_to_logs_domain_accuracy_and_resumes(tmp_path: Path, capsys) -> None:
    tiny_store(tmp_path / "source", 96)
    tiny_store(tmp_path / "target", 40, seed=9)  # has labels: they are never read
    run = tmp_path / "run"
    common = ["--data", str(tmp_path / "source"), "--adapt-to", str(tmp_path / "target"), "--adapt-weight", "0.5",
              "--out", str(run)]
    assert main(_train(*common, "--epochs", "1")) == 0
    first = json.loads((run / "metrics.json").read_text())
    assert first["adaptation"]["method"] == "DANN" and first["adaptation"]["adapt_weight"] == 0.5
    assert 0.0 <= first["adaptation"]["last_epoch"]["domain_acc"] <= 1.0
    log = pd.read_csv(run / "logs" / "csv" / "metrics.csv").dropna(subset=["domain_acc"])
    assert list(log["epoch"]) == [0] and 0.0 <= log["domain_acc"].iloc[0] <= 1.0
    assert main(_train(*common, "--epochs", "2", "--resume")) == 0
    # (Lightning's CSV logger starts a new metrics.csv on resume; TensorBoard's events keep both epochs)
    log = pd.read_csv(run / "logs" / "csv" / "metrics.csv").dropna(subset=["domain_acc"])
    assert list(log["epoch"]) == [1]
    again = json.loads((run / "metrics.json").read_text())
    # the DANN schedule continues over the resumed run (its total steps: both epochs)
    assert again["adaptation"]["last_epoch"]["adapt_lambda"] > first["adaptation"]["last_epoch"]["adapt_lambda"]
    assert again["epochs_completed"] == 2 and again["global_step"] > first["global_step"]
    # the exported model is the classifier alone (no domain head), with the training data's statistics
    card = json.loads((run / "model" / "model.json").read_text())
    assert "data_statistics" in card
    capsys.readouterr()
    assert main(_train("--data", str(tmp_path / "source"), "--adapt-to", str(tmp_path / "source"),
                       "--out", str(tmp_path / "r2"), "--epochs", "1")) == 2
    assert "is the training data itself" in capsys.readouterr().err


def test_dann_schedule_and_gradient_reversal() -> None:
    assert dann_lambda(0.0, 1.0) == 0.0
    assert dann_lambda(1.0, 0.3) == pytest.approx(0.3 * (2 / (1 + math.exp(-10)) - 1))
    assert dann_lambda(0.5, 1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    x = torch.ones(3, requires_grad=True)
    GradientReversal.apply(x, 0.7).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -0.7))
