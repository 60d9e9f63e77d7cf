"""``--config FILE`` for every command, through the real CLI on tiny data; and the one validation helper.

The file's settings, options overriding them, unknown keys refused naming the key and the file,
old spellings noted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brahmasifier.cli import COMMANDS, build_parser, main
from brahmasifier.errors import ConfigError


@pytest.fixture
def fresh_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    import brahmasifier._deprecation as deprecation

    monkeypatch.setattr(deprecation, "_noted", set())


def _yaml(path: Path, settings: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(settings))
    return path


def test_every_command_takes_config(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert "--config FILE" in capsys.readouterr().out, name


def test_pack_from_a_file_with_an_option_overriding_it(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    config = _yaml(tmp_path / "pack.yml", {"roots": [str(root)], "out": str(tmp_path / "ignored"), "shard-size": 5,
                                          "no_progress": True, "workers": 1})
    assert main(["pack", "--config", str(config), "--out", str(tmp_path / "store")]) == 0  # the option wins over the file
    assert not (tmp_path / "ignored").exists()
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["n_objects"] == len(truth)
    assert len(manifest["shards"]) == math.ceil(len(truth) / 5)  # shard_size from the file
    assert f"packed {len(truth)} objects" in capsys.readouterr().out


def test_simulate_from_a_file_with_a_population_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _yaml(tmp_path / "sim.yml", {
        "out": str(tmp_path / "sim"), "n_per_class": 1, "seed": 5, "domains": "slsim", "no_preview": True,
        "progress": False, "workers": 1,
        "population": {"min_arc_snr": 35.0, "lens_cuts": {"mag_arc_limit": [["i", 23.5]]}}})
    assert main(["simulate", "--config", str(config), "--seed", "6"]) == 0
    settings = json.loads((tmp_path / "sim" / "simulation.json").read_text())["settings"]
    text = json.dumps(settings)
    assert settings["seed"] == 6  # the option over the file
    assert '"min_arc_snr": 35.0' in text and "23.5" in text  # PopulationConfig from the file's section
    assert "2 objects" in capsys.readouterr().out

    bad = _yaml(tmp_path / "bad.yml", {"out": str(tmp_path / "x"), "n_per_class": 1, "population": {"min_arc_sn": 3}})
    assert main(["simulate", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yml: population" in err and "min_arc_sn" in err and not (tmp_path / "x").exists()


def test_predict_from_a_file_and_the_old_device_key_noted(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], fresh_notes: None) -> None:
    from tests.commands.test_predict import _saved_run

    root, truth = tiny_challenge_tree
    run = _saved_run(tmp_path / "run")
    config = _yaml(tmp_path / "predict.yml", {
        "model": [str(run)], "data": [str(root)], "out": str(tmp_path / "o" / "submission.csv"), "tta": "d4",
        "threshold": 0.5, "workers": 0, "progress": False, "device": "cpu"})
    assert main(["predict", "--config", str(config), "--tta", "none"]) == 0
    captured = capsys.readouterr()
    assert "TTA none" in captured.out and f"found {len(truth)} objects" in captured.out
    assert "predict.yml: setting 'device' is deprecated; use 'accelerator'" in captured.err
    assert (tmp_path / "o" / "submission.csv").is_file()


def test_old_device_option_is_noted(fresh_notes: None, capsys: pytest.CaptureFixture[str]) -> None:
    from brahmasifier.commands._options import given_settings
    from brahmasifier.inference.config import PredictConfig

    args = build_parser().parse_args(["predict", "--model", "r", "--data", "d", "--out", "o.csv", "--device", "cpu"])
    assert PredictConfig(**given_settings(args)).accelerator == "cpu"
    assert "option --device is deprecated; use --accelerator" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "settings", "named"), [
    ("predict", {"modle": ["r"]}, "modle"),
    ("inject", {"hosts": "h", "out": "o", "n": 1, "min-arc-snr": 5, "attemps": 3}, "attemps"),
    ("evaluate", {"probs": "p.csv", "bootstrapp": 3}, "bootstrapp"),
    ("info", {"store": "s", "json": "yes"}, "json"),
])
def test_unknown_or_bad_keys_are_refused_naming_key_and_file(command: str, settings: dict[str, object], named: str,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _yaml(tmp_path / "c.yml", settings)
    assert main([command, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"brahmasifier {command}: error: {config}:") and named in err


def test_a_bad_value_in_a_file_goes_through_the_option_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _yaml(tmp_path / "c.yml", {"out": "o", "n_per_class": 1, "seed": -1})
    assert main(["simulate", "--config", str(config)]) == 2
    assert "c.yml: seed: must be in [0, 2^32)" in capsys.readouterr().err
    config = _yaml(tmp_path / "c.yml", {"out": "o", "n_per_class": 1, "layout": "flat"})
    assert main(["simulate", "--config", str(config)]) == 2
    assert "c.yml: layout: 'flat' is not one of challenge, test" in capsys.readouterr().err
    assert not Path("o").exists()


def test_train_reads_its_file_and_refuses_unknown_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _yaml(tmp_path / "t.yml", {"epochs": 2, "batchsize": 4})
    assert main(["train", "--config", str(config), "--data", "d", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "t.yml: unknown training settings ['batchsize']" in err


def test_problems_lists_every_bad_value_once() -> None:
    from brahmasifier.settings import Problems
    from brahmasifier.simulation.slsim_engine.config import SlsimConfig
    from brahmasifier.survey.transforms import PerturbConfig

    problems = Problems("x: bad ")
    problems.choice("kernel", "cubic", ("bilinear", "bicubic"))
    problems.within("fraction", float("nan"), 0.0, 1.0)
    problems.within("offset", 3.0, 0.0, 2.0, unit="pixels")
    problems.within("fill", float("inf"))
    problems.within("ok", 0.5, 0.0, 1.0)
    with pytest.raises(ConfigError) as exc:
        problems.check()
    assert str(exc.value) == ("x: bad kernel 'cubic' (expected one of bilinear, bicubic); fraction nan (expected 0..1); "
                              "offset 3.0 (expected 0..2 pixels); fill inf (expected a finite value)")
    with pytest.raises(ConfigError, match=r"footprint 'round'.*misregister fraction 1.5 \(expected 0..1\).*fill nan"):
        PerturbConfig(footprint="round", misregister_fraction=1.5, fill=float("nan"))
    with pytest.raises(ConfigError, match=r"scene_offset nan \(expected 0..10 pixels\)"):
        SlsimConfig(scene_offset=float("nan"))
    from brahmasifier.simulation.population import PopulationConfig

    with pytest.raises(ConfigError, match=r"star_probability 1.5 \(expected 0..1\)"):
        PopulationConfig(star_probability=1.5)


def test_dataclass_from_settings_refuses_unknown_fields() -> None:
    from brahmasifier.settings import dataclass_from_settings
    from brahmasifier.simulation.population import PopulationConfig

    config = dataclass_from_settings(PopulationConfig, {"max-rein": 2.5, "lens_cuts": {"min_image_separation": 1.0}},
                                     "f.yml: population")
    assert config.max_rein == 2.5 and config.lens_cuts.min_image_separation == 1.0
    with pytest.raises(ConfigError, match=r"f.yml: population.lens_cuts: unknown LensCuts settings \['sep'\]"):
        dataclass_from_settings(PopulationConfig, {"lens_cuts": {"sep": 1}}, "f.yml: population")


def test_pack_options_are_the_packconfig_fields() -> None:
    from dataclasses import fields

    from brahmasifier.commands.pack import SETTINGS
    from brahmasifier.io.pack_config import PackConfig

    assert sorted([o.setting for o in SETTINGS] + ["roots", "progress"]) == sorted(f.name for f in fields(PackConfig))


def test_evaluate_options_are_the_evaluateconfig_fields_checked_once(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import fields

    from brahmasifier.commands.evaluate import SETTINGS
    from brahmasifier.evaluation.config import EvaluateConfig

    assert sorted(o.setting for o in SETTINGS) == sorted(f.name for f in fields(EvaluateConfig))
    with pytest.raises(ConfigError, match=r"^prevalence must be in \(0, 1\), got 2.0; n_bootstrap must be >= 0, got -1$"):
        EvaluateConfig(prevalence=2.0, bootstrap=-1)
    settings = _yaml(tmp_path / "e.yml", {"prevalence": 0.5, "threshold": 1.5})
    args = ["evaluate", "--probs", str(tmp_path / "p.csv"), "--labels", str(tmp_path / "t.csv"), "--out", str(tmp_path / "r")]
    assert main([*args, "--config", str(settings)]) == 2
    assert "threshold must be a probability in [0, 1], got 1.5" in capsys.readouterr().err
    assert main([*args, "--config", str(settings), "--threshold", "0.3", "--temperature", "0"]) == 2
    assert "error: temperature must be > 0, got 0.0\n" in capsys.readouterr().err


def test_export_options_are_the_exportconfig_fields_checked_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import fields

    from brahmasifier.commands.export import SETTINGS
    from brahmasifier.inference.export_config import ExportConfig

    assert sorted(o.setting for o in SETTINGS) == sorted(f.name for f in fields(ExportConfig))
    with pytest.raises(ConfigError, match=r"^unknown TTA mode 'x'.*; opset must be >= 17, got 13$"):
        ExportConfig(tta="x", opset=13)
    settings = _yaml(tmp_path / "x.yml", {"model": str(tmp_path / "m"), "out": str(tmp_path / "m.onnx"), "opset": 13,
                                          "no_verify": True})
    assert main(["export", "--config", str(settings)]) == 2
    assert "error: opset must be >= 17, got 13\n" in capsys.readouterr().err


def test_check_options_are_the_checkconfig_fields_checked_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import fields

    from brahmasifier.commands.check import SETTINGS
    from brahmasifier.shift.config import CheckConfig

    assert sorted([o.setting for o in SETTINGS] + ["data", "progress"]) == sorted(f.name for f in fields(CheckConfig))
    with pytest.raises(ConfigError, match=r"^batch_size must be >= 1, got 0; seed must be >= 0, got -1$"):
        CheckConfig(batch_size=0, seed=-1)
    settings = _yaml(tmp_path / "c.yml", {"data": [str(tmp_path)], "out": str(tmp_path / "c"), "batch_size": 0})
    assert main(["check", "--config", str(settings), "--against", str(tmp_path)]) == 2
    assert "error: batch_size must be >= 1, got 0\n" in capsys.readouterr().err


def test_info_options_are_the_infoconfig_fields() -> None:
    from dataclasses import fields

    from brahmasifier.commands.info import SETTINGS, InfoConfig

    assert sorted([o.setting for o in SETTINGS] + ["store"]) == sorted(f.name for f in fields(InfoConfig))
    with pytest.raises(ConfigError, match=r"^top must be 0 or more, got -1$"):
        InfoConfig(store="s", top=-1)
