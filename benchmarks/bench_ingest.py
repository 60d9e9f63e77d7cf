"""Ingest speed, side by side: the reference astropy loop vs our reader, packer and store.

    python benchmarks/bench_ingest.py [--objects 2000] [--repeats 3] [--workers 2]

Generates objects in the release's published form once into ``benchmarks/_work/ingest_tree``
(git-ignored; nested class folders, string IDs, ``1681D`` float64 images, written by the
simulator's writer) and a blind set (``object_NNNNN_b.fits``, float64 primary-HDU images), then
measures in one run:

(a) reference: astropy ``fits.open`` per band file + stack to (5, 41, 41), serial, as the
    reference system loads its data;
(b) ``pack_fits`` with ``--workers`` processes (scan + read + shards + index, whole call);
(c) our fast reader alone (``read_object``), serial; and the ``fitsio`` library per object;
(d) store reads: random batches of 256 indices, and sequential ``read_range`` batches; and,
    as the ceiling, the same random batches taken from an in-RAM NumPy array;
(e) the blind set: astropy's reader (what primary-HDU files fell back to before the fast path)
    against the fast reader, both through ``read_object``; ratio against (e).

Every figure is a median over ``--repeats`` runs; ratios are against (a) (and (e) for the blind
set). The files are in the page cache (just written or read), so this measures CPU cost, not
disk speed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io import pack_fits, read_band_fits_astropy, read_object, scan_fits_tree
from brahmasifier.simulation.writer import DatasetWriter

WORK = Path(__file__).resolve().parent / "_work"


def make_tree(root: Path, n_objects: int, seed: int = 0, layout: str = "challenge") -> None:
    """Write ``n_objects`` objects (four class folders, or one blind folder) unless already there.

    Written by the simulator's writer (``DatasetWriter``: the published form, byte-identical to
    astropy's output) with random images; the blind objects are numbered in order.
    """
    marker = root / f".complete-{layout}-{n_objects}-{seed}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    writer = DatasetWriter(root, layout)
    classes = [("slsim", 1), ("slsim", 0), ("hsc", 1), ("hsc", 0)]
    for k in range(n_objects):
        domain, label = classes[k % 4]
        images = rng.normal(0.0, 1.0, (len(BANDS), STAMP_SIZE, STAMP_SIZE))
        object_id = f"GG-LENS_{k}_{-k}" if domain == "slsim" else f"{10**16 + k:019d}"
        writer.write_object(domain, label, k // 4, k, object_id, images)
    for obj in scan_fits_tree(root).objects[:: max(n_objects // 5, 1)]:  # the written files read right
        record = read_band_fits_astropy(obj.files["i"], "i")
        assert record.image.shape == (STAMP_SIZE, STAMP_SIZE)
    marker.touch()


def consume(batches: Iterable[np.ndarray]) -> None:
    """Take each batch and let it go, as a training loop does.

    Keeping all of them alive would measure page faults of ever-fresh memory instead of reads.
    """
    for _ in batches:
        pass


def median_rate(n_items: int, run: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median items/s over ``repeats`` runs, and the individual rates."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        rates.append(n_items / (time.perf_counter() - t0))
    return statistics.median(rates), rates


def astropy_reference(objects: list[Any]) -> np.ndarray:
    """The reference system's loading: fits.open per band file, stack, NaN → 0."""
    from astropy.io import fits

    out = np.empty((len(objects), len(BANDS), STAMP_SIZE, STAMP_SIZE), np.float32)
    for k, obj in enumerate(objects):
        for b, band in enumerate(BANDS):
            with fits.open(obj.files[band], memmap=False) as hdul:
                out[k, b] = np.asarray(hdul[1].data[f"band_{band}"][0], dtype=np.float32).reshape(STAMP_SIZE, STAMP_SIZE)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def fitsio_reader(objects: list[Any]) -> np.ndarray:
    """The same with the cfitsio-based ``fitsio`` package (a candidate we measured)."""
    import fitsio

    out = np.empty((len(objects), len(BANDS), STAMP_SIZE, STAMP_SIZE), np.float32)
    for k, obj in enumerate(objects):
        for b, band in enumerate(BANDS):
            with fitsio.FITS(str(obj.files[band])) as f:
                row = f[1].read(rows=[0], columns=[f"band_{band}"])
            out[k, b] = np.asarray(row[f"band_{band}"][0], dtype=np.float32).reshape(STAMP_SIZE, STAMP_SIZE)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reference-objects", type=int, default=200, help="objects per run of the slow astropy loop")
    args = parser.parse_args(argv)

    root = WORK / "ingest_tree"
    t0 = time.perf_counter()
    make_tree(root, args.objects)
    print(f"tree: {args.objects} objects ({args.objects * 5} files) in {root} (ready in {time.perf_counter() - t0:.1f} s)")
    objects = scan_fits_tree(root).objects
    subset = objects[: args.reference_objects]
    small = objects[: min(len(objects), 1000)]

    rows: list[tuple[str, float, list[float]]] = []
    ref_rate, ref_all = median_rate(len(subset), lambda: astropy_reference(subset), args.repeats)
    rows.append(("(a) astropy fits.open loop, serial [reference]", ref_rate, ref_all))

    # correctness first: every reader agrees with the reference on the subset
    reference = astropy_reference(subset)
    ours = np.stack([read_object(o).image for o in subset])
    assert ours.tobytes() == reference.tobytes(), "fast reader differs from astropy"
    try:
        import fitsio  # noqa: F401  (optional: only this benchmark's candidate row uses it)

        has_fitsio = True
    except ImportError:
        has_fitsio = False
    if has_fitsio:
        assert fitsio_reader(subset[:20]).tobytes() == reference[:20].tobytes(), "fitsio differs from astropy"

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-", dir=WORK))
    shard_size = max(len(objects) // (2 * args.workers), 1)
    counter = iter(range(10**6))
    store_path = tmp / "store-final"

    def do_pack() -> None:
        out = tmp / f"store-{next(counter)}"
        pack_fits(root, out, workers=args.workers, shard_size=shard_size, progress=False)
        shutil.rmtree(out)

    rate, all_rates = median_rate(len(objects), do_pack, args.repeats)
    rows.append((f"(b) pack_fits, {args.workers} workers, shard {shard_size} (whole call)", rate, all_rates))
    rate, all_rates = median_rate(len(objects), lambda: pack_fits(root, tmp / "serial", workers=1, shard_size=shard_size,
                                                                  progress=False, overwrite=True), args.repeats)
    rows.append(("(b') pack_fits, 1 worker (in-process)", rate, all_rates))
    rate, all_rates = median_rate(len(small), lambda: [read_object(o) for o in small], args.repeats)
    rows.append(("(c) read_object (fast reader), serial", rate, all_rates))
    if has_fitsio:
        rate, all_rates = median_rate(len(subset), lambda: fitsio_reader(subset), args.repeats)
        rows.append(("(c') fitsio per band file, serial [candidate]", rate, all_rates))

    store = pack_fits(root, store_path, workers=args.workers, shard_size=shard_size, progress=False)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, len(store), 256) for _ in range(200)]
    store.read(np.arange(len(store)))  # warm the page cache and the memmaps
    rate, all_rates = median_rate(256 * len(batches), lambda: consume(store.read(b) for b in batches), args.repeats)
    rows.append(("(d) store.read, random batches of 256", rate, all_rates))
    starts = list(range(0, len(store), 256)) * max(1, 50_000 // len(store))
    rate, all_rates = median_rate(sum(min(256, len(store) - s) for s in starts),
                                  lambda: consume(store.read_range(s, s + 256) for s in starts), args.repeats)
    rows.append(("(d') store.read_range, sequential batches of 256", rate, all_rates))
    in_ram = store.read(np.arange(len(store)))
    rate, all_rates = median_rate(256 * len(batches), lambda: consume(in_ram[b] for b in batches), args.repeats)
    rows.append(("(d\") numpy fancy index of an in-RAM array, 256 [memory bound]", rate, all_rates))
    shutil.rmtree(tmp)

    # (e) the blind set: primary-HDU images, astropy's reader vs the fast path, same objects
    blind_root = WORK / "ingest_blind"
    make_tree(blind_root, min(args.objects, 1000), layout="test")
    blind = scan_fits_tree(blind_root).objects
    blind_ref = blind[: args.reference_objects]
    via_astropy = np.stack([read_object(o, band_reader=read_band_fits_astropy).image for o in blind_ref])
    assert np.stack([read_object(o).image for o in blind_ref]).tobytes() == via_astropy.tobytes(), "blind-set readers differ"
    blind_rate, all_rates = median_rate(len(blind_ref),
                                        lambda: [read_object(o, band_reader=read_band_fits_astropy) for o in blind_ref],
                                        args.repeats)  # fmt: skip
    blind_rows = [("(e) blind set, astropy reader via read_object [reference]", blind_rate, all_rates)]
    rate, all_rates = median_rate(len(blind), lambda: [read_object(o) for o in blind], args.repeats)
    blind_rows.append(("(e') blind set, fast reader (primary-HDU path) via read_object", rate, all_rates))

    print(f"\n{'measurement':<62} {'objects/s':>12} {'x ref':>8}   runs")
    for table, reference_rate in ((rows, ref_rate), (blind_rows, blind_rate)):
        for name, rate, all_rates in table:
            runs = ", ".join(f"{r:,.0f}" for r in all_rates)
            print(f"{name:<62} {rate:>12,.0f} {rate / reference_rate:>8.1f}   [{runs}]")
    print(f"\nmedian of {args.repeats} runs; python {sys.version.split()[0]}; files in page cache; machine shared and loaded.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
