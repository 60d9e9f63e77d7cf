"""Map-style dataset over a packed store, returning dict samples with raw-unit images.

Reads go through the store's one reader (:meth:`~brahmasifier.io.store.CutoutStore.read_batch`).
The store object pickles without its memmaps, so each DataLoader worker / DDP rank opens
the shards itself and reads through the shared OS page cache (no per-rank copy in RAM).
``__getitems__`` lets PyTorch's DataLoader fetch a whole batch with one store read.
Augmentation is not done here but on the batch, on its device, by the training task.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from brahmasifier.io.store import CutoutStore, StoreBatch, open_store

__all__ = ["StoreDataset"]


class StoreDataset(Dataset[dict[str, Any]]):
    """Samples ``{"image", "label", "id", "domain", "index"}`` for store rows ``indices`` (default: all)."""

    def __init__(self, store: CutoutStore | str | os.PathLike[str], indices: Sequence[int] | np.ndarray | None = None) -> None:
        self.store = store if isinstance(store, CutoutStore) else open_store(store)
        self.indices = np.arange(len(self.store), dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    @staticmethod
    def _samples(batch: StoreBatch) -> list[dict[str, Any]]:
        return [{"image": torch.from_numpy(batch.images[k]), "label": float(batch.labels[k]), "id": batch.ids[k],
                 "domain": batch.domains[k], "index": int(row)} for k, row in enumerate(batch.rows)]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self._samples(self.store.read_batch([int(self.indices[i])]))[0]

    def __getitems__(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """Batched fetch: one sorted store read for the whole batch."""
        return self._samples(self.store.read_batch(self.indices[np.asarray(positions, dtype=np.int64)]))
