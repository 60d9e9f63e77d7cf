"""Issue 16, item 6: a model card or weights that cannot score are refused at load, naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from .tiny import predict, saved_model


@pytest.mark.parametrize(("key", "text", "message"), [
    ("temperature", "Infinity", "temperature inf must be a finite number > 0"),
    ("temperature", "NaN", "temperature nan must be a finite number > 0"),
    ("threshold", "NaN", "threshold nan must be a probability in [0, 1]"),
    ("threshold", "1.5", "threshold 1.5 must be a probability in [0, 1]"),
    ("threshold", "null", "threshold None must be a probability in [0, 1]"),
])
def test_a_card_that_cannot_score_is_refused(tmp_path: Path, data: Path, key: str, text: str, message: str) -> None:
    run = saved_model(tmp_path / "run")
    card = run / "model" / "model.json"
    fields = json.loads(card.read_text())
    fields[key] = "@@"
    card.write_text(json.dumps(fields).replace('"@@"', text))
    ran = predict(data, run, tmp_path / "out")
    assert ran.rc == 2 and message in ran.err and str(card) in ran.err
    assert not (tmp_path / "out").exists()


def test_weights_with_nan_are_refused(tmp_path: Path, data: Path) -> None:
    run = saved_model(tmp_path / "run")
    weights = run / "model" / "model.safetensors"
    state = load_file(str(weights))
    name = next(k for k, t in state.items() if t.is_floating_point())
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(weights))
    ran = predict(data, run, tmp_path / "out")
    assert ran.rc == 2 and "hold NaN or Inf" in ran.err and name in ran.err and str(weights) in ran.err
    assert not (tmp_path / "out").exists()
