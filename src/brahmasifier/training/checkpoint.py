"""Checkpoint I/O: atomic writes, and weights-only reading of our own checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _atomic_save
from lightning.pytorch.plugins.io import TorchCheckpointIO

from brahmasifier._atomic import atomic_path
from brahmasifier.errors import ModelFormatError

__all__ = ["AtomicCheckpointIO", "read_checkpoint_card", "read_checkpoint_model_state"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint writer that writes to a temp file and renames it over the target.

    A run killed while writing ``last.ckpt`` keeps the previous complete ``last.ckpt``.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike[str],
                        storage_options: Any | None = None) -> None:
        """Write ``checkpoint`` to ``path`` via a temporary file and a rename."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not support storage_options")
        with atomic_path(path) as tmp:
            _atomic_save(checkpoint, tmp)


def read_checkpoint_model_state(path: str | os.PathLike[str], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The model weights of one of our Lightning checkpoints, read with ``weights_only=True``."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt/unsafe file
        raise ModelFormatError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ModelFormatError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def read_checkpoint_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model card dict saved in one of our checkpoints' hyper-parameters."""
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    card = checkpoint.get("hyper_parameters", {}).get("card")
    if not isinstance(card, dict):
        raise ModelFormatError(f"{path}: checkpoint has no model card (not made by brahmasifier train)")
    return card
