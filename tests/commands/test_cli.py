"""The CLI shell: every subcommand has help, bad input gives one clear line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from brahmasifier.cli import COMMANDS, build_parser, main
from brahmasifier.errors import ConfigError


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


def _failing_command(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make `brahmasifier info` raise ``exc`` (the parser is built fresh by main, from the command module)."""
    import brahmasifier.commands.info as info

    def run(args: object) -> int:
        raise exc

    monkeypatch.setattr(info, "run", run)


@pytest.mark.parametrize("exc", [ConfigError("batch_size must be >= 1, got 0"), PermissionError(13, "Permission denied", "/x")])
def test_user_errors_are_one_line(exc: BaseException, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _failing_command(monkeypatch, exc)
    assert main(["info", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brahmasifier info: error: ") and str(exc) in err and "Traceback" not in err


@pytest.mark.parametrize("exc", [RuntimeError("invariant broken: found != stored + rejected"), ValueError("bad argument"),
                                 KeyError("column")])
def test_bugs_keep_their_traceback(exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only BrahmasifierError (and OSError) are user errors; anything else is a bug and must surface as one."""
    _failing_command(monkeypatch, exc)
    with pytest.raises(type(exc)):
        main(["info", "somewhere"])


@pytest.fixture
def fresh_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deprecation notes print once per process; start these tests with none printed yet."""
    import brahmasifier._deprecation as deprecation

    monkeypatch.setattr(deprecation, "_noted", set())


def test_deprecated_spellings_still_work_with_a_note(fresh_notes: None, capsys: pytest.CaptureFixture[str]) -> None:
    from brahmasifier.commands._options import given_settings
    from brahmasifier.commands.train import settings_from_args
    from brahmasifier.inference.config import PredictConfig

    args = build_parser().parse_args(["predict", "--runs", "r1", "r2", "--data", "d", "--out", "o.csv", "--precision", "fp32"])
    config = PredictConfig(**given_settings(args))  # the precision is canonicalised once, in the config
    assert (config.models, config.precision) == (["r1", "r2"], "32-true")
    train_args = build_parser().parse_args(["train", "--model", "resnet18", "--progress", "--data", "x", "--out", "y"])
    config = settings_from_args(train_args)
    assert (config.arch, config.progress) == ("resnet18", True)
    err = capsys.readouterr().err
    for old, new in (("--runs", "--model"), ("'fp32'", "'32-true'"), ("--model", "--arch"), ("--progress", "nothing")):
        assert f"note: option {old} is deprecated; use {new}" in err or f"note: precision {old} is deprecated; use {new}" in err
    assert len(err.strip().splitlines()) == 4  # one line each


def test_old_config_key_model_reads_as_arch(fresh_notes: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from brahmasifier.training.config import read_config_file

    (tmp_path / "old.yaml").write_text("model: vit224\nepochs: 3\n")
    assert read_config_file(tmp_path / "old.yaml") == {"arch": "vit224", "epochs": 3}
    assert "setting 'model' is deprecated; use 'arch'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "predict"])
def test_config_commands_offer_every_setting(command: str) -> None:
    """Train and predict options are generated from TrainConfig / PredictConfig: none missing, none extra."""
    import importlib

    from brahmasifier.inference.config import PredictConfig
    from brahmasifier.training.config import TrainConfig

    module = importlib.import_module(f"brahmasifier.commands.{command}")
    config = TrainConfig if command == "train" else PredictConfig
    offered = {o.setting for o in module.OPTIONS} | {"progress"} | ({"resume"} if command == "train" else set())
    assert offered == set(config.field_names())
