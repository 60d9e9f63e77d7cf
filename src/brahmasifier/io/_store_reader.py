"""Reading a packed store: :class:`CutoutStore` (memory-mapped shards + the Parquet index) and :func:`open_store`.

The one reader every consumer uses (:meth:`CutoutStore.read_batch`: images with their IDs,
stems, labels, domains and NaN counts). Shards are opened with ``np.load(mmap_mode="r")``
lazily in each process, so DataLoader workers and DDP ranks on one node share the OS page
cache instead of each holding a copy; the object pickles without arrays. The public face is
:mod:`brahmasifier.io.store`.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.errors import StoreError
from brahmasifier.io._shard_check import check_shard_file
from brahmasifier.io._store_format import (
    INDEX,
    MANIFEST,
    REJECTED,
    REJECTED_COLUMNS,
    SHARD_DIR,
    STORE_FORMAT,
    STORE_VERSION,
    is_store_folder,
)
from brahmasifier.pixels import clean_pixels

__all__ = ["CutoutStore", "StoreBatch", "open_store"]


@dataclass(frozen=True)
class _Shard:
    root: Path  # the store folder holding it (a union's shards come from several)
    file: str  # relative to ``root``
    n: int


@dataclass
class StoreBatch:
    """Objects at store ``rows``: images (float32 ``(k, 5, H, W)``, raw units, bad pixels → 0) and their index columns."""

    rows: np.ndarray  # int64 (k,)
    images: np.ndarray
    ids: list[str]
    stems: list[str]
    labels: np.ndarray  # int64 (k,): 1 lens, 0 non-lens, -1 unknown
    domains: list[str]
    n_nan: np.ndarray  # int32 (k,)


class CutoutStore:
    """Read access to a packed store (see module docstring). Cheap to pickle: no arrays inside."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not self.path.is_dir():
            raise StoreError(f"{self.path}: no such store folder")
        if not manifest_path.is_file() and not is_store_folder(self.path) and not (self.path / SHARD_DIR).is_dir():
            looks_fits = any(p.suffix.lower() in (".fits", ".fit") for p in itertools.islice(self.path.rglob("*"), 1000))
            hint = (f"; it holds FITS files: pack them first (brahmasifier pack {self.path} --out STORE)" if looks_fits
                    else "")
            raise StoreError(f"{self.path}: not a store (no {MANIFEST}){hint}")
        if not manifest_path.is_file():
            raise StoreError(
                f"{self.path}: incomplete store (no {MANIFEST}); packing was interrupted or is still "
                "running. Rerun `brahmasifier pack` with the same --out to resume."
            )
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{manifest_path}: not valid JSON ({exc})") from exc
        if self.manifest.get("format") != STORE_FORMAT:
            raise StoreError(f"{manifest_path}: not a {STORE_FORMAT} manifest")
        if self.manifest.get("version") != STORE_VERSION:
            raise StoreError(f"{manifest_path}: store version {self.manifest.get('version')} unsupported")
        self.bands: tuple[str, ...] = tuple(self.manifest["bands"])
        self.stamp_size: int = int(self.manifest["stamp_size"])
        self._shards = [_Shard(self.path, s["file"], int(s["n"])) for s in self.manifest["shards"]]
        self._starts = np.cumsum([0] + [s.n for s in self._shards])
        self._index: pd.DataFrame | None = None
        self._columns: dict[str, np.ndarray] | None = None
        self._maps: list[np.ndarray | None] = [None] * len(self._shards)

    # -- pickling: DataLoader workers re-open the memmaps themselves -----------------------
    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_maps"] = [None] * len(self._shards)
        state["_columns"] = None
        return state

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every store folder read (one here; a :class:`~brahmasifier.io.store.StoreUnion` has several)."""
        return (self.path,)

    @property
    def name(self) -> str:
        """The store for messages and records (its folder; a union names every folder)."""
        return str(self.path)

    def __repr__(self) -> str:
        return f"CutoutStore({str(self.path)!r}, n={len(self)}, shards={len(self._shards)})"

    @property
    def index(self) -> pd.DataFrame:
        """The index table in store order (row ``k`` describes image ``k``)."""
        if self._index is None:
            try:
                index = pd.read_parquet(self.path / INDEX)
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise StoreError(f"{self.path / INDEX}: unreadable store index ({exc}); rerun `brahmasifier pack`") from None
            if len(index) != len(self):
                raise StoreError(f"{self.path}: index has {len(index)} rows but shards hold {len(self)} images")
            missing = [c for c in ("id", "stem", "label", "domain", "n_nan") if c not in index.columns]
            if missing:
                raise StoreError(f"{self.path / INDEX}: store index lacks the column(s) {', '.join(missing)}; "
                                 "rerun `brahmasifier pack`")
            self._index = index
        return self._index

    @property
    def rejected(self) -> pd.DataFrame:
        """Objects found while packing but not stored, with the reason."""
        path = self.path / REJECTED
        if not path.exists():
            return pd.DataFrame(columns=list(REJECTED_COLUMNS))
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{path}: unreadable rejects table ({detail}); rerun `brahmasifier pack` to rewrite it") from None
        missing = [c for c in REJECTED_COLUMNS if c not in table.columns]
        if missing:
            raise StoreError(f"{path}: rejects table lacks the column(s) {', '.join(missing)} (has {list(table.columns)}); "
                             "rerun `brahmasifier pack` to rewrite it")
        return table

    def verify(self) -> None:
        """Check every shard against the manifest (exists, float32 ``(n, bands, H, W)``, full size); raise naming the file.

        Reads only each shard's ``.npy`` header and its size, so it is cheap (``info`` runs it).
        """
        for k in range(len(self._shards)):
            self._check_shard(k)

    def _check_shard(self, k: int) -> None:
        shard = self._shards[k]
        check_shard_file(shard.root / shard.file, (shard.n, len(self.bands), self.stamp_size, self.stamp_size))

    def _map(self, k: int) -> np.ndarray:
        arr = self._maps[k]
        if arr is None:
            self._check_shard(k)
            arr = np.load(self._shards[k].root / self._shards[k].file, mmap_mode="r")
            expected = (self._shards[k].n, len(self.bands), self.stamp_size, self.stamp_size)
            if arr.shape != expected or arr.dtype != np.float32:
                raise StoreError(
                    f"{self._shards[k].root / self._shards[k].file}: shape {arr.shape} {arr.dtype}, expected {expected} float32")
            self._maps[k] = arr
        return arr

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Images at ``indices`` (any order, repeats allowed) as float32 ``(k, 5, H, W)``, raw units."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"store index out of range for a store of {n} objects")
        idx = np.where(idx < 0, idx + n, idx)
        shard_of = np.searchsorted(self._starts, idx, side="right") - 1
        first = int(shard_of[0]) if idx.size else 0
        if idx.size == 0 or (shard_of == first).all():
            # One gather straight from the page cache into a fresh array (the common case):
            # no intermediate copy, ~the speed of NumPy indexing of an in-RAM array.
            if not self._shards:
                return np.empty((0, len(self.bands), self.stamp_size, self.stamp_size), dtype=np.float32)
            return np.take(self._map(first), idx - self._starts[first], axis=0).view(np.ndarray)
        out = np.empty((idx.size, len(self.bands), self.stamp_size, self.stamp_size), dtype=np.float32)
        for k in np.unique(shard_of):
            sel = np.nonzero(shard_of == k)[0]
            local = idx[sel] - self._starts[k]
            if sel[-1] - sel[0] + 1 == sel.size:
                # Sorted rows (training batches, sequential scoring) make each shard's part one slice of
                # ``out``: gather straight into it (mode="clip": unbuffered, and the rows are in range).
                np.take(self._map(int(k)), local, axis=0, out=out[sel[0] : sel[-1] + 1], mode="clip")
            else:
                out[sel] = np.take(self._map(int(k)), local, axis=0)
        return out

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Contiguous images ``start:stop`` (fast path for sequential scoring)."""
        return self.read(np.arange(start, min(stop, len(self))))

    def index_arrays(self) -> dict[str, np.ndarray]:
        """``id``, ``stem``, ``label``, ``domain``, ``n_nan``, ``n_masked``, ``id_source`` of every row as arrays (built once)."""
        if self._columns is None:
            index = self.index
            n = len(index)
            self._columns = {
                "id": index["id"].astype(str).to_numpy(),
                "stem": index["stem"].astype(str).to_numpy() if "stem" in index else index["id"].astype(str).to_numpy(),
                "label": index["label"].to_numpy(dtype=np.int64) if "label" in index else np.full(n, -1, np.int64),
                "domain": index["domain"].astype(str).to_numpy() if "domain" in index else np.full(n, "unknown"),
                "n_nan": index["n_nan"].to_numpy(dtype=np.int32) if "n_nan" in index else np.zeros(n, np.int32),
                # invalid pixels (pixels.invalid_mask) as packed; -1: not counted (a store packed before the column)
                "n_masked": index["n_masked"].to_numpy(dtype=np.int64) if "n_masked" in index else np.full(n, -1, np.int64),
                # "stem": no ID column, the stem is the ID; "" for stores written from arrays
                "id_source": index["id_source"].astype(str).to_numpy() if "id_source" in index else np.full(n, "", object),
            }
        return self._columns

    def read_batch(self, rows: Sequence[int] | np.ndarray) -> StoreBatch:
        """The objects at ``rows`` (any order, repeats allowed): images and index columns.

        The one reader over a store (training batches, prediction, the end-of-run
        validation scoring and the gallery use it). Bad pixels (:mod:`brahmasifier.pixels`) read
        as 0, as the packer writes them; a store written from arrays may still hold some, and
        those are added to the index's ``n_nan``.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        images = self.read(rows)
        found = clean_pixels(images) if len(rows) else np.zeros(0, dtype=np.int64)
        c = self.index_arrays()
        rows = np.where(rows < 0, rows + len(self), rows)
        n_nan = c["n_nan"][rows] + found.astype(np.int32) if found.any() else c["n_nan"][rows]
        return StoreBatch(rows, images, c["id"][rows].tolist(), c["stem"][rows].tolist(), c["label"][rows],
                          c["domain"][rows].tolist(), n_nan)

    def find_rows(self, ids: Sequence[str], stems: Sequence[str | None] | None = None) -> list[int | None]:
        """Row of each ID (the first one; among duplicated IDs the one with the given stem), ``None`` if absent."""
        c = self.index_arrays()
        by_id: dict[str, list[int]] = {}
        for row, object_id in enumerate(c["id"]):
            by_id.setdefault(str(object_id), []).append(row)
        found: list[int | None] = []
        for k, object_id in enumerate(ids):
            candidates = by_id.get(str(object_id), [])
            stem = stems[k] if stems is not None else None
            if len(candidates) > 1 and stem is not None:
                candidates = [r for r in candidates if c["stem"][r] == stem]
            found.append(candidates[0] if candidates else None)
        return found


def open_store(path: str | os.PathLike[str]) -> CutoutStore:
    """Open a packed store for reading."""
    return CutoutStore(path)


