"""What ``predict``'s pixel checks (masked pixels, band registration) cost, side by side.

Run: ``python benchmarks/bench_pixel_checks.py STORE [--objects 1024] [--rounds 3] [--checks-only]
[--groups-read GROUPS] [--device cpu|cuda]``

Times :func:`brahmasifier.inference.predict` (default compact model, random weights: speed does
not depend on them; flips TTA; defaults otherwise) over the first ``--objects`` objects of a
store in three arms, rounds interleaved so machine load hits them alike (after one uncounted
warm-up round of each): the checks as shipped; "masks only" — the invalid pixels found
(:func:`brahmasifier.pixels.fill_mask`, :func:`brahmasifier.pixels.zeroed_bad_mask`) and set to
NaN, so a ``valid_only`` model normalises over the valid ones, but no band registration; and
:func:`brahmasifier.survey.checks.pixel_checks` replaced by a pass-through (filled corners reach
the model as valid values: its faster all-valid normalisation). Prints the median objects/s of
each, the cost of the checks in % of predict's objects/s and how it splits between the
invalid pixels and the registration. Also the
checks alone (µs per object, batches of 256, median of 7) on clean and on rotated-footprint
objects, and on clean ones with ``--band-groups gy,riz`` (given, and read by ``--band-groups auto``: each band
estimated alone too), and with the repair (the flagged objects', and every object's as ``--groups-read``
runs; "clean" is whatever STORE holds: a misregistered store times the repair of its objects), and
``--band-groups auto``'s sample (read and checked once per run; the arms above run with
``--band-groups none`` so that they time the steady state; ``--groups-read gy,riz`` makes the checks arm
what ``--band-groups auto`` runs once it has read those groups); ``--checks-only`` times only those (to
compare two checkouts: run this file with ``PYTHONPATH`` pointing at each in turn).

``predict`` runs here with one reader thread (``workers=0``) on every machine: the arms swap the
checks in this process, which loader processes (``predict``'s default from 8 cores up and on GPUs)
would not see. With ``--device cuda`` the model scores on the GPU while that one thread reads and
checks: the checks' cost beside a GPU with the fewest CPUs ``predict`` uses (with loader processes
they are shared among them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _subset(store_path: str, n: int, folder: Path) -> Path:
    from brahmasifier.io.store import open_store, write_store

    store = open_store(store_path)
    n = min(n, len(store))
    index = store.index.iloc[:n].reset_index(drop=True)
    return write_store(folder / "store", store.read(np.arange(n)), index).path


def _checks_alone(store_path: str, n: int) -> None:
    from brahmasifier.io.store import open_store
    from brahmasifier.survey.checks import GroupSample, pixel_checks, sample_spans
    from brahmasifier.survey.transforms import footprint_outside

    images = open_store(store_path).read(np.arange(min(256, n)))
    rotated = images.copy()
    rotated[:, :, footprint_outside(images.shape[-1])] = 0.0
    cases: tuple[tuple[str, np.ndarray, str, bool, dict[str, Any]], ...] = (
        ("clean", images, "", False, {}), ("corners filled", rotated, "", False, {}),
        ("clean, --band-groups gy,riz", images, "gy,riz", False, {}),
        ("clean, gy,riz read by --band-groups auto", images, "gy,riz", True, {}),
        ("clean, flagged objects repaired (predict's default)", images, "", False, {"register": True}),
        ("clean, gy,riz read, every object repaired (--groups-read's arm)", images, "gy,riz", True,
         {"register": True, "repair_score": 0.0}))
    for label, batch, groups, read, repair in cases:
        times = []
        for _ in range(7):
            t = time.perf_counter()
            pixel_checks(batch, np.zeros(len(batch), np.int32), band_groups=groups, groups_read=read, **repair)
            times.append(time.perf_counter() - t)
        print(f"pixel_checks alone, {label}: {statistics.median(times) / len(batch) * 1e6:.0f} µs/object")
    store = open_store(store_path)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        sample = GroupSample()
        for start, stop in sample_spans(len(store)):
            sample.add(store.read(np.arange(start, stop)), np.zeros(stop - start, np.int32))
        times.append(time.perf_counter() - t)
    print(f"--band-groups auto's sample ({sample.n_sampled} objects, read and checked, once per run): "
          f"{statistics.median(times):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--objects", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checks-only", action="store_true", help="time pixel_checks alone, not predict")
    parser.add_argument("--groups-read", metavar="GROUPS", default="",
                        help="the checks arm as --band-groups auto runs once it has read GROUPS (e.g. gy,riz): one angle "
                             "per group, each band estimated alone too, every object re-aligned")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the model scores")
    args = parser.parse_args()
    if args.checks_only:
        _checks_alone(args.store, args.objects)
        return

    import torch

    import brahmasifier.survey.checks as checks
    from brahmasifier.inference.config import PredictConfig
    from brahmasifier.inference.predictor import predict
    from brahmasifier.models import ModelCard, build_model, save_model
    from brahmasifier.pixels import fill_mask, zeroed_bad_mask
    from brahmasifier.survey.checks import pixel_checks

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = _subset(args.store, args.objects, folder)
        card = ModelCard(architecture="compact", normalization={"name": "asinh_mad", "valid_only": True})
        torch.manual_seed(0)
        model_dir = save_model(build_model(card).eval(), card, folder / "model")

        def passthrough(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
                        register: bool = False, repair_score: float | None = None,
                        band_groups: str = "", groups_read: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            return images, {}

        def masks_only(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
                       register: bool = False, repair_score: float | None = None,
                       band_groups: str = "", groups_read: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            invalid = fill_mask(images) | zeroed_bad_mask(images, n_nan)
            if not invalid.any():
                return images, {}
            out = images.copy()
            out[invalid] = np.nan
            return out, {}

        def as_read(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
                    register: bool = False, repair_score: float | None = None, band_groups: str = "",
                    groups_read: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            return pixel_checks(images, n_nan, n_masked, register=True, repair_score=0.0, band_groups=args.groups_read,
                                groups_read=True)

        arms = {"with checks": as_read if args.groups_read else pixel_checks, "masks only": masks_only,
                "without": passthrough}
        rates: dict[str, list[float]] = {name: [] for name in arms}
        for r in range(-1, args.rounds):  # round -1 warms every arm up (first imports, allocator) and is not counted
            for name in rates:
                checks.pixel_checks = arms[name]  # type: ignore[assignment]  # what Registration.checks calls
                out = folder / f"{name.replace(' ', '_')}_{r}"
                summary = predict(PredictConfig(models=[model_dir], data=[store], out=out / "s.csv", progress=False,
                                                band_groups="none",  # the auto sample: a start cost, timed apart
                                                accelerator=args.device, workers=0))  # the swapped checks: this process
                if r >= 0:
                    rates[name].append(summary.objects_per_second)
        checks.pixel_checks = pixel_checks  # type: ignore[assignment]
        med = {k: statistics.median(v) for k, v in rates.items()}
        for k, v in rates.items():
            print(f"predict {k:12s}: median {med[k]:7.1f} objects/s  (rounds: {', '.join(f'{x:.1f}' for x in v)})")
        print(f"checks cost {100 * (1 - med['with checks'] / med['without']):.1f}% of predict's objects/s: "
              f"the invalid pixels (found, set to NaN, normalised over the valid ones) "
              f"{100 * (1 - med['masks only'] / med['without']):.1f}%, the band registration "
              f"{100 * (1 - med['with checks'] / med['masks only']):.1f}% of the rest")

        _checks_alone(str(store), args.objects)
        pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
