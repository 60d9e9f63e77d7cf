"""The CLI shell: every subcommand has help, bad input gives one clear line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from brahmasifier.cli import COMMANDS, main


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"brahmasifier {command}" in out and "not implemented" not in out


def test_missing_model_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    code = main(["predict", "--model", str(tmp_path / "no_such_run"), "--data", str(tmp_path / "images"),
                 "--out", str(tmp_path / "s.csv"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "brahmasifier predict: error:" in err and "no_such_run" in err
    assert "Traceback" not in err


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "brahmasifier", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("brahmasifier ")
