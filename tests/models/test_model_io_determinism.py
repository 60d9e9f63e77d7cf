"""The same model is written as the same bytes (safetensors' metadata order is random per map)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from brahmasifier.models.card import ModelCard
from brahmasifier.models.io import load_model, save_model


def test_same_model_same_bytes(tmp_path: Path) -> None:
    from tests.tiny_models import varied_model

    card = ModelCard(architecture="compact")
    model = varied_model(card, seed=3)
    blobs = set()
    for k in range(6):
        save_model(model, card, tmp_path / f"m{k}")
        blobs.add((tmp_path / f"m{k}" / "model.safetensors").read_bytes())
    assert len(blobs) == 1
    path = tmp_path / "m0" / "model.safetensors"
    state = load_file(str(path))
    own = model.state_dict()
    assert set(state) == set(own)
    assert all(torch.equal(state[k], own[k].float()) for k in own if own[k].is_floating_point())
    assert isinstance(load_model(tmp_path / "m0")[1], ModelCard)
