"""Issue 25: blank objects are not scored; a card or weights file that would falsify scores is refused at load; no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS, STAMP_SIZE

from .tiny import accounted_stems, cli, labelled_store, one_line_error, predict, read_csv_text, write_blind, write_blind_object


def test_all_nan_and_all_zero_objects_are_rejected_with_a_reason(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    write_blind_object(data, "object_00007", np.full((len(BANDS), STAMP_SIZE, STAMP_SIZE), np.nan))
    write_blind_object(data, "object_00008", np.zeros((len(BANDS), STAMP_SIZE, STAMP_SIZE)))
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 0, ran.err
    scored = set(read_csv_text(tmp_path / "out" / "probs.csv")["stem"])
    assert scored == {"object_00000", "object_00001"}
    rejected = read_csv_text(tmp_path / "out" / "rejected.csv").set_index("stem")
    for stem in ("object_00007", "object_00008"):
        assert "no data" in rejected.loc[stem, "reason"]
    assert accounted_stems(tmp_path / "out") >= {"object_00007", "object_00008"}
    packed = cli("pack", data, "--out", tmp_path / "store", "--workers", "1", "--no-progress")
    assert packed.rc == 0 and "rejected 2 objects" in packed.out


def _copy_model(model: Path, tmp_path: Path, **card: object) -> Path:
    copy = tmp_path / "model_copy"
    shutil.copytree(model, copy)
    path = copy / "model" / "model.json"
    data = json.loads(path.read_text())
    for key, value in card.items():
        if key.startswith("normalization."):
            data["normalization"][key.split(".", 1)[1]] = value
        elif key.startswith("model_kwargs."):
            data["model_kwargs"][key.split(".", 1)[1]] = value
        else:
            data[key] = value
    path.write_text(json.dumps(data))
    return copy


@pytest.mark.parametrize(("card", "words"), [
    ({"normalization.softening": -1}, "softening"),
    ({"normalization.softening": 0}, "softening"),
    ({"normalization.eps": float("nan")}, "eps"),
    ({"normalization.core_radius": 0}, "core_radius"),
    ({"normalization.colour_residuals": "../x"}, "colour_residuals"),
    ({"temperature": 1e-300}, "temperature"),
    ({"temperature": 1e300}, "temperature"),
    ({"input_size": 100000}, "input_size"),
    ({"model_kwargs.checkpoint_path": "/etc/passwd"}, "checkpoint_path"),
])
def test_a_card_that_would_falsify_scores_is_refused_at_load(tmp_path: Path, data: Path, model: Path,
                                                             card: dict[str, object], words: str) -> None:
    normalization = {"name": "asinh_mad"} if any(k.startswith("normalization.") for k in card) else None
    broken = _copy_model(model, tmp_path, **({"normalization": normalization} if normalization else {}))
    broken = _copy_model(broken, tmp_path / "b", **card)
    one_line_error(predict(data, broken, tmp_path / "out"), words)
    assert not (tmp_path / "out" / "submission.csv").exists()


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_weights_stored_as_integers_or_booleans_are_refused(tmp_path: Path, data: Path, model: Path, dtype: str) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    copy = _copy_model(model, tmp_path)
    weights = copy / "model" / "model.safetensors"
    state = load_file(str(weights))
    name = next(k for k, t in state.items() if t.is_floating_point())
    state[name] = state[name].to(getattr(torch, dtype))
    save_file(state, str(weights))
    one_line_error(predict(data, copy, tmp_path / "out"), "type", name)


@pytest.mark.parametrize(("args", "words"), [
    (["--devices", "0"], "devices"),
    (["--max-time", "99:99"], "max_time"),
    (["--seed", "-1"], "seed"),
    (["--input-size", "5000"], "input_size"),
])
def test_train_settings_that_raised_tracebacks_are_one_line_errors(tmp_path: Path, args: list[str], words: str) -> None:
    store = labelled_store(tmp_path / "store", 8)
    ran = cli("train", "--data", store, "--out", tmp_path / "run", "--epochs", "1", "--no-progress", *args)
    one_line_error(ran, words)


def test_predict_devices_zero_is_aone_line_error(tmp_path: Path, data: Path, model: Path) -> None:
    one_line_error(predict(data, model, tmp_path / "out", "--devices", "0"), "devices")


def test_info_on_a_store_index_without_a_label_column_is_aone_line_error(tmp_path: Path) -> None:
    store = labelled_store(tmp_path / "store", 4)
    index = pd.read_parquet(store / "index.parquet").drop(columns=["label"])
    index.to_parquet(store / "index.parquet")
    one_line_error(cli("info", store), "label")


def test_negative_top_is_refused(tmp_path: Path) -> None:
    store = labelled_store(tmp_path / "store", 4)
    ran = cli("info", store, "--top", "-3")
    assert ran.rc == 2 and "0 or more" in ran.err
