"""LightningDataModule over packed stores and/or FITS roots packed into a cache once per node.

Lightning calls :meth:`LensDataModule.prepare_data` on one process per node (with a barrier
after it) and :meth:`LensDataModule.setup` on every process, so under DDP the FITS roots are
packed once and every rank then opens the same store (shards shared through the page cache).
Several stores (``train --data A B C``: several ``simulate``/``pack`` runs) are read as one
without copying (:class:`~brahmasifier.io.store.StoreUnion`); the summary written to
``metrics.json`` and the model card lists every store and how many objects each gave.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from brahmasifier.data.dataset import StoreDataset
from brahmasifier.data.sampler import EpochSampler
from brahmasifier.data.split import MIN_PER_CLASS, UNBALANCED_FRACTION, UnbalancedDataWarning, stratified_split
from brahmasifier.errors import DataProblem
from brahmasifier.io.store import CutoutStore, StoreUnion, open_stores
from brahmasifier.io.store_input import is_store_input, open_or_pack, store_paths

__all__ = ["LensDataModule", "check_labels", "is_store_input", "pack_if_needed"]


def pack_if_needed(data: Sequence[str | os.PathLike[str]], cache_dir: str | os.PathLike[str],
                   progress: bool = True) -> list[Path]:
    """The store folders for ``data``: its stores, and its FITS roots packed once into ``cache_dir`` (reused on rerun).

    Training's use of :func:`brahmasifier.io.store_input.open_or_pack` (the one home of "store or FITS");
    :func:`~brahmasifier.io.store.open_stores` of the result reads them as one store.
    """
    return list(open_or_pack(data, cache_dir, what="training data", progress=progress, reuse_packed=True,
                             note=rank_zero_info).paths)


def check_labels(labels: np.ndarray, source: str) -> dict[str, int]:
    """Counts of lenses/non-lenses; raise :class:`DataProblem` or warn with advice when unusable."""
    n_pos = int((labels == 1).sum())
    n_neg = int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataProblem(
            f"{source}: only one class among the labelled objects ({n_pos} lenses, {n_neg} non-lenses); "
            "training needs both lenses and non-lenses"
        )
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        raise DataProblem(
            f"{source}: too little data ({n_pos} lenses, {n_neg} non-lenses); need at least {MIN_PER_CLASS} of each"
        )
    minority = min(n_pos, n_neg) / (n_pos + n_neg)
    if minority < UNBALANCED_FRACTION:
        warnings.warn(
            f"{source}: very unbalanced data ({n_pos} lenses, {n_neg} non-lenses, minority {minority:.1%}); "
            "the model may learn to ignore the rare class. Consider adding objects of the rare class, "
            "or choosing the threshold on validation (done automatically) and judging by AUC rather than accuracy.",
            UnbalancedDataWarning,
            stacklevel=2,
        )
    return {"n_lenses": n_pos, "n_nonlenses": n_neg}


class LensDataModule(pl.LightningDataModule):
    """Train/val loaders over a store: label −1 excluded, split stratified by label × domain.

    ``data`` is packed store paths and/or FITS roots (packed into ``cache_dir`` in
    ``prepare_data``, on one process per node); several stores are read as one
    (:class:`~brahmasifier.io.store.StoreUnion`). Loaders use batched store reads.
    """

    def __init__(
        self,
        data: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 0,
        workers: int = 0,
        eval_batch_size: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        pin_memory: bool = False,
        progress: bool = True,
    ) -> None:
        super().__init__()
        self.data = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or 2 * batch_size)
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.workers = int(workers)
        self.pin_memory = pin_memory
        self.progress = progress
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.store: CutoutStore | None = None
        self.train_rows = np.empty(0, dtype=np.int64)
        #: Batches of the current epoch a resumed run has already trained on (set from the checkpoint).
        self.resume_skip = 0
        self.val_rows = np.empty(0, dtype=np.int64)
        self.summary: dict[str, Any] = {}

    @property
    def store_paths(self) -> list[Path]:
        """The stores trained on, in row order: the packed cache first if FITS roots were given, then the stores."""
        if not is_store_input(self.data) and self.cache_dir is None:
            raise DataProblem(f"{', '.join(map(str, self.data))}: not a packed store; give a cache_dir to pack FITS roots into")
        return store_paths(self.data, self.cache_dir)

    @property
    def store_path(self) -> Path:
        """The one store trained on (after packing FITS roots); several stores: refused, use :attr:`store_paths`."""
        paths = self.store_paths
        if len(paths) != 1:
            raise DataProblem(f"{len(paths)} stores ({', '.join(map(str, paths))}): use store_paths")
        return paths[0]

    def prepare_data(self) -> None:
        """Pack FITS roots into the cache (Lightning calls this on one process per node; a no-op for stores)."""
        if not is_store_input(self.data):
            pack_if_needed(self.data, self.store_paths[0], progress=self.progress)

    def setup(self, stage: str | None = None) -> None:
        """Open the store(s) as one, drop unlabelled objects, check the classes, split."""
        if self.store is not None:
            return
        self.store = open_stores(self.store_paths)
        index = self.store.index
        labels = index["label"].to_numpy()
        labelled = np.nonzero((labels == 0) | (labels == 1))[0]
        n_unlabelled = len(labels) - len(labelled)
        if n_unlabelled:
            rank_zero_info(f"{self.store.name}: {n_unlabelled} objects with unknown label (-1) excluded from training")
        counts = check_labels(labels[labelled], self.store.name)
        domains = index["domain"].astype(str).to_numpy()
        train_pos, val_pos = stratified_split(labels[labelled], domains[labelled], self.val_fraction, self.seed)
        self.train_rows, self.val_rows = labelled[train_pos], labelled[val_pos]
        val_labels = labels[self.val_rows]
        if not ((val_labels == 0).any() and (val_labels == 1).any()):
            raise DataProblem(f"{self.store.name}: validation split lacks one class; raise --val-fraction or add data")
        if len(self.train_rows) < self.batch_size:
            rank_zero_info(f"note: {len(self.train_rows)} training objects, fewer than one batch of {self.batch_size}")
        self.summary = {
            "store": self.store.name,
            **self._per_store(labelled),
            "n_objects": len(labels),
            "n_unlabelled_excluded": int(n_unlabelled),
            **counts,
            "n_train": len(self.train_rows),
            "n_val": len(self.val_rows),
            "val_fraction": self.val_fraction,
            "split_seed": self.seed,
            "domains": {str(k): int(v) for k, v in index.iloc[labelled]["domain"].value_counts().sort_index().items()},
        }

    def _per_store(self, labelled: np.ndarray) -> dict[str, Any]:
        """``stores``: each store's folder with its objects, labelled ones, train and val rows (several stores only)."""
        if not isinstance(self.store, StoreUnion):
            return {}
        counts = [self.store.n_per_store(), self.store.n_per_store(labelled), self.store.n_per_store(self.train_rows),
                  self.store.n_per_store(self.val_rows)]
        return {
            "stores": [{"path": path, "n_objects": counts[0][path], "n_labelled": counts[1][path], "n_train": counts[2][path],
                        "n_val": counts[3][path]} for path in counts[0]],
            "n_duplicate_ids_across_stores": self.store.duplicates_across(),
        }

    def _loader(self, rows: np.ndarray, batch_size: int, shuffle: bool) -> DataLoader[dict[str, Any]]:
        assert self.store is not None, "call setup() first"
        sampler = None
        if shuffle:  # the order depends on (seed, epoch) only, and a resumed epoch skips what it did (data/sampler.py)
            sampler = EpochSampler(len(rows), self.seed)
            sampler.skip, self.resume_skip = self.resume_skip * batch_size, 0
        return DataLoader(
            StoreDataset(self.store, rows), batch_size=batch_size, sampler=sampler, num_workers=self.workers,
            persistent_workers=self.workers > 0, pin_memory=self.pin_memory, drop_last=False,
        )

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        """Shuffled training batches (Lightning adds a DistributedSampler under DDP)."""
        return self._loader(self.train_rows, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader[dict[str, Any]]:
        """Validation batches in store order."""
        return self._loader(self.val_rows, self.eval_batch_size, shuffle=False)
