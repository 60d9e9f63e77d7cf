"""The store's folder layout: its file names, format marks and columns, and "is this a (complete) store?".

A store folder holds ``manifest.json`` (written last; its presence marks a complete store),
``shards/images-NNNNN.npy``, ``index.parquet`` and ``rejected.csv``; while ``pack`` runs it
also holds ``_parts/``. Readers (:mod:`._store_reader`) and writers (:mod:`._store_writer`)
take every name from here; the public face is :mod:`brahmasifier.io.store`.
"""

from __future__ import annotations

import os
from pathlib import Path

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
    "INDEX", "INDEX_COLUMNS", "MANIFEST", "REJECTED", "REJECTED_COLUMNS", "SHARD_DIR", "STORE_FORMAT", "STORE_VERSION",
    "is_complete_store", "is_store_folder", "shard_filename",
]


def shard_filename(number: int) -> str:
    """Relative path of shard ``number`` inside a store."""
    return f"{SHARD_DIR}/images-{number:05d}.npy"


def is_complete_store(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds a finished store (its manifest exists)."""
    return (Path(path) / MANIFEST).is_file()


def is_store_folder(path: str | os.PathLike[str]) -> bool:
    """True for a store folder, complete or not (its manifest, index or pack parts are there).

    Inputs that may be FITS roots or stores use this: an unfinished store must be refused
    with :class:`~brahmasifier.errors.StoreError` by :func:`~brahmasifier.io.store.open_store`
    ("rerun pack to resume"), not scanned as an empty FITS tree.
    """
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in (MANIFEST, INDEX, "_parts"))
