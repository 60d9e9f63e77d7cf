"""Map-style dataset over a packed store, returning dict samples with raw-unit images.

The store object pickles without its memmaps, so each DataLoader worker / DDP rank opens
the shards itself and reads through the shared OS page cache (no per-rank copy in RAM).
``__getitems__`` lets PyTorch's DataLoader fetch a whole batch with one ``store.read``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from brahmasifier.io.store import CutoutStore, open_store


class StoreDataset(Dataset):
    """Samples ``{"image", "label", "id", "domain", "index"}`` for store rows ``indices`` (default: all).

    ``augment=True`` applies a random D4 element per sample, drawn from a generator seeded by
    ``(seed, epoch, row)`` so results do not depend on workers; call :meth:`set_epoch`.
    Usually augmentation is done on the batch on the device instead (the training task does).
    """

    def __init__(
        self,
        store: CutoutStore | str | os.PathLike[str],
        indices: Sequence[int] | np.ndarray | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        self.store = store if isinstance(store, CutoutStore) else open_store(store)
        index = self.store.index
        self.indices = np.arange(len(self.store), dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        self.labels = index["label"].to_numpy(dtype=np.float32)
        self.ids = index["id"].astype(str).to_numpy()
        self.domains = index["domain"].astype(str).to_numpy()
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def _sample(self, row: int, image: np.ndarray) -> dict[str, Any]:
        tensor = torch.from_numpy(image)
        if self.augment:
            from brahmasifier.data.transforms import d4_apply

            element = int(np.random.default_rng((self.seed, self.epoch, row)).integers(8))
            tensor = d4_apply(tensor, element).contiguous()
        return {"image": tensor, "label": float(self.labels[row]), "id": str(self.ids[row]),
                "domain": str(self.domains[row]), "index": int(row)}

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = int(self.indices[i])
        return self._sample(row, self.store.read([row])[0])

    def __getitems__(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """Batched fetch: one sorted store read for the whole batch."""
        rows = self.indices[np.asarray(positions, dtype=np.int64)]
        images = self.store.read(rows)
        return [self._sample(int(r), images[k]) for k, r in enumerate(rows)]
