"""The one progress helper: a bar when enabled, nothing at all when disabled (``--no-progress``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from brahmasifier._progress import progress_bar
from brahmasifier.cli import main


def test_disabled_bar_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress_bar(range(5), desc="quiet", enabled=False)) == [0, 1, 2, 3, 4]
    with progress_bar(total=7, desc="quiet", unit="obj", enabled=False) as bar:
        bar.update(7)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_enabled_bar_draws_even_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(total=3, desc="loud", unit="obj") as bar:  # capsys: stderr is not a TTY
        bar.update(3)
    err = capsys.readouterr().err
    assert "loud" in err and "3/3" in err


def test_pack_honours_no_progress(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tiny_challenge_tree
    assert main(["pack", str(root), "--out", str(tmp_path / "a"), "--workers", "1"]) == 0
    assert "pack: 100%" in capsys.readouterr().err
    assert main(["pack", str(root), "--out", str(tmp_path / "b"), "--workers", "1", "--no-progress"]) == 0
    assert "pack:" not in capsys.readouterr().err
