"""Model on disk: ``model.safetensors`` (weights, no pickle) + ``model.json`` (the card)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier.models.card import CARD_FILENAME, WEIGHTS_FILENAME, ModelCard, ModelFormatError
from brahmasifier.models.classifier import LensClassifier, build_model

#: Sub-folder of a run directory that holds the exported model.
RUN_MODEL_DIR = "model"


def resolve_model_dir(path: str | os.PathLike[str]) -> Path:
    """Model folder for a model folder, a ``model.json`` path or a run dir (→ ``run/model``)."""
    path = Path(path)
    if path.is_file():
        if path.name == CARD_FILENAME or path.suffix == ".json":
            return path.parent
        if path.suffix == ".safetensors":
            return path.parent
        raise ModelFormatError(f"{path}: not a model folder, model.json or run directory")
    if (path / CARD_FILENAME).is_file():
        return path
    if (path / RUN_MODEL_DIR / CARD_FILENAME).is_file():
        return path / RUN_MODEL_DIR
    if not path.exists():
        raise ModelFormatError(f"{path}: no such model folder, model.json or run directory")
    raise ModelFormatError(
        f"{path}: no {CARD_FILENAME} here or in {path / RUN_MODEL_DIR} (not a model folder or a finished run)"
    )


def save_model(model: nn.Module, card: ModelCard, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/model.safetensors`` then ``out_dir/model.json``, each atomically.

    Weights are stored as float32 CPU tensors; tied tensors are stored once per name.
    Returns ``out_dir``.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.float()
        state[name] = t.contiguous().clone()
    with atomic_path(out_dir / WEIGHTS_FILENAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "architecture": card.architecture})
    write_text_atomic(out_dir / CARD_FILENAME, card.to_json())
    return out_dir


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(state)`` strictly, with an error naming ``source`` and what differs."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if mismatched:
            parts.append(f"{len(mismatched)} with other shapes (e.g. {mismatched[:3]})")
        raise ModelFormatError(f"{source}: weights do not match the model card's architecture: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> tuple[LensClassifier, ModelCard]:
    """Rebuild a saved model in eval mode, and its card. Never unpickles (safetensors only)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_dir = resolve_model_dir(path)
    card = ModelCard.read(model_dir / CARD_FILENAME)
    weights = model_dir / WEIGHTS_FILENAME
    if not weights.is_file():
        raise ModelFormatError(f"{weights}: weights file not found (next to {model_dir / CARD_FILENAME})")
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{weights}: unreadable safetensors file ({exc})") from None
    try:
        model = build_model(card)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{model_dir / CARD_FILENAME}: cannot build the model ({exc})") from None
    load_state_into(model, state, str(weights))
    return model.to(map_location).eval(), card
