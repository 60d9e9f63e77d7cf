"""`brahmasifier simulate` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from brahmasifier.cli import build_parser, main


def test_help_lists_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["simulate", "--out", "x", "--n-per-class", "2"])
    assert args.domains is None and args.engine == "ours" and args.layout == "challenge" and args.workers is None


def test_simulate_writes_and_reruns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lenstronomy")
    argv = ["simulate", "--out", str(tmp_path / "d"), "--n-per-class", "1", "--domains", "slsim",
            "--workers", "1", "--no-preview", "--no-progress"]
    assert main(argv) == 0
    assert "2 objects" in capsys.readouterr().out
    assert len(list((tmp_path / "d" / "slsim_lenses" / "slsim_lenses").glob("D1_L_00000000_*.fits"))) == 5
    assert not (tmp_path / "d" / "hsc_lenses").exists()
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main([*argv[:-4], "--seed", "3", "--workers", "1", "--no-progress"]) == 2
    assert "different settings" in capsys.readouterr().err


def test_bad_domain_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lenstronomy")
    assert main(["simulate", "--out", str(tmp_path), "--n-per-class", "1", "--domains", "des", "--no-progress"]) == 2
    assert "unknown domain" in capsys.readouterr().err
