"""`brahmasifier train` CLI: FITS roots packed on the fly, --config layering, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from brahmasifier.cli import build_parser, main
from brahmasifier.commands.train import settings_from_args

pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
)


def test_settings_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"epochs": 4, "batch_size": 64, "arch": "compact"}))
    args = build_parser().parse_args(["train", "--config", str(cfg), "--data", "x", "--out", "y", "--epochs", "9",
                                      "--patience", "0"])
    config = settings_from_args(args)
    assert (config.epochs, config.batch_size, config.patience, config.data) == (9, 64, None, ["x"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("epoch: 3\n")
    with pytest.raises(ValueError, match="bad.yaml: unknown training settings"):
        settings_from_args(build_parser().parse_args(["train", "--config", str(bad)]))


def test_train_from_fits_roots(tiny_challenge_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    run = tmp_path / "run"
    code = main(["train", "--data", str(root), "--out", str(run), "--epochs", "1", "--batch-size", "8", "--no-progress",
                 "--model-kwargs", json.dumps({"widths": [8, 16], "depths": [0, 1]}), "--val-fraction", "0.2",
                 "--normalization", "per_image", "--band-mapping", "irgzy", "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    out = capsys.readouterr().out
    assert "val AUC" in out and str(run / "model") in out
    card = json.loads((run / "model" / "model.json").read_text())
    assert card["normalization"] == {"name": "per_image", "valid_only": True} and card["bands"] == ["i", "r", "g", "z", "y"]
    assert card["training"]["data"]["n_objects"] == len(truth)
    assert (tmp_path / "cache" / "manifest.json").is_file()


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "brahmasifier train: error:" in err and "not found" in err and "Traceback" not in err


@pytest.mark.parametrize("preset", ["reference", "vit224", "cpu_default", "survey_pixels", "slsim_2core"])
def test_presets_parse(preset: str) -> None:
    from brahmasifier.training.config import merge_settings, read_config_file

    config = merge_settings(read_config_file(Path(__file__).parents[2] / "configs" / f"{preset}.yaml"))
    assert config.arch in {"convnext_tiny", "vit224", "compact"} and config.lr is not None
    if preset == "slsim_2core":  # the documented SLSim finder: survey moves and colour residuals against i
        assert (config.aug_rotate, config.aug_shift, config.colour_residuals) == (180.0, 2.0, "i")
        assert config.survey_augment()["resample_bands"] == 30.0  # repaired bands' resampling, measured
