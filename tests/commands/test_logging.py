"""The one logging setup: library messages reach stderr once, through the CLI's handler, at the level asked for."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.log import ENV_VAR, StderrHandler, setup_logging


def test_a_library_message_reaches_stderr_once(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    setup_logging()  # a second call (a second main() in one process) replaces the handler, it does not add one
    assert sum(isinstance(h, StderrHandler) for h in logging.getLogger("brahmasifier").handlers) == 1
    log = logging.getLogger("brahmasifier.some.module")
    log.info("made 3 things")
    log.debug("hidden detail")
    log.warning("2 things were odd")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "made 3 things\nWARNING: 2 things were odd\n"


def test_quiet_verbose_and_the_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("brahmasifier.x")
    setup_logging(-1)
    log.info("info")
    setup_logging(1)
    log.debug("debug")
    monkeypatch.setenv(ENV_VAR, "error")
    setup_logging(1)
    log.warning("warning")
    assert capsys.readouterr().err == "debug\n"
    monkeypatch.delenv(ENV_VAR)
    setup_logging()


def test_the_cli_shows_library_messages_at_its_level(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tiny_challenge_tree
    store = tmp_path / "store"
    assert main(["pack", str(root), "--out", str(store), "--no-progress", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["--verbose", "pack", str(root), "--out", str(store), "--no-progress", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "already packed from identical inputs" in captured.out  # the command's result: stdout
    assert captured.err.count(f"{store}: already packed from identical inputs") == 1  # io/pack.py's debug line, once
    assert main(["pack", str(root), "--out", str(store), "--no-progress", "--workers", "1"]) == 0
    assert "already packed" not in capsys.readouterr().err  # not at the default level
    setup_logging()
