"""The packed cutout store: sharded memory-mapped image arrays + a Parquet index (the public face).

Every name of the store format is imported from here. By job, the code lives in four
modules: the folder layout and "is this a (complete) store?" (``io/_store_format.py``), the
reader (``io/_store_reader.py``: :class:`CutoutStore`, :func:`open_store`), several stores
read as one without copying (``io/_store_union.py``: :class:`StoreUnion`, :func:`open_stores`;
its index adds ``source_store``) and the writers (``io/_store_writer.py``: :class:`ShardWriter`,
:func:`finalize_store`, :func:`write_store`).

Layout of a store folder::

    manifest.json        written last; its presence marks a complete store
    shards/images-NNNNN.npy   float32 (n_k, 5, 41, 41), raw pixel units, NumPy .npy format
    index.parquet        one row per stored object, in store order (id, stem, label, domain, n_nan, ...)
    rejected.csv         stem,file,reason for every object found but not stored

Shards are opened with ``np.load(mmap_mode="r")`` lazily in each process, so DataLoader
workers and DDP ranks on one node share the OS page cache instead of each holding a copy.
"""

from __future__ import annotations

from brahmasifier.errors import StoreError
from brahmasifier.io._store_format import (
    INDEX,
    INDEX_COLUMNS,
    MANIFEST,
    REJECTED,
    REJECTED_COLUMNS,
    SHARD_DIR,
    STORE_FORMAT,
    STORE_VERSION,
    is_complete_store,
    is_store_folder,
    shard_filename,
)
from brahmasifier.io._store_reader import CutoutStore, StoreBatch, open_store
from brahmasifier.io._store_union import SOURCE_STORE, StoreUnion, open_stores
from brahmasifier.io._store_writer import ShardWriter, finalize_store, printable_rejects, write_shard, write_store

__all__ = [
    "INDEX", "INDEX_COLUMNS", "MANIFEST", "REJECTED", "REJECTED_COLUMNS", "SHARD_DIR", "SOURCE_STORE", "STORE_FORMAT",
    "STORE_VERSION", "CutoutStore", "ShardWriter", "StoreBatch", "StoreError", "StoreUnion", "finalize_store",
    "is_complete_store", "is_store_folder", "open_store", "open_stores", "printable_rejects", "shard_filename", "write_shard",
    "write_store",
]
