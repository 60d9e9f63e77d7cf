"""Model on disk: ``model.safetensors`` (weights, no pickle) + ``model.json`` (the card).

Where a model is (run dir, model folder or card file) is resolved by
:func:`brahmasifier.models.card.resolve_card_path`, the one resolver of a trained model.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier.errors import ModelFormatError
from brahmasifier.models.card import CARD_FILENAME, WEIGHTS_FILENAME, ModelCard, read_card
from brahmasifier.models.classifier import LensClassifier
from brahmasifier.models.regression import MultiTaskLensModel, build_network

__all__ = ["load_model", "load_state_into", "save_model"]

def _safetensors_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """``safetensors.torch.save(state, metadata)`` with the header's metadata keys in sorted order.

    safetensors writes ``__metadata__`` from a Rust ``HashMap``, whose order is random per map: the
    same weights then gave files differing in two header bytes (seen between two demo runs). The
    header is re-written with the same JSON, keys sorted, padded to its original length, so the
    same model always gives the same bytes.
    """
    import json
    import struct

    from safetensors.torch import save

    blob = save(state, metadata=metadata)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > n:  # cannot happen (same content, no spaces); keep the library's bytes rather than break the file
        return blob
    return blob[:8] + text + b" " * (n - len(text)) + blob[8 + n:]


def save_model(model: nn.Module, card: ModelCard, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/model.safetensors`` then ``out_dir/model.json``, each atomically.

    Weights are stored as float32 CPU tensors; tied tensors are stored once per name.
    Returns ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.float()
        state[name] = t.contiguous().clone()
    with atomic_path(out_dir / WEIGHTS_FILENAME) as tmp:
        Path(tmp).write_bytes(_safetensors_bytes(state, {"format": "pt", "architecture": card.architecture}))
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
    wrong_type = [f"{k} ({str(state[k].dtype).replace('torch.', '')})" for k in own
                  if own[k].is_floating_point() != state[k].is_floating_point()
                  or (state[k].dtype == torch.bool) != (own[k].dtype == torch.bool)]
    if wrong_type:
        raise ModelFormatError(f"{source}: {len(wrong_type)} weight tensor(s) have a type the model does not use "
                               f"(e.g. {wrong_type[:3]}); weights are floating point (re-export the model)")
    broken = [k for k, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if broken:
        raise ModelFormatError(f"{source}: {len(broken)} weight tensor(s) hold NaN or Inf (e.g. {broken[:3]}); "
                               "the model cannot score (retrain, or export an earlier checkpoint)")
    model.load_state_dict(state, strict=True)


def load_model(path: str | os.PathLike[str],
               map_location: str | torch.device = "cpu") -> tuple[LensClassifier | MultiTaskLensModel, ModelCard]:
    """Rebuild a saved model in eval mode, and its card. Never unpickles (safetensors only).

    A card with ``regression`` gives the multi-task model (classifier + regression head, one weights file).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    card, card_path = read_card(path)
    weights = card_path.parent / WEIGHTS_FILENAME
    if not weights.is_file():
        raise ModelFormatError(f"{weights}: weights file not found (next to {card_path})")
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{weights}: unreadable safetensors file ({exc})") from None
    try:
        model = build_network(card)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{card_path}: cannot build the model ({exc})") from None
    load_state_into(model, state, str(weights))
    return model.to(map_location).eval(), card
