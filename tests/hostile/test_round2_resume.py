"""Issue 25: ``train`` killed mid-epoch (SIGKILL) and resumed ends with the weights of an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .tiny import labelled_store

#: Runs ``brahmasifier train ARGS`` and SIGKILLs itself right after the periodic checkpoint of step KILL_AT.
_KILLER = """
import os, signal, sys
from brahmasifier.training.task import LensClassificationTask
from brahmasifier.cli import main
kill_at = int(sys.argv[1])
def on_train_batch_end(self, outputs, batch, batch_idx):
    if self.global_step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
LensClassificationTask.on_train_batch_end = on_train_batch_end
sys.exit(main(sys.argv[2:]))
"""


def _args(store: Path, run: Path) -> list[str]:
    return ["train", "--data", str(store), "--out", str(run), "--epochs", "2", "--batch-size", "8", "--model-kwargs",
            json.dumps({"widths": [8, 16], "depths": [1, 1], "drop_rate": 0.3}), "--val-fraction", "0.25",
            "--threads", "1", "--no-progress", "--checkpoint-every-steps", "2", "--patience", "0", "--precision", "32-true"]


def _weights(run: Path) -> dict[str, object]:
    """The weights at the end of training (``last.ckpt``; the exported model is the best epoch's, maybe an earlier one)."""
    import torch

    return dict(torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"])


@pytest.mark.parametrize("kill_at", [6])  # mid epoch 1 (4 batches per epoch): after an epoch boundary and a mid-epoch checkpoint
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path: Path, kill_at: int) -> None:
    import torch

    store = labelled_store(tmp_path / "store", 40)
    whole = subprocess.run([sys.executable, "-m", "brahmasifier", *_args(store, tmp_path / "whole")],
                           capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr
    killed = subprocess.run([sys.executable, "-c", _KILLER, str(kill_at), *_args(store, tmp_path / "cut")],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr  # SIGKILL
    resumed = subprocess.run([sys.executable, "-m", "brahmasifier", *_args(store, tmp_path / "cut"), "--resume"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name  # type: ignore[arg-type]
    assert f"(step {kill_at}) from batch" in resumed.stderr + resumed.stdout
