"""What reading several stores as one (:class:`~brahmasifier.io.store.StoreUnion`) costs against one store, side by side.

Run: ``python benchmarks/bench_store_union.py STORE_A STORE_B [--batch 256] [--batches 40] [--rounds 3]``

Training's access pattern: shuffled batches of ``--batch`` rows through
:meth:`~brahmasifier.io.store.CutoutStore.read_batch` (sorted within a batch, as
:class:`~brahmasifier.data.dataset.StoreDataset` reads them). Times the same number of batches
drawn from STORE_A alone and from the union of STORE_A and STORE_B (rows spread over both),
rounds interleaved so machine load hits both alike, after one warm-up pass over both stores
(page cache warm: the pixel copy, not the disk, is measured); prints the median objects/s of
each. Also the time to open the union and build its index, and the peak resident memory
growth while doing so (the index, never the pixels).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np


def _rate(store: object, rng: np.random.Generator, batch: int, batches: int) -> float:
    n = len(store)  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in range(batches):
        store.read_batch(np.sort(rng.choice(n, size=batch, replace=False)))  # type: ignore[attr-defined]
    return batch * batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from brahmasifier.io.store import open_store, open_stores

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    union = open_stores([args.a, args.b])
    _ = union.index_arrays()
    opened = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    one = open_store(args.a)
    _ = one.index_arrays()
    for store in (one, union):  # warm the page cache and the maps
        for start in range(0, len(store), 4096):
            store.read_range(start, start + 4096)
    rng = np.random.default_rng(0)
    single, both = [], []
    for _ in range(args.rounds):
        single.append(_rate(one, rng, args.batch, args.batches))
        both.append(_rate(union, rng, args.batch, args.batches))
    print(f"union of {len(one):,} + {len(union) - len(one):,} objects: opened with its index in {opened:.2f} s, "
          f"peak RSS +{(rss_after - rss_before) / 1024:.0f} MiB")
    print(f"read_batch({args.batch}) objects/s, median of {args.rounds}: one store {statistics.median(single):,.0f}, "
          f"union {statistics.median(both):,.0f} (rounds: {[round(r) for r in single]} / {[round(r) for r in both]})")


if __name__ == "__main__":
    main()
