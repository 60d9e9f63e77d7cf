"""Injection throughput: objects/s of ``inject_dataset`` for 1 and 2 workers, and the time of one injection.

Hosts are our engine's non-lenses (LSST-rendered domain), simulated and packed once, outside
the timing. Each timed run injects ``--n`` lenses (our engine's sources, default settings) and
writes them with their untouched hosts (``2 n`` objects, band files, catalogues), start-up of
the worker processes included (no preview). Also times, in this process, one host's
measurement + injection (median ms per kept lens, numba/kernels warm).

    python benchmarks/bench_inject.py --n 200 --workers 1,2 --repeats 3

The machine may be shared: compare the numbers within one run (ratios), not across runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="lenses per timed run (objects written: 2n)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source-engine", choices=("ours", "slsim"), default="ours")
    args = parser.parse_args()

    from brahmasifier.io.pack import pack_fits
    from brahmasifier.io.store import open_store
    from brahmasifier.simulation import simulate_dataset
    from brahmasifier.simulation.inject import InjectConfig, inject_dataset
    from brahmasifier.simulation.inject.paint import Host, Injection, inject_into_host
    from brahmasifier.simulation.inject.sources import OurSources
    from brahmasifier.simulation.render import Renderer

    config = InjectConfig(source_engine=args.source_engine)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n_hosts = int(1.2 * args.n) + 10
        simulate_dataset(root / "sim", n_hosts, seed=0, domains="slsim", progress=False, preview=False)
        store = pack_fits([root / "sim" / "slsim_nonlenses"], out=root / "hosts", progress=False)
        if args.source_engine == "ours":
            hosts = open_store(store.path)
            renderer, sources = Renderer("slsim"), OurSources()
            index = hosts.index
            times = []
            for k in range(min(40, len(hosts)) + 1):
                params = {c: index[c].iloc[k] for c in ("z_central", "mag_lens_r", "sim_psf_fwhm_i") if c in index}
                host = Host(str(index["id"].iloc[k]), str(index["stem"].iloc[k]), "slsim", hosts.read([k])[0], params)
                t = time.perf_counter()
                result = inject_into_host(host, renderer, sources, np.random.default_rng(k), config)
                if k and isinstance(result, Injection):  # the first call warms numba and the PSF kernels
                    times.append(time.perf_counter() - t)
            print(f"one injection (measure + up to {config.attempts_per_host} sources + noise): "
                  f"median {1e3 * statistics.median(times):.1f} ms per kept lens ({len(times)} hosts)")
        rates: dict[int, list[float]] = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            for rep in range(args.repeats):
                summary = inject_dataset(store.path, root / f"w{workers}_{rep}", args.n, seed=rep, config=config,
                                         workers=workers, progress=False, preview=False)
                rates.setdefault(workers, []).append(summary.objects_per_second)
                print(f"inject_dataset workers={workers}: {summary.n_objects} objects ({summary.n_lenses} lenses) in "
                      f"{summary.seconds:.1f} s = {summary.objects_per_second:.1f} objects/s (incl. process start-up)")
        for w, r in rates.items():
            ratio = statistics.median(r) / statistics.median(rates[min(rates)])
            print(f"workers={w}: median {statistics.median(r):.1f} objects/s, x{ratio:.2f} vs {min(rates)} worker(s)")


if __name__ == "__main__":
    main()
