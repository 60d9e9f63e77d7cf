"""``train --data A B``: several packed stores trained on as one (no copy), every store recorded with its counts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from brahmasifier.cli import main

from .helpers import tiny_store

pytestmark = [pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),
              pytest.mark.filterwarnings("ignore:Experiment logs directory .* exists and is not empty:UserWarning")]


def _train(*args: str) -> list[str]:
    return ["train", "--arch", "compact", "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--batch-size", "16",
            "--lr", "3e-3", "--no-progress", "--seed", "2", "--epochs", "1", "--threads", "1", *args]


def test_train_on_two_stores_records_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tiny_store(tmp_path / "a", 64, seed=1, prefix="a").path
    b = tiny_store(tmp_path / "b", 40, seed=2, n_unlabelled=3, prefix="b").path
    run = tmp_path / "run"
    assert main(_train("--data", str(a), str(b), "--out", str(run))) == 0
    assert not (run / "store").exists()  # nothing packed or copied: the stores are read where they are
    metrics = json.loads((run / "metrics.json").read_text())
    data = metrics["data"]
    assert data["store"] == f"{a} + {b}" and data["n_objects"] == 64 + 43 and data["n_unlabelled_excluded"] == 3
    stores = {entry["path"]: entry for entry in data["stores"]}
    assert list(stores) == [str(a), str(b)]
    assert stores[str(a)]["n_objects"] == 64 and stores[str(b)]["n_objects"] == 43 and stores[str(b)]["n_labelled"] == 40
    assert sum(e["n_train"] for e in stores.values()) == data["n_train"] and data["n_duplicate_ids_across_stores"] == 0
    assert sum(e["n_val"] for e in stores.values()) == data["n_val"] and all(e["n_val"] > 0 for e in stores.values())
    card = json.loads((run / "model" / "model.json").read_text())
    assert card["training"]["data"]["stores"] == data["stores"]
    val = pd.read_csv(run / "val_predictions.csv", dtype={"id": str})
    assert len(val) == data["n_val"] and {i[0] for i in val["id"]} == {"a", "b"}  # validation objects of both stores scored

    # stores of other stamps cannot be read as one: one line naming both, exit 2
    other = tiny_store(tmp_path / "other", 32, seed=3, prefix="o").path
    manifest = other / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"stamp_size": 41', '"stamp_size": 21'))
    capsys.readouterr()
    assert main(_train("--data", str(a), str(other), "--out", str(tmp_path / "r2"))) == 2
    err = capsys.readouterr().err
    assert str(a) in err and str(other) in err and "cannot be read as one store" in err


def test_adapt_to_two_stores(tmp_path: Path) -> None:
    """``--adapt-to T1 T2``: the unlabelled target is both stores read as one (the task reopens them by path)."""
    source = tiny_store(tmp_path / "source", 64, seed=1).path
    t1 = tiny_store(tmp_path / "t1", 20, seed=4, prefix="t").path
    t2 = tiny_store(tmp_path / "t2", 12, seed=5, prefix="u").path
    run = tmp_path / "run"
    assert main(_train("--data", str(source), "--adapt-to", str(t1), str(t2), "--out", str(run))) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["adaptation"]["adapt_to"] == [str(t1), str(t2)]
    assert 0.0 <= metrics["adaptation"]["last_epoch"]["domain_acc"] <= 1.0
    assert not (run / "adapt_store").exists()  # nothing packed or copied
    hparams = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["hyper_parameters"]
    assert hparams["target_store"] == [str(t1), str(t2)]
