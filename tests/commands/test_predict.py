"""`brahmasifier predict` on the command line: arguments reach the API, the summary is printed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from brahmasifier.cli import build_parser, main
from brahmasifier.inference.submission import read_submission
from brahmasifier.survey.checks import PIXEL_COLUMNS


def _saved_run(run: Path) -> Path:
    """A run-like folder with a tiny random-weight compact model in ``run/model``."""
    import torch

    from brahmasifier.models import ModelCard, build_model, save_model

    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [1, 1]})
    torch.manual_seed(3)
    save_model(build_model(card), card, run / "model")
    return run


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["predict", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--runs", "--data", "--out", "--probs", "--tta", "--threshold", "--onnx", "--precision",
                   "--devices", "--max-parts"):
        assert option in text


def test_bad_threshold_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["predict", "--model", "r", "--data", "d", "--out", "o", "--threshold", "high"])
    assert exc.value.code == 2
    assert "threshold" in capsys.readouterr().err


def test_predict_command_end_to_end(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    run = _saved_run(tmp_path / "run")
    code = main(["predict", "--model", str(run), "--data", str(root), "--out", str(tmp_path / "o" / "submission.csv"),
                 "--probs", str(tmp_path / "o" / "probs.csv"), "--tta", "d4", "--threshold", "0.5",
                 "--workers", "0", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "found 24 objects: scored 24 + rejected 0" in printed and "TTA d4" in printed
    submission = read_submission(tmp_path / "o" / "submission.csv")
    assert sorted(submission["id"]) == sorted(truth["id"])
    probs = pd.read_csv(tmp_path / "o" / "probs.csv", dtype={"id": str})
    assert list(probs.columns) == ["id", "stem", "prob", "logit", "logit_run", "n_nan", *PIXEL_COLUMNS]
    assert (tmp_path / "o" / "rejected.csv").is_file()


def test_repair_score_repairs_unflagged_objects_and_says_so(tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--repair-score 0`` turns back every band ≥ 1° off, flagged or not: the column and the summary count them."""
    import numpy as np

    root, _ = tiny_challenge_tree
    run = _saved_run(tmp_path / "run")
    counts = {}
    for tag, extra in (("flagged", []), ("all", ["--repair-score", "0"]), ("off", ["--no-register-bands"])):
        out = tmp_path / tag
        assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(out / "s.csv"), "--probs",
                     str(out / "p.csv"), "--workers", "0", "--no-progress", *extra]) == 0
        probs = pd.read_csv(out / "p.csv", dtype={"id": str})
        angles = probs[[c for c in probs.columns if c.startswith("band_angle_")]].to_numpy()
        counts[tag] = probs["bands_registered"].to_numpy()
        printed = capsys.readouterr().out
        if tag == "all":  # every band at least 1° from the median band is turned back (angles rounded to 0.01°)
            assert np.array_equal(counts[tag], (np.abs(angles) >= 1.0 - 0.005).sum(axis=1))
            assert counts[tag].sum() > counts["flagged"].sum()
            assert f"{int((counts[tag] > 0).sum())} objects had bands re-aligned" in printed
        if tag == "flagged":  # only flagged objects
            assert not counts[tag][probs["misregistered"].to_numpy() == 0].any()
    assert not counts["off"].any()
    assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(tmp_path / "x.csv"),
                 "--repair-score", "-1"]) == 2
    assert "repair_score must be a finite number >= 0" in capsys.readouterr().err


def test_band_groups_give_one_angle_per_group(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``--band-groups gy,riz``: g, y share an angle, r, i, z stay at 0, every object is re-aligned; bad specs refused."""
    import numpy as np

    root, _ = tiny_challenge_tree
    run = _saved_run(tmp_path / "run")
    out = tmp_path / "grp"
    assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(out / "s.csv"), "--probs",
                 str(out / "p.csv"), "--workers", "0", "--no-progress", "--band-groups", "gy,riz"]) == 0
    probs = pd.read_csv(out / "p.csv", dtype={"id": str})
    assert np.array_equal(probs["band_angle_g"], probs["band_angle_y"])
    assert not probs[["band_angle_r", "band_angle_i", "band_angle_z"]].to_numpy().any()
    assert probs["band_angle_g"].abs().max() > 0  # the groups were estimated, not skipped
    assert np.array_equal(probs["bands_registered"], 2 * (probs["band_angle_g"].abs() >= 1.0 - 0.005))
    capsys.readouterr()
    assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(tmp_path / "x.csv"),
                 "--band-groups", "gy,ri"]) == 2
    assert "band groups 'gy,ri': every band of grizy exactly once" in capsys.readouterr().err
    for spec in ("grizy", "g,r,i,z,y"):  # one group, or each band its own: refused, with what to do instead
        assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(tmp_path / "x.csv"),
                     "--band-groups", spec]) == 2
        assert "give --band-groups none" in capsys.readouterr().err
