"""Read batches ahead on a background thread, in the scoring process.

On a CPU-only machine the scoring engine (ONNX Runtime, PyTorch) already keeps every core
busy and releases the GIL while it computes, so a reader *thread* overlaps file reading with
scoring as well as worker processes do, without their start-up: a forkserver worker imports
torch before it reads anything (3-4 s on the 2-core development machine, more than scoring
1,000 objects with the default model takes). Worker processes remain the choice when the
accelerator is a GPU and reading is the bottleneck (see
:func:`brahmasifier.inference.engine.default_workers`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from torch.utils.data import IterableDataset

__all__ = ["BatchSequence", "ThreadPrefetchedBatches"]


class BatchSequence(Protocol):
    """A map-style dataset of whole batches (e.g. :class:`~brahmasifier.inference.sources.BatchDataset`)."""

    def __len__(self) -> int: ...

    def __getitem__(self, k: int) -> Any: ...


class ThreadPrefetchedBatches(IterableDataset[Any]):
    """Yield ``dataset[0], dataset[1], …`` in order, with up to ``depth`` reads running ahead.

    One reader thread, so reads happen in order and memory is bounded by ``depth + 1``
    batches. An exception raised by a read is re-raised where that batch is consumed.
    Use with ``DataLoader(..., batch_size=None, num_workers=0)``.
    """

    def __init__(self, dataset: BatchSequence, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self.dataset = dataset
        self.depth = int(depth)

    # No ``__len__``: Lightning warns about sized iterable datasets (a hazard with several
    # workers, which this class never has); progress is counted by the part writer instead.

    def __iter__(self) -> Iterator[Any]:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brahmasifier-read")
        pending: deque[Future[Any]] = deque()
        next_index = 0
        try:
            while True:
                while next_index < len(self.dataset) and len(pending) < self.depth:
                    pending.append(pool.submit(self.dataset.__getitem__, next_index))
                    next_index += 1
                if not pending:
                    return
                batch = pending.popleft().result()
                # Queue the next read before handing this batch over, so it runs while we score.
                if next_index < len(self.dataset):
                    pending.append(pool.submit(self.dataset.__getitem__, next_index))
                    next_index += 1
                yield batch
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
