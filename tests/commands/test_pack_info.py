"""`brahmasifier pack` and `brahmasifier info` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.io import open_store
from brahmasifier.io.fits import write_band_fits
from brahmasifier.io.naming import band_filename


def test_pack_then_info(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    extra = tmp_path / "extra"
    extra.mkdir()
    image = np.ones((41, 41), np.float32)
    for band in "griz":  # incomplete object: rejected
        write_band_fits(extra / band_filename("D1_N0009999", band), 5, band, image)
    for band in "grizy":  # complete, but its y band has a NaN and its ID repeats a tree object
        img = image.copy()
        if band == "y":
            img[0, 0] = np.nan
        write_band_fits(extra / band_filename("dup", band), truth.loc[0, "id"], band, img)
    out = tmp_path / "store"
    assert main(["pack", str(root), str(extra), "--out", str(out), "--workers", "1", "--shard-size", "10", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"packed 25 objects into {out}" in printed
    assert "rejected 1 objects and 0 stray files" in printed
    assert "duplicate IDs: 2 objects; with NaN/Inf pixels: 1" in printed
    assert "objects/s" in printed
    store = open_store(out)
    assert len(store) == 25 and store.index["duplicate_id"].sum() == 2

    assert main(["pack", str(root), str(extra), "--out", str(out), "--no-progress"]) == 0
    assert "already packed" in capsys.readouterr().out

    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "25 objects in 3 shards" in text and "lens: hsc 6, slsim 6" in text and "unknown: unknown 1" in text
    assert "missing band(s) y" in text and "NaN/Inf-affected: 1 objects (1 pixels)" in text

    assert main(["info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_objects"] == 25 and summary["n_shards"] == 3
    assert summary["counts"] == {"-1": {"unknown": 1}, "0": {"hsc": 6, "slsim": 6}, "1": {"hsc": 6, "slsim": 6}}
    assert summary["n_rejected_objects"] == 1 and summary["top_reject_reasons"] == {"missing band(s) y": 1}
    assert summary["n_duplicate_id"] == 2 and summary["n_with_nan"] == 1 and summary["size_bytes"] > 25 * 5 * 41 * 41 * 4


def test_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "not a store (no manifest.json)" in capsys.readouterr().err  # an empty folder is no incomplete store
    assert main(["pack", str(tmp_path / "missing"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    assert "missing: input folder does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["pack", str(tmp_path / "empty"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    assert "no challenge band files" in capsys.readouterr().err
