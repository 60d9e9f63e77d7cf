"""The packed cutout store: sharded memory-mapped image arrays + a Parquet index.

This module is the one home of the store format: what makes a folder a (complete) store,
the shard writer (streaming, so packing holds a few batches in memory whatever the shard
size), and the reader every consumer uses (:meth:`CutoutStore.read_batch`: images with their
IDs, stems, labels, domains and NaN counts).

Layout of a store folder::

    manifest.json        written last; its presence marks a complete store
    shards/images-NNNNN.npy   float32 (n_k, 5, 41, 41), raw pixel units, NumPy .npy format
    index.parquet        one row per stored object, in store order (id, stem, label, domain, n_nan, ...)
    rejected.csv         stem,file,reason for every object found but not stored

Shards are opened with ``np.load(mmap_mode="r")`` lazily in each process, so DataLoader
workers and DDP ranks on one node share the OS page cache instead of each holding a copy.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pandas as pd

from brahmasifier import __version__
from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import StoreError
from brahmasifier.io._shard_check import check_shard_file
from brahmasifier.io.naming import printable_name
from brahmasifier.pixels import clean_pixels

STORE_FORMAT = "brahmasifier-store"
STORE_VERSION = 1
MANIFEST = "manifest.json"
INDEX = "index.parquet"
REJECTED = "rejected.csv"
SHARD_DIR = "shards"
#: Columns every store index has; parameters joined from ``parameters.fits`` follow them.
INDEX_COLUMNS: tuple[str, ...] = ("id", "stem", "label", "domain", "n_nan")
#: Columns of a rejects table (a store's ``rejected.csv``, prediction's ``rejected.csv``).
REJECTED_COLUMNS: tuple[str, ...] = ("stem", "file", "reason")

__all__ = [
    "INDEX", "INDEX_COLUMNS", "MANIFEST", "REJECTED", "REJECTED_COLUMNS", "SHARD_DIR", "CutoutStore", "ShardWriter",
    "StoreBatch", "StoreError", "finalize_store", "is_complete_store", "is_store_folder", "open_store", "printable_rejects",
    "shard_filename", "write_shard", "write_store",
]


def shard_filename(number: int) -> str:
    """Relative path of shard ``number`` inside a store."""
    return f"{SHARD_DIR}/images-{number:05d}.npy"


@dataclass(frozen=True)
class _Shard:
    file: str
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
        self._shards = [_Shard(s["file"], int(s["n"])) for s in self.manifest["shards"]]
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
        check_shard_file(self.path / shard.file, (shard.n, len(self.bands), self.stamp_size, self.stamp_size))

    def _map(self, k: int) -> np.ndarray:
        arr = self._maps[k]
        if arr is None:
            self._check_shard(k)
            arr = np.load(self.path / self._shards[k].file, mmap_mode="r")
            expected = (self._shards[k].n, len(self.bands), self.stamp_size, self.stamp_size)
            if arr.shape != expected or arr.dtype != np.float32:
                raise StoreError(
                    f"{self.path / self._shards[k].file}: shape {arr.shape} {arr.dtype}, expected {expected} float32")
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
            out[sel] = np.take(self._map(int(k)), idx[sel] - self._starts[k], axis=0)
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


def is_complete_store(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds a finished store (its manifest exists)."""
    return (Path(path) / MANIFEST).is_file()


def is_store_folder(path: str | os.PathLike[str]) -> bool:
    """True for a store folder, complete or not (its manifest, index or pack parts are there).

    Inputs that may be FITS roots or stores use this: an unfinished store must be refused
    with :class:`StoreError` by :func:`open_store` ("rerun pack to resume"), not scanned as
    an empty FITS tree.
    """
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in (MANIFEST, INDEX, "_parts"))


class ShardWriter:
    """Streams float32 ``(n, 5, 41, 41)`` images into shard ``number`` of a store, batch by batch.

    The file is NumPy's ``.npy`` format 1.0 (header from ``numpy.lib.format``, whose header
    keeps room for the first dimension to grow, so it is rewritten in place with the final
    count); it appears under its name, complete, when the ``with`` block ends (temp file +
    rename). Memory use is one batch, whatever the shard size.
    """

    def __init__(self, store_path: str | os.PathLike[str], number: int) -> None:
        self.rel = shard_filename(number)
        self.path = Path(store_path) / self.rel
        self.n = 0
        self._atomic = atomic_path(self.path)
        self._fh: BinaryIO | None = None

    @staticmethod
    def _header(n: int) -> bytes:
        import io

        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "<f4", "fortran_order": False, "shape": (n, len(BANDS), STAMP_SIZE, STAMP_SIZE)})
        return buffer.getvalue()

    def __enter__(self) -> ShardWriter:
        tmp = self._atomic.__enter__()
        self._fh = open(tmp, "wb")
        self._fh.write(self._header(0))
        return self

    def write(self, images: np.ndarray | Sequence[np.ndarray]) -> None:
        """Append images (an array ``(k, 5, 41, 41)`` or a list of ``(5, 41, 41)`` arrays)."""
        assert self._fh is not None, "use ShardWriter in a with block"
        if not len(images):
            return
        batch = np.ascontiguousarray(images if isinstance(images, np.ndarray) else np.stack(images), dtype="<f4")
        if batch.ndim != 4 or batch.shape[1:] != (len(BANDS), STAMP_SIZE, STAMP_SIZE):
            raise ValueError(f"shard images must be (n, {len(BANDS)}, {STAMP_SIZE}, {STAMP_SIZE}), got {batch.shape}")
        self._fh.write(batch.tobytes())
        self.n += len(batch)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._fh is not None
        try:
            if kind is None:
                header = self._header(self.n)
                self._fh.seek(0)
                self._fh.write(header)  # same length as the first one: numpy pads it with room to grow
        finally:
            self._fh.close()
            self._atomic.__exit__(kind, value, traceback)


def write_shard(store_path: str | os.PathLike[str], number: int, images: np.ndarray) -> str:
    """Write one shard atomically; returns its relative file name."""
    with ShardWriter(store_path, number) as writer:
        writer.write(np.asarray(images))
    return writer.rel


def printable_rejects(rejected: pd.DataFrame) -> pd.DataFrame:
    """The ``stem, file, reason`` columns as text safe for a UTF-8, one-line-per-row CSV.

    File names that are not UTF-8 or hold control characters are written with backslash
    escapes (:func:`brahmasifier.io.naming.printable_name`): one odd name must never make the
    whole table unwritable.

    Args:
        rejected: a rejects table (at least the ``REJECTED_COLUMNS``).

    Returns:
        A new table of just those columns, every cell printable text.
    """
    table = rejected.loc[:, list(REJECTED_COLUMNS)].astype(str)
    return table.apply(lambda column: column.map(printable_name))  # Series.map: pandas >= 2.0 (DataFrame.map is 2.1+)


def finalize_store(
    store_path: str | os.PathLike[str],
    shards: Sequence[tuple[str, int]],
    index: pd.DataFrame,
    rejected: pd.DataFrame | None = None,
    extra: dict[str, object] | None = None,
) -> CutoutStore:
    """Write index, rejects and (last) the manifest that marks the store complete."""
    store_path = Path(store_path)
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise ValueError(f"index lacks required columns {missing}")
    total = sum(n for _, n in shards)
    if len(index) != total:
        raise ValueError(f"index has {len(index)} rows but shards hold {total} images")
    index = index.reset_index(drop=True)
    with atomic_path(store_path / INDEX) as tmp:
        index.to_parquet(tmp, index=False)
    rej = rejected if rejected is not None else pd.DataFrame(columns=list(REJECTED_COLUMNS))
    with atomic_path(store_path / REJECTED) as tmp:
        printable_rejects(rej).to_csv(tmp, index=False)
    manifest = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "bands": list(BANDS),
        "stamp_size": STAMP_SIZE,
        "dtype": "float32",
        "units": "raw pixel values as read from the FITS files",
        "n_objects": int(total),
        "n_rejected": len(rej),
        "shards": [{"file": f, "n": int(n)} for f, n in shards],
        "created_by": f"brahmasifier {__version__}",
        **(extra or {}),
    }
    write_text_atomic(store_path / MANIFEST, json.dumps(manifest, indent=2))
    return CutoutStore(store_path)


def write_store(
    store_path: str | os.PathLike[str],
    images: np.ndarray,
    index: pd.DataFrame,
    rejected: pd.DataFrame | None = None,
    shard_size: int = 65536,
) -> CutoutStore:
    """Write a whole store from in-memory arrays (tests, small data, conversions)."""
    store_path = Path(store_path)
    if (store_path / MANIFEST).exists():
        (store_path / MANIFEST).unlink()
    shards = []
    for number, start in enumerate(range(0, max(len(images), 1), shard_size)):
        chunk = images[start : start + shard_size]
        shards.append((write_shard(store_path, number, chunk), len(chunk)))
    return finalize_store(store_path, shards, index, rejected)
