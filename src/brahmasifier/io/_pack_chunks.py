"""One chunk of a pack: its objects, fingerprint, shard (streamed with ``ShardWriter``) and part file.

A part file (``_parts/part-NNNNN.parquet``: the chunk's index rows, with its metadata in the
Parquet schema) is written after its shard, atomically, and carries the chunk's fingerprint
(stems, file paths, sizes, mtimes, taken before reading): a rerun after an interruption keeps
every part whose fingerprint still matches. See :mod:`brahmasifier.io.pack` for the plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import FitsFormatError
from brahmasifier.io.naming import printable_name
from brahmasifier.io.reader import read_object
from brahmasifier.io.scan import ObjectFiles, ScanResult, object_stamp
from brahmasifier.io.store import ShardWriter

__all__ = [
    "BATCH", "CHUNK_INDEX_COLUMNS", "PACK_FORMAT", "PACK_INDEX_COLUMNS", "PARTS_DIR", "Chunk", "PartInfo",
    "chunk_fingerprint", "chunks_of", "inputs_fingerprint", "load_part", "pack_chunk", "part_path", "write_part",
]

log = logging.getLogger("brahmasifier.io.pack")

PARTS_DIR = "_parts"
#: Bumped when the part/chunk layout changes, so that old parts are never reused.
PACK_FORMAT = 1
_PART_META_KEY = b"brahmasifier.pack"
#: Objects read between two writes to the shard file and two progress reports.
BATCH = 256
#: Index columns written by the packer, in this order, before the joined parameters.
PACK_INDEX_COLUMNS: tuple[str, ...] = ("id", "stem", "label", "domain", "n_nan", "duplicate_id", "source", "id_source",
                                       "n_masked")
#: A chunk's own columns (``duplicate_id`` needs every chunk, so the final index adds it).
CHUNK_INDEX_COLUMNS: list[str] = [c for c in PACK_INDEX_COLUMNS if c != "duplicate_id"]


@dataclass(frozen=True)
class Chunk:
    """Objects ``number * shard_size ...`` of the scan: packed by one worker into one shard."""

    number: int
    objects: list[ObjectFiles]


@dataclass(frozen=True)
class PartInfo:
    """A finished chunk as its part file describes it."""

    number: int
    fingerprint: str
    shard: str | None  # None when every object of the chunk was rejected
    n: int
    index: pd.DataFrame
    rejected: list[tuple[str, str, str]]


def chunks_of(objects: list[ObjectFiles], shard_size: int) -> list[Chunk]:
    """Consecutive chunks of ``shard_size`` objects, in scan order."""
    return [Chunk(number, objects[start : start + shard_size]) for number, start in enumerate(range(0, len(objects), shard_size))]


def chunk_fingerprint(chunk: Chunk) -> str:
    """What identifies a chunk's inputs: its place, and each object's stem and band files' path, size, mtime."""
    digest = hashlib.sha256(f"pack-format {PACK_FORMAT}\nchunk {chunk.number}\n".encode())
    for obj in chunk.objects:
        digest.update(f"{obj.stem}\n{object_stamp(obj)}".encode("utf-8", errors="surrogateescape") + b"\0")
    return digest.hexdigest()


def inputs_fingerprint(scan: ScanResult, chunk_prints: Sequence[str]) -> str:
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


def part_path(out: Path, number: int) -> Path:
    """Part file of chunk ``number``."""
    return out / PARTS_DIR / f"part-{number:05d}.parquet"


def pack_chunk(out: Path, chunk: Chunk, report: Callable[[int], object]) -> None:
    """Read the chunk's objects, stream the good ones into its shard, then write its part."""
    fingerprint = chunk_fingerprint(chunk)  # before reading: a file changed meanwhile is caught next run
    rows: list[dict[str, object]] = []
    rejected: list[tuple[str, str, str]] = []
    with ShardWriter(out, chunk.number) as shard:
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
                             "n_nan": item.n_nan, "source": printable_name(str(obj.root)), "id_source": item.id_source,
                             "n_masked": item.n_masked})
            pending += 1
            if pending == BATCH:
                shard.write(batch)
                batch.clear()
                report(pending)
                pending = 0
        shard.write(batch)
        report(pending)
    if not rows:
        shard.path.unlink()
    index = pd.DataFrame(rows, columns=CHUNK_INDEX_COLUMNS)
    meta = {"format": PACK_FORMAT, "chunk": chunk.number, "n_objects": len(chunk.objects), "fingerprint": fingerprint,
            "shard": shard.rel if rows else None, "n": len(rows), "rejected": rejected}
    write_part(part_path(out, chunk.number), index, meta)


def write_part(path: Path, index: pd.DataFrame, meta: dict[str, object]) -> None:
    """Write a chunk's index rows with ``meta`` in the Parquet schema, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(index, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _PART_META_KEY: json.dumps(meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def load_part(out: Path, chunk: Chunk, *, check_files: bool = True) -> PartInfo | None:
    """The chunk's finished part, or ``None`` if absent, stale or inconsistent (then it is removed).

    ``check_files=False`` trusts the fingerprint the worker just wrote instead of re-statting.
    """
    import pyarrow.parquet as pq

    path = part_path(out, chunk.number)
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[_PART_META_KEY])
        ok = (meta.get("format") == PACK_FORMAT and meta.get("chunk") == chunk.number
              and len(chunk.objects) == meta.get("n_objects"))
        ok = ok and (not check_files or meta.get("fingerprint") == chunk_fingerprint(chunk))
        ok = ok and table.num_rows == meta["n"]
        if ok and meta["shard"] is not None:
            shard = np.load(out / meta["shard"], mmap_mode="r")
            ok = shard.shape == (meta["n"], len(BANDS), STAMP_SIZE, STAMP_SIZE) and shard.dtype == np.float32
            del shard
    except Exception as exc:  # unreadable part or shard: redo the chunk
        log.debug("%s: discarding unusable part (%s)", path, exc)
        ok = False
    if not ok:
        path.unlink(missing_ok=True)
        return None
    return PartInfo(chunk.number, meta["fingerprint"], meta["shard"], int(meta["n"]), table.to_pandas(),
                    [(str(a), str(b), str(c)) for a, b, c in meta["rejected"]])
