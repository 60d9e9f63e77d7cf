"""Real processes: SIGKILL a run after a mid-epoch checkpoint and resume it; DDP with 2 CPU ranks (gloo)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from brahmasifier.models import load_model

from .helpers import TINY_MODEL, tiny_store

pytestmark = pytest.mark.slow


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "brahmasifier", "train", "--no-progress", "--threads", "1", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_kill_mid_epoch_then_resume(tmp_path: Path) -> None:
    tiny_store(tmp_path / "store", 200)  # 180 train -> 12 steps/epoch at batch 16
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "store"), "--out", str(run), "--epochs", "2", "--batch-size", "16",
            "--checkpoint-every-steps", "3", "--limit-val-batches", "1", "--seed", "3"]
    steps_per_epoch = math.ceil(180 / 16)
    proc = subprocess.Popen(_command(*args), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    try:
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert last.exists(), "no mid-epoch checkpoint appeared"
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert 0 < killed_at < 2 * steps_per_epoch
    assert not (run / "model").exists()

    done = subprocess.run(_command("--out", str(run), "--resume"), env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "val AUC" in done.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    assert metrics["global_step"] == 2 * steps_per_epoch
    model, card = load_model(run)
    assert card.training["epochs_completed"] == 2
    assert model(torch.zeros(2, 5, 41, 41)).shape == (2,)


def test_ddp_two_cpu_ranks(tmp_path: Path) -> None:
    tiny_store(tmp_path / "store", 144)  # 130 train (label x domain split) over 2 ranks
    run = tmp_path / "ddp"
    done = subprocess.run(
        _command("--data", str(tmp_path / "store"), "--out", str(run), "--epochs", "1", "--batch-size", "16",
                 "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--model-kwargs", json.dumps(TINY_MODEL)),
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    n_train = metrics["data"]["n_train"]
    assert metrics["global_step"] == math.ceil(math.ceil(n_train / 2) / 16)  # each rank sees half the data
    assert done.stdout.count("val AUC") == 1  # only rank 0 reports and writes
    assert sorted(p.name for p in (run / "model").iterdir()) == ["model.json", "model.safetensors"]
    load_model(run)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ddp_two_cpu_ranks_train_straight_from_fits_roots(tiny_challenge_tree, tmp_path: Path) -> None:
    """FITS roots are packed once per node in prepare_data (not by every rank), then both ranks train on the store.

    Launched with torchrun, so both ranks start at the same moment (as under SLURM): were every
    rank to pack, the second would find the first holding the pack lock and fail.
    """
    root, truth = tiny_challenge_tree
    run, cache = tmp_path / "ddp", tmp_path / "cache"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
                "--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    args = _command("--data", str(root), "--out", str(run), "--cache-dir", str(cache), "--epochs", "1", "--batch-size", "8",
                    "--val-fraction", "0.2", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                    "--model-kwargs", json.dumps(TINY_MODEL))
    done = subprocess.run([*torchrun, *args[1:]], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert output.count("packing FITS roots") == 1  # one pack, announced once
    store = json.loads((cache / "manifest.json").read_text())
    assert store["n_objects"] == len(truth) and store["objects_packed_this_run"] == len(truth)
    assert not (cache / "_parts").exists()  # the pack finished and cleaned up
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["n_objects"] == len(truth) and metrics["data"]["store"] == str(cache)
    assert metrics["global_step"] == math.ceil(math.ceil(metrics["data"]["n_train"] / 2) / 8)  # each rank: half
    load_model(run)
