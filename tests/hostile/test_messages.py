"""Issue 16, "poor messages and states": each is one clear line (or the right state), through the real CLI."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from .tiny import cli, labelled_store, predict, write_blind


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


# -- Ctrl-C while scoring or training: rc 130 and the one "interrupted; rerun" line ------------

def test_ctrl_c_while_predict_is_scoring(tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brahmasifier.inference.lightning import EnsembleModule

    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    monkeypatch.setattr(EnsembleModule, "predict_step", _interrupt)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler; SIG_IGN where the suite runs in the background
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 130 and "interrupted; rerun" in ran.err
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works again afterwards (Lightning left SIG_IGN)


def test_ctrl_c_while_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brahmasifier.training.task import LensClassificationTask

    store = labelled_store(tmp_path / "store", n=32)
    monkeypatch.setattr(LensClassificationTask, "training_step", _interrupt)
    before = signal.getsignal(signal.SIGINT)
    ran = cli("train", "--data", store, "--out", tmp_path / "run", "--epochs", "1", "--batch-size", "8",
              "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--val-fraction", "0.25", "--no-progress")
    assert ran.rc == 130 and "interrupted; rerun" in ran.err
    assert signal.getsignal(signal.SIGINT) is before


# -- a pickle-based checkpoint for --init-from / --resume: blocked, in one line ----------------

def _pickled_checkpoint(path: Path) -> Path:
    import fractions

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "hyper_parameters": {"card": {}}, "extra": fractions.Fraction(1, 3)}, path)
    return path


@pytest.mark.parametrize("how", ["init-from", "resume"])
def test_a_pickle_based_checkpoint_is_refused_in_one_line(tmp_path: Path, how: str) -> None:
    store = labelled_store(tmp_path / "store", n=32)
    run = tmp_path / "run"
    if how == "init-from":
        extra = ["--init-from", _pickled_checkpoint(tmp_path / "other.ckpt")]
    else:
        _pickled_checkpoint(run / "checkpoints" / "last.ckpt")
        extra = ["--resume"]
    ran = cli("train", "--data", store, "--out", run, "--epochs", "1", "--batch-size", "8", "--model-kwargs",
              '{"widths": [8, 16], "depths": [0, 1]}', "--val-fraction", "0.25", "--no-progress", *extra)
    assert ran.rc == 2, ran.err
    error = [line for line in ran.err.splitlines() if "error:" in line]
    assert len(error) == 1 and "Traceback" not in ran.err
    assert "weights_only" in error[0] and "fractions.Fraction" in error[0] and ".ckpt" in error[0]


# -- a damaged store: info says so, and every command names the file ---------------------------

def _damage(store: Path, how: str) -> Path:
    import numpy as np

    shard = store / "shards" / "images-00000.npy"
    if how == "missing":
        shard.unlink()
    elif how == "truncated":
        shard.write_bytes(shard.read_bytes()[:-5000])
    elif how == "python objects":
        np.save(shard, np.array([{"not": "pixels"}] * 4, dtype=object), allow_pickle=True)
    elif how == "garbage rejects":
        (store / "rejected.csv").write_bytes(b'stem,file,reason\n"a,b\n\x00\xff,"c",d,e,f\n')
        return store / "rejected.csv"
    return shard


@pytest.mark.parametrize(("how", "message"), [
    ("missing", "shard missing"), ("truncated", "shard truncated"), ("python objects", "shard holds Python objects"),
    ("garbage rejects", "unreadable rejects table"),
])
def test_a_damaged_store_is_named_by_info_and_predict(tmp_path: Path, model: Path, how: str, message: str) -> None:
    store = labelled_store(tmp_path / "store", n=8)
    bad = _damage(store, how)
    for ran in (cli("info", store), predict(store, model, tmp_path / "out")):
        assert ran.rc == 2, (ran.out, ran.err)
        error = [line for line in ran.err.splitlines() if "error:" in line]
        assert len(error) == 1 and str(bad) in error[0] and message in error[0] and "Traceback" not in ran.err


def test_info_on_a_fits_folder_says_it_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "fits").mkdir()
    write_blind(tmp_path / "fits", 1)
    ran = cli("info", tmp_path / "fits")
    assert ran.rc == 2 and "not a store" in ran.err and "brahmasifier pack" in ran.err and "incomplete" not in ran.err


# -- evaluate: a label row given twice counts once; an object labelled 0 and 1 is refused ---------

def _eval_inputs(tmp_path: Path) -> tuple[Path, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 20
    ids, stems = [f"id{k}" for k in range(n)], [f"D1_{'L' if k % 2 else 'N'}_{k:08d}" for k in range(n)]
    pd.DataFrame({"id": ids, "stem": stems, "prob": rng.uniform(size=n)}).to_csv(tmp_path / "probs.csv", index=False)
    return tmp_path / "probs.csv", pd.DataFrame({"id": ids, "stem": stems, "label": [k % 2 for k in range(n)]})


def test_evaluate_counts_a_repeated_label_row_once(tmp_path: Path) -> None:
    import pandas as pd

    probs, labels = _eval_inputs(tmp_path)
    pd.concat([labels, labels.head(3)]).to_csv(tmp_path / "labels.csv", index=False)
    ran = cli("evaluate", "--probs", probs, "--labels", tmp_path / "labels.csv", "--out", tmp_path / "report",
              "--bootstrap", "0", "--no-progress")
    assert ran.rc == 0, ran.err
    assert "matched 20 of 20 predictions" in ran.out and "3 repeated label rows" in ran.out


def test_evaluate_refuses_an_object_labelled_both_ways(tmp_path: Path) -> None:
    import pandas as pd

    probs, labels = _eval_inputs(tmp_path)
    flipped = labels.head(2).assign(label=lambda t: 1 - t["label"])
    pd.concat([labels, flipped]).to_csv(tmp_path / "labels.csv", index=False)
    ran = cli("evaluate", "--probs", probs, "--labels", tmp_path / "labels.csv", "--out", tmp_path / "report",
              "--bootstrap", "0", "--no-progress")
    assert ran.rc == 2 and "2 object(s) carry two different labels" in ran.err and "id0" in ran.err


# -- train --out and simulate --out refuse an unrelated non-empty folder, as pack does ---------

@pytest.mark.parametrize("command", ["train", "simulate", "pack"])
def test_an_unrelated_non_empty_out_folder_is_refused(tmp_path: Path, command: str) -> None:
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"x")
    store = labelled_store(tmp_path / "store", n=16)
    (tmp_path / "fits").mkdir()
    write_blind(tmp_path / "fits", 1)
    args = {"train": ["train", "--data", store, "--out", out, "--epochs", "1", "--no-progress"],
            "simulate": ["simulate", "--out", out, "--n-per-class", "1", "--workers", "1", "--no-progress"],
            "pack": ["pack", tmp_path / "fits", "--out", out, "--workers", "1", "--no-progress"]}[command]
    ran = cli(*args)
    assert ran.rc == 2 and "folder is not empty" in ran.err and "holiday.jpg" in ran.err
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


@pytest.mark.parametrize("command", ["simulate", "pack"])
def test_zero_workers_is_refused(tmp_path: Path, command: str) -> None:
    (tmp_path / "fits").mkdir()
    write_blind(tmp_path / "fits", 1)
    args = {"simulate": ["simulate", "--out", tmp_path / "sim", "--n-per-class", "1"],
            "pack": ["pack", tmp_path / "fits", "--out", tmp_path / "store"]}[command]
    ran = cli(*args, "--workers", "0", "--no-progress")
    assert ran.rc == 2 and "workers must be positive, got 0" in ran.err
    assert not (tmp_path / "sim").exists() and not (tmp_path / "store").exists()


def test_pack_into_a_closed_pipe_ends_quietly_with_the_store_complete(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "fits").mkdir()
    write_blind(tmp_path / "fits", 2)
    process = subprocess.Popen([sys.executable, "-m", "brahmasifier", "pack", str(tmp_path / "fits"), "--out",
                                str(tmp_path / "store"), "--workers", "1", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: nobody reads what pack prints
    with process.stderr:
        err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141 and err == ""
    assert cli("info", tmp_path / "store").rc == 0


# -- killing pack's main process ends its workers; they never finish their chunk unseen -------

def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to follow the worker processes")
def test_killing_pack_ends_its_workers_before_they_finish_a_chunk(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    import numpy as np

    from brahmasifier.bands import BANDS
    from brahmasifier.io.fits import write_image_fits
    from brahmasifier.io.naming import band_filename

    data = tmp_path / "fits"
    data.mkdir()
    # An ID keyword in a primary-HDU image sends every file to the astropy reader (~1 ms each):
    # 2 chunks of 1,000 objects take each worker several seconds.
    originals = []
    for b, band in enumerate(BANDS):
        originals.append(tmp_path / f"proto_{band}.fits")
        write_image_fits(originals[-1], np.full((41, 41), float(b)), header={"ID": "same"})
    for k in range(2000):
        for band, original in zip(BANDS, originals, strict=True):
            os.link(original, data / band_filename(f"object_{k:05d}", band))
    store = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-m", "brahmasifier", "pack", str(data), "--out", str(store),
                                "--workers", "2", "--shard-size", "1000", "--no-progress"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_descendants(process.pid)) < 3 and time.monotonic() < deadline:  # forkserver + 2 workers
            time.sleep(0.05)
        workers = _descendants(process.pid)
        assert len(workers) >= 3 and process.poll() is None
        time.sleep(0.5)
        process.kill()
        process.wait()
        parts_at_kill = len(list((store / "_parts").glob("part-*"))) if (store / "_parts").is_dir() else 0
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, workers)), "pack's workers outlived it"
        parts_after = len(list((store / "_parts").glob("part-*"))) if (store / "_parts").is_dir() else 0
        assert parts_after == parts_at_kill == 0  # no chunk was finished after the parent died
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- free disk space is checked against an estimate before writing ------------------------------

@pytest.mark.parametrize("command", ["pack", "predict"])
def test_a_run_that_cannot_fit_on_disk_is_refused_before_writing(tmp_path: Path, model: Path, command: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    (tmp_path / "fits").mkdir()
    write_blind(tmp_path / "fits", 3)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 50_000, 50_000))  # 3 objects need ~100 kB
    if command == "pack":
        ran = cli("pack", tmp_path / "fits", "--out", tmp_path / "store", "--workers", "1", "--no-progress")
        written = list((tmp_path / "store").rglob("*.npy")) if (tmp_path / "store").exists() else []
    else:
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1_000, 1_000))  # ~2 kB needed
        ran = predict(tmp_path / "fits", model, tmp_path / "out")
        written = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert ran.rc == 2 and "not enough free space" in ran.err and "3 objects" in ran.err
    assert written == []
