"""Checkpoint I/O: atomic writes, and weights-only reading of our own checkpoints.

A checkpoint that needs pickle to load (it holds Python objects beyond tensors, numbers and
containers) is never unpickled: ``torch.load(weights_only=True)`` refuses it with a 10-line
message; :func:`refused_checkpoint` words that as one line naming the file and the Python
object it would have had to import, for ``--init-from`` and ``--resume`` alike.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _atomic_save
from lightning.pytorch.plugins.io import TorchCheckpointIO

from brahmasifier._atomic import atomic_path
from brahmasifier.errors import ModelFormatError

__all__ = [
    "AtomicCheckpointIO", "batches_done_in_epoch", "describe_resume", "load_checkpoint", "read_checkpoint_card",
    "read_checkpoint_model_state", "refused_checkpoint",
]

_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


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


def refused_checkpoint(path: str | os.PathLike[str], exc: pickle.UnpicklingError) -> ModelFormatError:
    """The one-line error for a checkpoint that ``torch.load(weights_only=True)`` refused.

    Args:
        path: the checkpoint.
        exc: torch's error.

    Returns:
        The error to raise (a :class:`~brahmasifier.errors.ModelFormatError`).
    """
    found = _UNSUPPORTED_GLOBAL.search(str(exc))
    what = f"it holds a Python object ({found[1]})" if found else "it needs pickle"
    return ModelFormatError(f"{path}: not a weights-only checkpoint: {what}, and brahmasifier loads checkpoints only "
                            "with torch.load(weights_only=True), never unpickling; use a checkpoint written by "
                            "brahmasifier train, or a model folder (model.safetensors)")


def load_checkpoint(path: str | os.PathLike[str]) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with one-line errors naming the file."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise refused_checkpoint(path, exc) from None
    except Exception as exc:  # torch raises several types for a corrupt file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelFormatError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {first})") from None


def read_checkpoint_model_state(path: str | os.PathLike[str], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The model weights of one of our Lightning checkpoints, read with ``weights_only=True``."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ModelFormatError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def read_checkpoint_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model card dict saved in one of our checkpoints' hyper-parameters."""
    checkpoint = load_checkpoint(path)
    card = checkpoint.get("hyper_parameters", {}).get("card") if isinstance(checkpoint, dict) else None
    if not isinstance(card, dict):
        raise ModelFormatError(f"{path}: checkpoint has no model card (not made by brahmasifier train)")
    return card


def _progress(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """``(epoch, batches done in it, global step)`` of a Lightning checkpoint (0s where its loop state is absent)."""
    checkpoint = load_checkpoint(path)
    loop = checkpoint.get("loops", {}).get("fit_loop", {}) if isinstance(checkpoint, dict) else {}
    epoch = int(checkpoint.get("epoch", 0))
    # "processed": the batches trained on (Lightning counts one more "completed" after on_train_batch_end,
    # where mid-epoch checkpoints are written); an epoch already processed is finished: nothing to skip
    finished = int(loop.get("epoch_progress", {}).get("current", {}).get("processed", 0)) > epoch
    done = 0 if finished else int(loop.get("epoch_loop.batch_progress", {}).get("current", {}).get("processed", 0) or 0)
    return epoch + int(finished), done, int(checkpoint.get("global_step", 0))


def batches_done_in_epoch(path: str | os.PathLike[str]) -> int:
    """Training batches of its current epoch a checkpoint was written after (0 at an epoch boundary).

    A mid-epoch checkpoint (``checkpoint_every_steps``) resumes exactly: the data module skips
    these batches of the epoch's (seed, epoch)-determined order (:mod:`brahmasifier.data.sampler`).
    """
    return _progress(path)[1]


def describe_resume(path: str | os.PathLike[str]) -> str:
    """The line ``train --resume`` prints: where the run continues."""
    epoch, done, step = _progress(path)
    where = f"batch {done} of epoch {epoch}" if done else f"the start of epoch {epoch}"
    return (f"--resume: continuing {path} (step {step}) from {where}; the same batches in the same order as an "
            "uninterrupted run (one device)")
