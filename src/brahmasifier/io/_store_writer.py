"""Writing a store: the streaming shard writer, the final index/rejects/manifest, and whole stores from arrays.

:class:`ShardWriter` streams a shard batch by batch (packing holds a few batches in memory
whatever the shard size); :func:`finalize_store` writes the index and the rejects table and,
last, the manifest that marks the store complete. Every file is written atomically. The
public face is :mod:`brahmasifier.io.store`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pandas as pd

from brahmasifier import __version__
from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io._store_format import (
    INDEX,
    INDEX_COLUMNS,
    MANIFEST,
    REJECTED,
    REJECTED_COLUMNS,
    STORE_FORMAT,
    STORE_VERSION,
    shard_filename,
)
from brahmasifier.io._store_reader import CutoutStore
from brahmasifier.io.naming import printable_name

__all__ = ["ShardWriter", "finalize_store", "printable_rejects", "write_shard", "write_store"]


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
