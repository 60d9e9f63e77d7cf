"""The reader thread: order, bounded read-ahead, errors where the batch is used, clean early stop."""

from __future__ import annotations

import threading
import time

import pytest

from brahmasifier.inference.prefetch import ThreadPrefetchedBatches


class _Recorder:
    """A batch dataset that records how far reads ran ahead of consumption."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.read: list[int] = []
        self.consumed = 0
        self.max_ahead = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> int:
        time.sleep(0.002)
        with self.lock:
            self.read.append(k)
            self.threads.add(threading.current_thread().name)
            self.max_ahead = max(self.max_ahead, len(self.read) - self.consumed)
        if k == self.fail_at:
            raise OSError(f"batch {k}: unreadable file")
        return k


def test_batches_come_in_order_read_ahead_on_one_thread() -> None:
    data = _Recorder(20)
    out = []
    for batch in ThreadPrefetchedBatches(data, depth=3):
        time.sleep(0.004)  # a slow consumer: reads would run far ahead if unbounded
        data.consumed += 1
        out.append(batch)
    assert out == list(range(20))
    assert data.read == list(range(20))
    assert data.max_ahead <= 3 + 1
    assert data.threads and all(t.startswith("brahmasifier-read") for t in data.threads)


def test_read_error_surfaces_at_its_batch() -> None:
    got = []
    with pytest.raises(OSError, match="batch 4: unreadable"):  # noqa: PT012 - the batches before the failure are the point
        for batch in ThreadPrefetchedBatches(_Recorder(10, fail_at=4), depth=2):
            got.append(batch)
    assert got == [0, 1, 2, 3]


def test_early_stop_leaves_no_reader_thread() -> None:
    data = _Recorder(1000)
    iterator = iter(ThreadPrefetchedBatches(data, depth=2))
    assert next(iterator) == 0
    iterator.close()  # what a consumer that breaks out of the loop triggers
    assert len(data.read) <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("brahmasifier-read")]


def test_empty_dataset_and_bad_depth() -> None:
    assert list(ThreadPrefetchedBatches(_Recorder(0))) == []
    with pytest.raises(ValueError, match="depth"):
        ThreadPrefetchedBatches(_Recorder(3), depth=0)


def test_default_workers_read_on_a_thread_for_small_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from brahmasifier.inference.engine import default_workers

    for cpus, cpu_workers, gpu_workers in ((2, 0, 1), (4, 0, 2), (16, 2, 8), (128, 8, 8)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)), raising=False)
        assert (default_workers("cpu"), default_workers("cuda")) == (cpu_workers, gpu_workers), cpus
