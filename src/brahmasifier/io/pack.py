"""Pack a challenge FITS tree into a store: parallel, resumable, bad files never fatal.

Plan of a run::

    scan (one process)  ──►  chunks of ``shard_size`` objects (in scan order)
    each chunk (a worker) ──► shards/images-NNNNN.npy  then  _parts/part-NNNNN.parquet
    all chunks done       ──► index.parquet, rejected.csv, manifest.json (last), remove _parts/

A part file is written after its shard, atomically, and carries the chunk's fingerprint
(stems, file paths, sizes, mtimes, taken by the worker before reading): a rerun after an
interruption keeps every part whose fingerprint still matches and packs only the rest. The
main process only stats files to check existing parts, so it stays out of the workers' way. Each worker streams its shard to disk in
small batches, so memory stays at a few batches per worker whatever the shard size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.fits import FitsFormatError
from brahmasifier.io.naming import band_filename
from brahmasifier.io.parameters import join_parameters, load_parameters
from brahmasifier.io.reader import read_object
from brahmasifier.io.scan import ObjectFiles, ScanResult, scan_fits_tree
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
    shard_filename,
)

log = logging.getLogger(__name__)

PARTS_DIR = "_parts"
#: Bumped when the part/chunk layout changes, so that old parts are never reused.
PACK_FORMAT = 1
_PART_META_KEY = b"brahmasifier.pack"
_SHARD_NAME = re.compile(r"^images-\d{5}\.npy$")
_PART_NAME = re.compile(r"^part-\d{5}\.parquet$")
#: Objects read between two writes to the shard file and two progress reports.
_BATCH = 256
_OBJECT_BYTES = len(BANDS) * STAMP_SIZE * STAMP_SIZE * 4
#: Size of the .npy header we write (the format pads it to a multiple of 64 bytes).
_NPY_HEADER_BYTES = 128

#: Index columns written by the packer, in this order, before the joined parameters.
PACK_INDEX_COLUMNS: tuple[str, ...] = ("id", "stem", "label", "domain", "n_nan", "duplicate_id", "source", "id_source")


@dataclass(frozen=True)
class _Chunk:
    number: int
    objects: list[ObjectFiles]


@dataclass(frozen=True)
class _PartInfo:
    number: int
    fingerprint: str
    shard: str | None  # None when every object of the chunk was rejected
    n: int
    index: pd.DataFrame
    rejected: list[tuple[str, str, str]]


def pack_fits(
    roots: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    shard_size: int = 16384,
    progress: bool = True,
    overwrite: bool = False,
) -> CutoutStore:
    """Pack every object under ``roots`` into the store folder ``out`` and open it.

    ``workers`` processes (default: the usable CPUs, at most one per chunk; ``1`` runs in this
    process) each pack one chunk of ``shard_size`` objects into one shard. Unreadable objects
    are listed in ``rejected.csv`` with the file and reason. Rerunning after an interruption
    resumes. If ``out`` already holds a complete store, it is returned as is when it was
    packed from identical inputs; otherwise ``overwrite=True`` is needed to rebuild it.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    started = time.perf_counter()
    out = Path(out)
    scan = scan_fits_tree(roots, exclude=[out])  # a store inside a root is not input

    if is_complete_store(out):
        if not overwrite:
            store = open_store(out)
            packed_with = int(store.manifest.get("shard_size", shard_size))
            prints = [_chunk_fingerprint(c) for c in _chunks(scan.objects, packed_with)]
            if store.manifest.get("inputs_fingerprint") == _inputs_fingerprint(scan, prints):
                log.info("%s: already packed from identical inputs", out)
                return store
            raise StoreError(
                f"{out}: already holds a complete store packed from different inputs; "
                "choose another --out or pass overwrite=True (--overwrite) to rebuild it"
            )
        _remove_store_files(out)
    _check_out_folder(out)

    chunks = _chunks(scan.objects, shard_size)
    parts_dir = out / PARTS_DIR
    parts_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(parts_dir / ".lock", out):
        _remove_stale_parts(parts_dir, {c.number for c in chunks})
        done = {c.number: part for c in chunks if (part := _load_part(out, c)) is not None}
        todo = [c for c in chunks if c.number not in done]
        n_todo = sum(len(c.objects) for c in todo)
        if done:
            log.info("%s: resuming; %d of %d chunks already packed", out, len(done), len(chunks))
        _run_chunks(out, todo, workers=workers, progress=progress, n_objects=n_todo)

        parts = []
        for chunk in chunks:
            part = done.get(chunk.number) or _load_part(out, chunk, check_files=False)
            if part is None:
                raise StoreError(f"{out}: chunk {chunk.number} was packed but its part file is missing or stale")
            parts.append(part)
        inputs_fingerprint = _inputs_fingerprint(scan, [p.fingerprint for p in parts])
        store = _finalize(out, scan, parts, inputs_fingerprint, shard_size, time.perf_counter() - started, n_todo)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return store


# -- fingerprints ---------------------------------------------------------------------------

def _chunks(objects: list[ObjectFiles], shard_size: int) -> list[_Chunk]:
    return [_Chunk(number, objects[start : start + shard_size]) for number, start in enumerate(range(0, len(objects), shard_size))]


def _chunk_fingerprint(chunk: _Chunk) -> str:
    """What identifies a chunk's inputs: its place, and each object's stem and band files' path, size, mtime."""
    digest = hashlib.sha256(f"pack-format {PACK_FORMAT}\nchunk {chunk.number}\n".encode())
    for obj in chunk.objects:
        fields = [obj.stem]
        for band in BANDS:
            path = obj.files[band]
            try:
                st = os.stat(path)
                fields.append(f"{path}|{st.st_size}|{st.st_mtime_ns}")
            except OSError:
                fields.append(f"{path}|missing")
        digest.update("\n".join(fields).encode("utf-8", errors="surrogateescape") + b"\0")
    return digest.hexdigest()


def _inputs_fingerprint(scan: ScanResult, chunk_prints: Sequence[str]) -> str:
    """One hash of everything the store's content depends on, given its chunking."""
    digest = hashlib.sha256(f"pack-format {PACK_FORMAT}\n".encode())
    for text in chunk_prints:
        digest.update(text.encode() + b"\0")
    for row in scan.rejected.itertuples(index=False):
        digest.update("|".join(map(str, row)).encode("utf-8", errors="surrogateescape") + b"\0")
    for path in scan.parameter_files:
        st = os.stat(path)
        digest.update(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode("utf-8", errors="surrogateescape") + b"\0")
    return digest.hexdigest()


# -- the output folder ------------------------------------------------------------------------

_STORE_ENTRIES = frozenset({MANIFEST, INDEX, REJECTED, SHARD_DIR, PARTS_DIR})


def _check_out_folder(out: Path) -> None:
    """Refuse to pack into a file, or into a folder holding anything but a (partial) store."""
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out}: exists and is not a folder")
    if out.is_dir():
        foreign = sorted(e.name for e in os.scandir(out) if e.name not in _STORE_ENTRIES and not e.name.startswith("."))
        if foreign:
            raise StoreError(
                f"{out}: folder is not empty and is not a store (found {', '.join(foreign[:5])}); choose an empty or new --out"
            )


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


def _remove_stale_parts(parts_dir: Path, numbers: set[int]) -> None:
    """Drop parts of chunks that no longer exist (the inputs shrank since the interrupted run)."""
    for entry in os.scandir(parts_dir):
        if _PART_NAME.match(entry.name) and int(entry.name[5:10]) not in numbers:
            os.unlink(entry.path)


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, out: Path):  # type: ignore[no-untyped-def]
    """Hold an exclusive lock so that two packs into the same ``out`` cannot interleave."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{out}: another `brahmasifier pack` is writing this store right now") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _part_path(out: Path, number: int) -> Path:
    return out / PARTS_DIR / f"part-{number:05d}.parquet"


# -- one chunk -------------------------------------------------------------------------------

def _pack_chunk(out: Path, chunk: _Chunk, report: Callable[[int], None]) -> None:
    """Read the chunk's objects, stream the good ones into its shard, then write its part."""
    fingerprint = _chunk_fingerprint(chunk)  # before reading: a file changed meanwhile is caught next run
    rows: list[dict[str, object]] = []
    rejected: list[tuple[str, str, str]] = []
    shard_rel = shard_filename(chunk.number)
    shard_path = out / shard_rel
    with atomic_path(shard_path) as tmp, open(tmp, "wb") as fh:
        fh.write(_npy_header(len(chunk.objects)))
        batch: list[np.ndarray] = []
        pending = 0
        for obj in chunk.objects:
            try:
                item = read_object(obj)
            except FitsFormatError as exc:
                rejected.append((obj.stem, str(exc.path or obj.files[BANDS[0]]), exc.reason))
            except Exception as exc:  # a bad object must never stop the job
                rejected.append((obj.stem, str(obj.files[BANDS[0]]), f"unexpected error ({type(exc).__name__}: {exc})"))
            else:
                batch.append(item.image)
                rows.append({"id": item.id, "stem": obj.stem, "label": obj.label, "domain": obj.domain,
                             "n_nan": item.n_nan, "source": str(obj.root), "id_source": item.id_source})
            pending += 1
            if pending == _BATCH:
                _flush(fh, batch)
                report(pending)
                pending = 0
        _flush(fh, batch)
        report(pending)
        fh.seek(0)
        fh.write(_npy_header(len(rows)))  # same length: the header is padded to a fixed size
    if not rows:
        shard_path.unlink()
    index = pd.DataFrame(rows, columns=["id", "stem", "label", "domain", "n_nan", "source", "id_source"])
    meta = {"format": PACK_FORMAT, "chunk": chunk.number, "n_objects": len(chunk.objects), "fingerprint": fingerprint, "shard": shard_rel if rows else None,
            "n": len(rows), "rejected": rejected}
    _write_part(_part_path(out, chunk.number), index, meta)


def _flush(fh, batch: list[np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    if batch:
        fh.write(np.ascontiguousarray(np.stack(batch), dtype="<f4").tobytes())
        batch.clear()


def _npy_header(n: int) -> bytes:
    """A version-1.0 ``.npy`` header for ``(n, 5, 41, 41)`` little-endian float32, fixed size."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {len(BANDS)}, {STAMP_SIZE}, {STAMP_SIZE}), }}"
    pad = _NPY_HEADER_BYTES - 10 - len(text) - 1
    if pad < 0:  # pragma: no cover - would need > 10^60 objects
        raise ValueError("shard too large for the fixed .npy header")
    body = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def _write_part(path: Path, index: pd.DataFrame, meta: dict[str, object]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(index, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _PART_META_KEY: json.dumps(meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _load_part(out: Path, chunk: _Chunk, *, check_files: bool = True) -> _PartInfo | None:
    """The chunk's finished part, or ``None`` if absent, stale or inconsistent (then it is removed).

    ``check_files=False`` trusts the fingerprint the worker just wrote instead of re-statting.
    """
    import pyarrow.parquet as pq

    path = _part_path(out, chunk.number)
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[_PART_META_KEY])
        ok = meta.get("format") == PACK_FORMAT and meta.get("chunk") == chunk.number and len(chunk.objects) == meta.get("n_objects")
        ok = ok and (not check_files or meta.get("fingerprint") == _chunk_fingerprint(chunk))
        ok = ok and table.num_rows == meta["n"]
        if ok and meta["shard"] is not None:
            shard = np.load(out / meta["shard"], mmap_mode="r")
            ok = shard.shape == (meta["n"], len(BANDS), STAMP_SIZE, STAMP_SIZE) and shard.dtype == np.float32
            del shard
    except Exception as exc:  # unreadable part or shard: redo the chunk
        log.info("%s: discarding unusable part (%s)", path, exc)
        ok = False
    if not ok:
        path.unlink(missing_ok=True)
        return None
    return _PartInfo(chunk.number, meta["fingerprint"], meta["shard"], int(meta["n"]), table.to_pandas(),
                     [tuple(r) for r in meta["rejected"]])  # type: ignore[misc]


# -- running chunks -------------------------------------------------------------------------

_progress_queue = None  # set in worker processes by _init_worker


def _init_worker(queue) -> None:  # type: ignore[no-untyped-def]
    global _progress_queue
    _progress_queue = queue


def _pack_chunk_in_worker(out: Path, packed_chunk: tuple[int, list[str], list[tuple]]) -> int:  # type: ignore[type-arg]
    queue = _progress_queue
    chunk = _unpack_chunk(packed_chunk)
    _pack_chunk(out, chunk, (lambda n: queue.put(n)) if queue is not None else (lambda n: None))
    return chunk.number


def _pack_chunk_for_worker(chunk: _Chunk) -> tuple[int, list[str], list[tuple]]:  # type: ignore[type-arg]
    """A compact, plain-string form of a chunk: pickled Paths are ~3x larger and slow to send."""
    roots: dict[Path, int] = {}
    rows = []
    for obj in chunk.objects:
        folder = obj.files[BANDS[0]].parent
        where: str | tuple[str, ...] = str(folder)
        if any(obj.files[b] != folder / band_filename(obj.stem, b) for b in BANDS):
            where = tuple(str(obj.files[b]) for b in BANDS)  # not the usual naming: send every path
        rows.append((obj.stem, obj.label, obj.domain, roots.setdefault(obj.root, len(roots)), where))
    return chunk.number, [str(r) for r in roots], rows


def _unpack_chunk(packed: tuple[int, list[str], list[tuple]]) -> _Chunk:  # type: ignore[type-arg]
    number, root_names, rows = packed
    roots = [Path(r) for r in root_names]
    folders: dict[str, Path] = {}
    objects = []
    for stem, label, domain, root_number, where in rows:
        if isinstance(where, str):
            folder = folders.get(where) or folders.setdefault(where, Path(where))
            files = {b: folder / band_filename(stem, b) for b in BANDS}
        else:
            files = {b: Path(p) for b, p in zip(BANDS, where)}
        objects.append(ObjectFiles(stem=stem, label=label, domain=domain, files=files, root=roots[root_number]))
    return _Chunk(number, objects)


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_chunks(out: Path, chunks: list[_Chunk], *, workers: int | None, progress: bool, n_objects: int) -> None:
    from tqdm.auto import tqdm

    n_workers = min(workers or _default_workers(), max(len(chunks), 1))
    with tqdm(total=n_objects, unit="obj", desc="pack", disable=not progress, file=sys.stderr, smoothing=0.1) as bar:
        if n_workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                _pack_chunk(out, chunk, bar.update)
            return
        # forkserver/spawn: never fork a parent that may hold threads (torch, BLAS, tqdm's monitor).
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["brahmasifier.io.pack", "pyarrow.parquet"])  # workers start warm
        queue = ctx.Queue()
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
        try:
            pending: set[Future[int]] = {pool.submit(_pack_chunk_in_worker, out, _pack_chunk_for_worker(chunk)) for chunk in chunks}
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(queue, bar)
                for future in finished:
                    future.result()  # re-raise a worker's failure (finished chunks stay packed)
            _drain(queue, bar)
        except BrokenProcessPool as exc:
            raise RuntimeError(
                f"{out}: a pack worker process died (killed, out of memory, or the calling script lacks an "
                "`if __name__ == '__main__':` guard, which worker processes need). Finished chunks are kept: "
                "rerun to resume, or pass workers=1 to pack in this process."
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            queue.close()
            queue.join_thread()


def _drain(queue, bar) -> None:  # type: ignore[no-untyped-def]
    import queue as queue_module

    while True:
        try:
            bar.update(queue.get_nowait())
        except queue_module.Empty:
            return


# -- the end: one index, one reject list, the manifest ---------------------------------------

def _finalize(
    out: Path,
    scan: ScanResult,
    parts: list[_PartInfo],
    inputs_fingerprint: str,
    shard_size: int,
    seconds: float,
    n_packed_now: int,
) -> CutoutStore:
    index = pd.concat([p.index for p in parts], ignore_index=True) if parts else pd.DataFrame(
        {"id": pd.Series([], dtype=str), "stem": pd.Series([], dtype=str), "label": pd.Series([], dtype=np.int64),
         "domain": pd.Series([], dtype=str), "n_nan": pd.Series([], dtype=np.int64), "source": pd.Series([], dtype=str),
         "id_source": pd.Series([], dtype=str)})
    index["label"] = index["label"].astype(np.int64)
    index["n_nan"] = index["n_nan"].astype(np.int64)
    index.insert(5, "duplicate_id", index["id"].duplicated(keep=False).to_numpy())
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
        "n_stray_files": int((rejected["stem"] == "").sum()),  # incl. unreadable parameters.fits
        "n_duplicate_ids": n_duplicates,
        "n_with_nan": int((index["n_nan"] > 0).sum()),
        "shard_size": shard_size,
        "parameter_files": [str(p) for p in scan.parameter_files],
        "pack_seconds": round(seconds, 3),
        "objects_packed_this_run": n_packed_now,
    }
    return finalize_store(out, shards, index, rejected, extra=extra)
