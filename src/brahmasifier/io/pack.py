"""Pack a challenge FITS tree into a store: parallel, resumable, bad files never fatal.

Plan of a run::

    scan (one process)  ──►  chunks of ``shard_size`` objects (in scan order)
    each chunk (a worker) ──► shards/images-NNNNN.npy  then  _parts/part-NNNNN.parquet
    all chunks done       ──► index.parquet, rejected.csv, manifest.json (last), remove _parts/

A part file is written after its shard, atomically, and carries the chunk's fingerprint
(stems, file paths, sizes, mtimes, taken by the worker before reading): a rerun after an
interruption keeps every part whose fingerprint still matches and packs only the rest. The
main process only stats files to check existing parts, so it stays out of the workers' way.
Each worker streams its shard to disk in small batches (:class:`~brahmasifier.io.store.ShardWriter`),
so memory stays at a few batches per worker whatever the shard size.

By job: this module plans the run, guards the output folder and writes the final index;
:mod:`._pack_chunks` packs one chunk (shard + part file, fingerprints); :mod:`._pack_workers`
runs chunks in worker processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._outputs import check_free_space, check_output_folder
from brahmasifier._runlock import RunLock
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io._pack_chunks import (
    PACK_INDEX_COLUMNS,
    PARTS_DIR,
    PartInfo,
    chunk_fingerprint,
    chunks_of,
    inputs_fingerprint,
    load_part,
)
from brahmasifier.io._pack_workers import run_chunks
from brahmasifier.io.pack_config import PackConfig
from brahmasifier.io.parameters import join_parameters, load_parameters, n_with_parameters
from brahmasifier.io.reader import ID_FROM_STEM
from brahmasifier.io.release import count_file_rows
from brahmasifier.io.scan import ScanResult, scan_fits_tree
from brahmasifier.io.store import (
    INDEX,
    MANIFEST,
    REJECTED,
    REJECTED_COLUMNS,
    SHARD_DIR,
    CutoutStore,
    StoreError,
    finalize_store,
    is_complete_store,
    open_store,
)
from brahmasifier.pixels import masked_summary

__all__ = ["PACK_INDEX_COLUMNS", "PackConfig", "pack_fits"]

log = logging.getLogger(__name__)

#: Index, part and manifest bytes per object, a generous estimate for the free-space check (parquet: ~60 B measured).
INDEX_BYTES_PER_OBJECT = 512

_SHARD_NAME = re.compile(r"^images-\d{5}\.npy$")
_PART_NAME = re.compile(r"^part-\d{5}\.parquet$")


def pack_fits(
    roots: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | PackConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    shard_size: int = 16384,
    progress: bool = True,
    overwrite: bool = False,
) -> CutoutStore:
    """Pack every object under ``roots`` into the store folder ``out`` and open it.

    Takes a :class:`~brahmasifier.io.pack_config.PackConfig` alone (``pack_fits(config)``), or
    its fields as arguments (checked there: ``ConfigError`` for ``shard_size`` or ``workers`` < 1).

    ``workers`` processes (default: the usable CPUs, at most one per chunk; ``1`` runs in this
    process) each pack one chunk of ``shard_size`` objects into one shard. Unreadable objects
    are listed in ``rejected.csv`` with the file and reason. Rerunning after an interruption
    resumes. If ``out`` already holds a complete store, it is returned as is when it was
    packed from identical inputs; otherwise ``overwrite=True`` is needed to rebuild it.
    """
    if isinstance(roots, PackConfig):
        if out is not None:
            raise TypeError("pack_fits(config) takes no other arguments: out is config.out")
        config = roots
    else:
        if out is None:
            raise TypeError("pack_fits() needs out (the store folder)")
        config = PackConfig.of(roots, out, workers=workers, shard_size=shard_size, progress=progress,
                               overwrite=overwrite)
    workers, shard_size, progress, overwrite = config.workers, config.shard_size, config.progress, config.overwrite
    started = time.perf_counter()
    out = Path(config.out)
    scan = scan_fits_tree(config.roots, exclude=[out])  # a store inside a root is not input

    if is_complete_store(out):
        if not overwrite:
            store = open_store(out)
            packed_with = int(store.manifest.get("shard_size", shard_size))
            prints = [chunk_fingerprint(c) for c in chunks_of(scan.objects, packed_with)]
            if store.manifest.get("inputs_fingerprint") == inputs_fingerprint(scan, prints):
                log.debug("%s: already packed from identical inputs", out)
                return store
            raise StoreError(
                f"{out}: already holds a complete store packed from different inputs; "
                "choose another --out or pass overwrite=True (--overwrite) to rebuild it"
            )
        _remove_store_files(out)
    _check_out_folder(out)

    chunks = chunks_of(scan.objects, shard_size)
    parts_dir = out / PARTS_DIR
    parts_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(parts_dir / ".lock", f"{out}: another `brahmasifier pack` (PID {{pid}}) is writing this store right now",
                 StoreError):
        _remove_stale_parts(parts_dir, {c.number for c in chunks})
        _remove_temp_files(out)
        done = {c.number: part for c in chunks if (part := load_part(out, c)) is not None}
        todo = [c for c in chunks if c.number not in done]
        n_todo = sum(len(c.objects) for c in todo)
        if done:
            log.debug("%s: resuming; %d of %d chunks already packed", out, len(done), len(chunks))
        per_object = len(BANDS) * STAMP_SIZE * STAMP_SIZE * 4 + INDEX_BYTES_PER_OBJECT
        check_free_space(out, n_todo * per_object, "--out", f"{n_todo:,} objects × {per_object:,} bytes")
        run_chunks(out, todo, workers=workers, progress=progress, n_objects=n_todo)

        parts = []
        for chunk in chunks:
            part = done.get(chunk.number) or load_part(out, chunk, check_files=False)
            if part is None:
                raise StoreError(f"{out}: chunk {chunk.number} was packed but its part file is missing or stale")
            parts.append(part)
        fingerprint = inputs_fingerprint(scan, [p.fingerprint for p in parts])
        store = _finalize(out, scan, parts, fingerprint, shard_size, time.perf_counter() - started, n_todo)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return store


# -- the output folder ------------------------------------------------------------------------

_STORE_ENTRIES = frozenset({MANIFEST, INDEX, REJECTED, SHARD_DIR, PARTS_DIR})


def _check_out_folder(out: Path) -> None:
    """Refuse to pack into a file, or into a folder holding anything but a (partial) store."""
    check_output_folder(out, _STORE_ENTRIES, "a store")


def _remove_store_files(out: Path) -> None:
    """Delete a store's own files (manifest first, so it is never left looking complete)."""
    for name in (MANIFEST, INDEX, REJECTED):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    shards = out / SHARD_DIR
    if shards.is_dir():
        for entry in os.scandir(shards):
            if _SHARD_NAME.match(entry.name):
                os.unlink(entry.path)
    shutil.rmtree(out / PARTS_DIR, ignore_errors=True)


_TEMP_NAME = re.compile(r"^\.(images-\d{5}\.npy|part-\d{5}\.parquet|manifest\.json|index\.parquet|rejected\.csv)\.tmp-")


def _remove_temp_files(out: Path) -> None:
    """Drop the temporary files of an interrupted pack's atomic writes (orphan ``.images-NNNNN.npy.tmp-*`` shards)."""
    for folder in (out, out / SHARD_DIR, out / PARTS_DIR):
        if folder.is_dir():
            for entry in os.scandir(folder):
                if _TEMP_NAME.match(entry.name):
                    os.unlink(entry.path)


def _remove_stale_parts(parts_dir: Path, numbers: set[int]) -> None:
    """Drop parts of chunks that no longer exist (the inputs shrank since the interrupted run)."""
    for entry in os.scandir(parts_dir):
        if _PART_NAME.match(entry.name) and int(entry.name[5:10]) not in numbers:
            os.unlink(entry.path)


# -- the end: one index, one reject list, the manifest ---------------------------------------

def _finalize(
    out: Path,
    scan: ScanResult,
    parts: list[PartInfo],
    inputs_fingerprint: str,
    shard_size: int,
    seconds: float,
    n_packed_now: int,
) -> CutoutStore:
    index = pd.concat([p.index for p in parts], ignore_index=True) if parts else pd.DataFrame(
        {"id": pd.Series([], dtype=str), "stem": pd.Series([], dtype=str), "label": pd.Series([], dtype=np.int64),
         "domain": pd.Series([], dtype=str), "n_nan": pd.Series([], dtype=np.int64), "source": pd.Series([], dtype=str),
         "id_source": pd.Series([], dtype=str), "n_masked": pd.Series([], dtype=np.int64)})
    index["label"] = index["label"].astype(np.int64)
    index["n_nan"] = index["n_nan"].astype(np.int64)
    index["n_masked"] = index["n_masked"].fillna(0).astype(np.int64)  # parts of an earlier version lack it
    index.insert(PACK_INDEX_COLUMNS.index("duplicate_id"), "duplicate_id", index["id"].duplicated(keep=False).to_numpy())
    n_duplicates = int(index["duplicate_id"].sum())
    if n_duplicates:
        log.warning("%s: %d stored objects share their ID with another object (flagged in duplicate_id)", out, n_duplicates)
    parameters, parameter_problems = load_parameters(scan.parameter_files)
    index = join_parameters(index, parameters)

    chunk_rejects = [row for p in parts for row in p.rejected] + [("", f, reason) for f, reason in parameter_problems]
    rejected = pd.concat([scan.rejected, pd.DataFrame(chunk_rejects, columns=list(REJECTED_COLUMNS))], ignore_index=True)
    n_rejected_objects = int((rejected["stem"] != "").sum())
    if len(index) + n_rejected_objects != scan.n_found:  # pragma: no cover - a bug, not bad data
        raise RuntimeError(f"{out}: {scan.n_found} objects found but {len(index)} stored + {n_rejected_objects} rejected")

    shards = [(p.shard, p.n) for p in parts if p.shard is not None]
    referenced = {Path(f).name for f, _ in shards}
    shard_dir = out / SHARD_DIR
    if shard_dir.is_dir():  # shards of chunks that no longer exist (inputs changed between runs)
        for entry in os.scandir(shard_dir):
            if _SHARD_NAME.match(entry.name) and entry.name not in referenced:
                os.unlink(entry.path)
    extra = {
        "inputs_fingerprint": inputs_fingerprint,
        "roots": [str(r) for r in scan.roots],
        "n_found": scan.n_found,
        **count_file_rows(rejected["stem"], rejected["reason"]),  # stray files (incl. unreadable tables), manifest findings
        "n_duplicate_ids": n_duplicates,
        "n_with_nan": int((index["n_nan"] > 0).sum()),
        **masked_summary(index["n_masked"].to_numpy() / (len(BANDS) * STAMP_SIZE**2)),
        "n_stem_ids": int((index["id_source"].astype(str) == ID_FROM_STEM).sum()),
        "shard_size": shard_size,
        "parameter_files": [str(p) for p in scan.parameter_files],
        "n_with_parameters": n_with_parameters(index),
        "parameter_problems": [{"file": f, "reason": reason} for f, reason in parameter_problems],
        "pack_seconds": round(seconds, 3),
        "objects_packed_this_run": n_packed_now,
        **scan.input_report(),
    }
    return finalize_store(out, shards, index, rejected, extra=extra)
