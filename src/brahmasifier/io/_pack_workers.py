"""Running a pack's chunks: in this process, or in a pool of worker processes with progress from a queue.

Workers start from forkserver (or spawn): never fork a parent that may hold threads (torch,
BLAS, tqdm's monitor). A chunk travels to its worker in a compact plain-string form
(pickled ``Path`` objects are ~3x larger and slow to send).

Workers exit as soon as the main process dies (killed, out of memory): a thread in each waits on
multiprocessing's parent sentinel (the pipe end the parent holds open for its child's life) and
ends the worker. Without it a killed ``pack`` left the forkserver's workers packing their
current chunk, unseen, for as long as a chunk takes (a minute for 16,384 objects).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from brahmasifier._progress import progress_bar
from brahmasifier.bands import BANDS
from brahmasifier.errors import WorkerDiedError
from brahmasifier.hardware import usable_cpus
from brahmasifier.io._pack_chunks import Chunk, pack_chunk
from brahmasifier.io.naming import band_filename
from brahmasifier.io.scan import ObjectFiles

__all__ = ["pack_chunk_for_worker", "run_chunks", "unpack_chunk"]

#: A chunk in transit: (number, root folders, rows of (stem, label, domain, root number, folder or paths)).
PackedChunk = tuple[int, list[str], list[tuple[str, int, str, int, str | tuple[str, ...]]]]


_progress_queue: Any = None  # set in worker processes by _init_worker (a multiprocessing queue)


def _init_worker(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent: Any) -> None:
    """End this worker when the process that started it is gone (its sentinel closes)."""
    parent.join()
    os._exit(1)


def _pack_chunk_in_worker(out: Path, packed_chunk: PackedChunk) -> int:
    queue = _progress_queue
    chunk = unpack_chunk(packed_chunk)
    pack_chunk(out, chunk, (lambda n: queue.put(n)) if queue is not None else (lambda n: None))
    return chunk.number


def pack_chunk_for_worker(chunk: Chunk) -> PackedChunk:
    """A compact, plain-string form of a chunk: pickled Paths are ~3x larger and slow to send."""
    roots: dict[Path, int] = {}
    rows: list[tuple[str, int, str, int, str | tuple[str, ...]]] = []
    for obj in chunk.objects:
        folder = obj.files[BANDS[0]].parent
        where: str | tuple[str, ...] = str(folder)
        if any(obj.files[b] != folder / band_filename(obj.stem, b) for b in BANDS):
            where = tuple(str(obj.files[b]) for b in BANDS)  # not the usual naming: send every path
        rows.append((obj.stem, obj.label, obj.domain, roots.setdefault(obj.root, len(roots)), where))
    return chunk.number, [str(r) for r in roots], rows


def unpack_chunk(packed: PackedChunk) -> Chunk:
    """The chunk back from :func:`pack_chunk_for_worker`'s form."""
    number, root_names, rows = packed
    roots = [Path(r) for r in root_names]
    folders: dict[str, Path] = {}
    objects = []
    for stem, label, domain, root_number, where in rows:
        if isinstance(where, str):
            folder = folders.get(where) or folders.setdefault(where, Path(where))
            files = {b: folder / band_filename(stem, b) for b in BANDS}
        else:
            files = {b: Path(p) for b, p in zip(BANDS, where, strict=True)}
        objects.append(ObjectFiles(stem=stem, label=label, domain=domain, files=files, root=roots[root_number]))
    return Chunk(number, objects)


def run_chunks(out: Path, chunks: list[Chunk], *, workers: int | None, progress: bool, n_objects: int) -> None:
    """Pack ``chunks`` (in this process for one worker or one chunk), with one progress bar over ``n_objects``."""
    n_workers = min(workers or usable_cpus(), max(len(chunks), 1))
    with progress_bar(total=n_objects, unit="obj", desc="pack", enabled=progress, smoothing=0.1) as bar:
        if n_workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                pack_chunk(out, chunk, bar.update)
            return
        # forkserver/spawn: never fork a parent that may hold threads (torch, BLAS, tqdm's monitor).
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["brahmasifier.io._pack_workers", "pyarrow.parquet"])  # workers start warm
        queue = ctx.Queue()
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
        try:
            pending: set[Future[int]] = {pool.submit(_pack_chunk_in_worker, out, pack_chunk_for_worker(chunk))
                                         for chunk in chunks}
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(queue, bar)
                for future in finished:
                    future.result()  # re-raise a worker's failure (finished chunks stay packed)
            _drain(queue, bar)
        except BrokenProcessPool as exc:
            raise WorkerDiedError(
                f"{out}: a pack worker process died (killed, out of memory, or the calling script lacks an "
                "`if __name__ == '__main__':` guard, which worker processes need). Finished chunks are kept: "
                "rerun to resume, or pass workers=1 to pack in this process."
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            queue.close()
            queue.join_thread()


def _drain(queue: Any, bar: Any) -> None:
    import queue as queue_module

    while True:
        try:
            bar.update(queue.get_nowait())
        except queue_module.Empty:
            return
