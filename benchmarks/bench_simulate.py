"""Simulator throughput: objects/s for 1 and 2 workers (all bands, written to disk).

``--engine ours`` (default; both domains) also times, side by side in one process, the
per-object render (median ms per class) and the band-file writer: our byte-identical template
writer vs ``write_band_fits`` (astropy). ``--engine slsim`` times the SLSim engine end to end
(slsim domain, default settings: realisations of 25 lenses + 25 non-lenses, so use a multiple
of 50 per worker). ``--lens-populations`` times our engine's ``slsim`` domain with its
``skypy`` lens population (the default) and the ``bright`` one (the default before) with the
non-lens mix of each, side by side on one worker, interleaved ``--repeats`` times.

    python benchmarks/bench_simulate.py --n-per-class 50 --workers 1,2
    python benchmarks/bench_simulate.py --engine slsim --n-per-class 100 --workers 1,2
    python benchmarks/bench_simulate.py --lens-populations --n-per-class 60 --repeats 3

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
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--engine", choices=("ours", "slsim"), default="ours")
    parser.add_argument("--lens-populations", action="store_true", help="skypy vs bright lens population (slsim domain)")
    args = parser.parse_args()
    if args.lens_populations:
        lens_populations(args)
        return
    if args.engine == "slsim":
        end_to_end(args)
        return

    from brahmasifier.io._fastwrite import write_band_fits_fast
    from brahmasifier.io.fits import write_band_fits
    from brahmasifier.simulation.generate import make_object
    from brahmasifier.simulation.render import Renderer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Per-object render time (in-process, no writing).
        for domain in ("slsim", "hsc"):
            renderer = Renderer(domain)
            make_object(renderer, 1, 10_000, seed=0)  # warm numba/kernels
            for label in (1, 0):
                times = []
                for index in range(20):
                    t = time.perf_counter()
                    make_object(renderer, label, index, seed=0)
                    times.append(time.perf_counter() - t)
                kind = "lens" if label else "non-lens"
                print(f"render {domain:5s} {kind:8s}: median {1e3 * statistics.median(times):6.1f} ms/object")
        # Writer: fast template vs astropy, same files.
        image = np.random.default_rng(0).normal(size=(41, 41)).astype(np.float32)
        header = {"BUNIT": "nJy", "ZP": 31.4}
        timings = {}
        for name, writer in (("astropy write_band_fits", write_band_fits), ("template writer", write_band_fits_fast)):
            writer(root / "warm.fits", "GG-LENS_60.000000_-30.000000", "g", image, id_column="Lens ID", header=header)
            samples = []
            for k in range(50):
                t = time.perf_counter()
                writer(root / f"w{k}.fits", "GG-LENS_60.000000_-30.000000", "g", image, id_column="Lens ID", header=header)
                samples.append(time.perf_counter() - t)
            timings[name] = statistics.median(samples)
            print(f"write one band file, {name:24s}: median {1e3 * timings[name]:.3f} ms")
        print(f"writer speed-up: {timings['astropy write_band_fits'] / timings['template writer']:.1f}x")
    end_to_end(args)


#: The slsim domain's non-lens mix before the skypy population (the bright population's companion).
BRIGHT_ERA_MIX = {"elliptical": 0.25, "elliptical_companion": 0.20, "spiral": 0.15, "ring": 0.06, "edge_on": 0.09,
                  "merger": 0.10, "random": 0.15}


def lens_populations(args: argparse.Namespace) -> None:
    """objects/s of the slsim domain with each lens population, one worker, interleaved repeats."""
    from brahmasifier.simulation import simulate_dataset
    from brahmasifier.simulation.population import PopulationConfig

    default = PopulationConfig()
    configs = {"skypy (default)": default,
               "bright (before)": PopulationConfig(lens_population={"slsim": "bright", "hsc": "bright"},
                                                   nonlens_mix={**default.nonlens_mix, "slsim": BRIGHT_ERA_MIX})}
    rates: dict[str, list[float]] = {k: [] for k in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, config in configs.items():
                summary = simulate_dataset(Path(tmp) / f"{rep}_{len(rates[name])}_{name[:5]}", args.n_per_class, seed=100 + rep,
                                           domains="slsim", workers=1, progress=False, preview=False, config=config)
                rates[name].append(summary.objects_per_second)
                print(f"{name}: {summary.objects_per_second:.1f} objects/s")
    medians = {k: statistics.median(v) for k, v in rates.items()}
    for k, v in medians.items():
        print(f"{k}: median {v:.1f} objects/s")
    print(f"skypy / bright: x{medians['skypy (default)'] / medians['bright (before)']:.2f}")


def end_to_end(args: argparse.Namespace) -> None:
    """objects/s of ``simulate_dataset`` for each worker count, side by side."""
    from brahmasifier.simulation import simulate_dataset

    domains = "slsim" if args.engine == "slsim" else None
    if args.engine == "slsim":  # import the SLSim stack once, before any timing (forked workers share it)
        import importlib

        from brahmasifier.simulation.slsim_engine.catalogue import quiet_slsim

        with quiet_slsim():
            for name in ("slsim.Lenses.lens_pop", "slsim.Pipelines.skypy_pipeline", "slsim.FalsePositives.false_positive_pop",
                         "slsim.Sources.SourcePopulation.galaxies", "lenstronomy.SimulationAPI.sim_api"):
                importlib.import_module(name)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rates = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            for rep in range(args.repeats):
                summary = simulate_dataset(root / f"w{workers}_{rep}", args.n_per_class, seed=rep, workers=workers,
                                           progress=False, preview=False, domains=domains, engine=args.engine)
                rates.setdefault(workers, []).append(summary.objects_per_second)
                print(f"simulate_dataset workers={workers}: {summary.n_objects} objects in {summary.seconds:.1f} s "
                      f"= {summary.objects_per_second:.1f} objects/s (incl. process start-up)")
        if 1 in rates and len(rates) > 1:
            for w, r in rates.items():
                speedup = statistics.median(r) / statistics.median(rates[1])
                print(f"workers={w}: median {statistics.median(r):.1f} objects/s, x{speedup:.2f} vs 1")


if __name__ == "__main__":
    main()
