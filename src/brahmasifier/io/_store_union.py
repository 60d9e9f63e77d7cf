"""Several packed stores read as one: :class:`StoreUnion` (a read-only view, nothing copied) and :func:`open_stores`.

Contract:

- Rows are the stores' rows one store after the other, in the order given (row ``k`` of the
  union is row ``k - start`` of the store whose range holds ``k``). The pixels stay in each
  store's memory-mapped shards: the union only concatenates the shard lists, so reading is
  the :class:`~brahmasifier.io.store.CutoutStore` reader itself (one gather per shard touched),
  memory is bounded by the index, and the object pickles without arrays (DataLoader workers
  and DDP ranks re-open the memmaps themselves).
- :attr:`StoreUnion.index` is the stores' indices concatenated, plus ``source_store`` (the
  folder each row came from, a categorical column) and ``duplicate_id`` recomputed over the
  whole union. A reader column one store lacks (``n_masked`` of a store packed before it, ...)
  gets the reader's default there (``-1``: not counted); other columns it lacks (parameters
  joined from another ``parameters.fits``, truth of another engine) are NaN there, which every
  consumer of truth reads as missing (:mod:`brahmasifier.ranges`).
- Duplicate IDs across stores follow pack's rule for duplicates within one store
  (:func:`brahmasifier.io.pack.pack_fits`): every object is kept, flagged in ``duplicate_id``,
  and one warning names both stores and an example ID (:meth:`StoreUnion.duplicates_across`
  counts them). Refusing would stop two simulate runs that reuse ID patterns from being combined;
  keeping silently would hide a store given under two names or a store and its ``perturb`` copy
  (the same objects twice, which a train/validation split then leaks across).
- Refused with :class:`~brahmasifier.errors.StoreError` naming both stores: different bands,
  stamp size or format version (the images would not stack), and the same folder given twice.
  An unfinished or broken store is refused by :class:`~brahmasifier.io.store.CutoutStore`
  naming it.
- :attr:`StoreUnion.rejected` is the stores' rejects with ``source_store``; :meth:`~StoreUnion.verify`
  checks every shard of every store. ``path`` is the first store's folder (where a caller needs
  one folder); :attr:`~StoreUnion.paths` lists them all and :attr:`~StoreUnion.name` names them
  all for messages and records.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.errors import StoreError
from brahmasifier.io._store_reader import CutoutStore

__all__ = ["SOURCE_STORE", "StoreUnion", "open_stores"]

log = logging.getLogger(__name__)

#: The union's index column naming the store folder each row came from.
SOURCE_STORE = "source_store"

StoreLike = CutoutStore | str | os.PathLike[str]

#: What :meth:`CutoutStore.index_arrays` reads for a column a store's index lacks (``None``: the ID);
#: the union fills it in where one store has the column and another does not.
_READER_DEFAULTS: dict[str, int | str | None] = {"stem": None, "label": -1, "domain": "unknown", "n_nan": 0, "n_masked": -1,
                                       "id_source": ""}


def _as_store(item: StoreLike) -> CutoutStore:
    return item if isinstance(item, CutoutStore) else CutoutStore(item)


class StoreUnion(CutoutStore):
    """Several complete stores read as one, nothing copied (see the module docstring)."""

    def __init__(self, stores: Sequence[StoreLike]) -> None:
        opened = [_as_store(s) for s in stores]
        if len(opened) < 2:
            raise StoreError("a store union needs at least two stores")
        for k, store in enumerate(opened):
            if isinstance(store, StoreUnion):
                raise StoreError(f"{store.name}: a union cannot hold a union; give its stores instead")
            for earlier in opened[:k]:
                if store.path.resolve() == earlier.path.resolve():
                    raise StoreError(f"{store.path}: given twice (as {earlier.path} and {store.path}); give each store once")
        first = opened[0]
        for store in opened[1:]:
            for what, mine, theirs in (("format version", first.manifest.get("version"), store.manifest.get("version")),
                                       ("bands", first.bands, store.bands),
                                       ("stamp size", first.stamp_size, store.stamp_size)):
                if mine != theirs:
                    raise StoreError(f"{first.path} and {store.path} cannot be read as one store: {what} {mine} vs "
                                     f"{theirs}; pack them with the same settings (or train on one)")
        self.stores = opened
        self.path = first.path
        self.bands = first.bands
        self.stamp_size = first.stamp_size
        self._shards = [shard for store in opened for shard in store._shards]
        self._starts = np.cumsum([0] + [s.n for s in self._shards])
        self.store_starts = np.cumsum([0] + [len(s) for s in opened])
        self.manifest = {"format": first.manifest.get("format"), "version": first.manifest.get("version"),
                         "bands": list(self.bands), "stamp_size": self.stamp_size, "union": [str(p) for p in self.paths],
                         "shards": [{"file": str(s.root / s.file), "n": s.n} for s in self._shards]}
        self._index = None
        self._columns = None
        self._maps = [None] * len(self._shards)
        self._n_duplicates_across = -1

    def __repr__(self) -> str:
        return f"StoreUnion([{', '.join(repr(str(p)) for p in self.paths)}], n={len(self)}, shards={len(self._shards)})"

    @property
    def paths(self) -> tuple[Path, ...]:
        """The stores' folders, in row order."""
        return tuple(s.path for s in self.stores)

    @property
    def name(self) -> str:
        """Every store folder, joined with `` + `` (for messages and records)."""
        return " + ".join(str(p) for p in self.paths)

    def n_per_store(self, rows: np.ndarray | None = None) -> dict[str, int]:
        """How many of ``rows`` (default: all) come from each store, by folder, in store order."""
        if rows is None:
            return {str(s.path): len(s) for s in self.stores}
        which = np.searchsorted(self.store_starts, np.asarray(rows, dtype=np.int64), side="right") - 1
        counts = np.bincount(which, minlength=len(self.stores))
        return {str(s.path): int(c) for s, c in zip(self.stores, counts, strict=True)}

    @property
    def index(self) -> pd.DataFrame:
        """The stores' indices one after the other, with ``source_store`` and ``duplicate_id`` over the union."""
        if self._index is None:
            frames = []
            for store in self.stores:
                frames.append(store.index)
                store._index = None  # the union's copy is the one kept (bounded memory: one index, not two)
            present = {c for f in frames for c in f.columns}
            for k, frame in enumerate(frames):  # a reader column one store lacks: the reader's default, not NaN
                lacking = [c for c in _READER_DEFAULTS if c in present and c not in frame.columns]
                if lacking:
                    frame = frame.copy()  # a caller may still hold the store's own table
                    for column in lacking:
                        default = _READER_DEFAULTS[column]
                        frame[column] = frame["id"] if default is None else default
                    frames[k] = frame
            index = pd.concat(frames, ignore_index=True, sort=False)
            names = [str(s.path) for s in self.stores]
            codes = np.repeat(np.arange(len(names), dtype=np.int64), [len(f) for f in frames])
            index[SOURCE_STORE] = pd.Categorical.from_codes(codes, categories=pd.Index(names))
            ids = index["id"].astype(str)
            duplicated = ids.duplicated(keep=False).to_numpy()
            index["duplicate_id"] = duplicated
            self._n_duplicates_across = self._warn_duplicates_across(ids, index[SOURCE_STORE], duplicated)
            self._index = index
        return self._index

    def duplicates_across(self) -> int:
        """Objects whose ID is also the ID of an object in another store of the union."""
        if self._n_duplicates_across < 0:
            _ = self.index
        return self._n_duplicates_across

    @staticmethod
    def _warn_duplicates_across(ids: pd.Series, source: pd.Series, duplicated: np.ndarray) -> int:
        if not duplicated.any():
            return 0
        frame = pd.DataFrame({"id": ids[duplicated].to_numpy(), "store": source[duplicated].astype(str).to_numpy()})
        stores_per_id = frame.groupby("id")["store"].nunique()
        across = stores_per_id[stores_per_id > 1]
        if across.empty:
            return 0
        example = str(across.index[0])
        where = sorted(frame.loc[frame["id"] == example, "store"].unique())
        n = int(frame["id"].isin(across.index).sum())
        log.warning("%d objects share their ID with an object of another store (flagged in duplicate_id), e.g. %r in "
                    "%s and %s; if these are the same objects (a store given under two names, or a store and its perturbed "
                    "copy), drop one: a train/validation split would hold them on both sides", n, example, where[0], where[1])
        return n

    @property
    def rejected(self) -> pd.DataFrame:
        """Every store's rejects, with the store they came from (``source_store``)."""
        frames = [store.rejected.assign(**{SOURCE_STORE: str(store.path)}) for store in self.stores]
        return pd.concat(frames, ignore_index=True)


def open_stores(paths: StoreLike | Sequence[StoreLike]) -> CutoutStore:
    """One store for ``paths``: a :class:`CutoutStore` for one store, a :class:`StoreUnion` for several."""
    items = [paths] if isinstance(paths, (str, os.PathLike, CutoutStore)) else list(paths)
    if not items:
        raise StoreError("no store given")
    return _as_store(items[0]) if len(items) == 1 else StoreUnion(items)
