"""Training speed on this machine, side by side (medians of repeated steps; ratios printed).

1. Launch → first optimisation step on the same FITS objects:
   - reference approach: astropy reads every band file into an in-memory per-rank cache
     (the reference's ``--cache-ratio 1``), then a training step;
   - ours: ``pack_fits`` into a store (once; reused afterwards), memmap + batched reads, step.
2. Data loading: per-item ``__getitem__`` vs batched ``__getitems__`` store reads.
3. Training samples/s for the compact default and convnext_tiny@41: fp32 vs bf16 vs bf16 +
   channels_last (torch.autocast on CPU).

Usage: python benchmarks/bench_train.py [--objects-per-class 75] [--steps 5] [--batch-size 64]
The machine is shared: run all variants in one go and compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "_work" / "bench_train"


def _step_fn(model: torch.nn.Module, batch_size: int, precision: str, channels_last: bool):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        t = time.perf_counter()
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    return step


def bench_launch(fits_root: Path, batch_size: int) -> list[tuple[str, float]]:
    from brahmasifier.io import pack_fits, read_band_fits_astropy, scan_fits_tree
    from brahmasifier.models import build_model, preset_card

    rows = []
    # reference: astropy → in-memory cache → step
    t0 = time.perf_counter()
    scan = scan_fits_tree(fits_root)
    cache = np.stack([np.stack([read_band_fits_astropy(obj.files[b], b).image for b in ("g", "r", "i", "z", "y")])
                      for obj in scan.objects])
    cache = np.nan_to_num(cache)
    labels = torch.tensor([float(obj.label) for obj in scan.objects])
    model = build_model(preset_card(normalization={"name": "per_image"}))
    _step_fn(model, batch_size, "fp32", False)(torch.from_numpy(cache[:batch_size]), labels[:batch_size])
    rows.append(("reference: astropy -> RAM cache -> 1st step", time.perf_counter() - t0))
    # ours, first launch: pack (parallel workers default) -> store -> step
    store_dir = WORK / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    t0 = time.perf_counter()
    store = pack_fits(fits_root, out=store_dir, progress=False)
    model = build_model(preset_card())
    _step_fn(model, batch_size, "fp32", False)(torch.from_numpy(store.read(np.arange(batch_size))), labels[:batch_size])
    rows.append(("ours, 1st launch: pack_fits -> store -> 1st step", time.perf_counter() - t0))
    # ours, later launches: store already packed
    t0 = time.perf_counter()
    store = pack_fits(fits_root, out=store_dir, progress=False)
    step = _step_fn(build_model(preset_card()), batch_size, "fp32", False)
    step(torch.from_numpy(store.read(np.arange(batch_size))), labels[:batch_size])
    rows.append(("ours, later launches: open store -> 1st step", time.perf_counter() - t0))
    return rows


def bench_loading(batch_size: int, repeats: int = 5) -> list[tuple[str, float]]:
    from brahmasifier.data import StoreDataset
    from brahmasifier.io import open_store

    store = open_store(WORK / "store")

    class PerItem(StoreDataset):
        # None disables the batched fetch (torch checks for it), to time per-item reads; not a method on purpose.
        __getitems__ = None  # type: ignore[assignment]

    out = []
    for name, cls in (("per-item reads", PerItem), ("batched reads (__getitems__)", StoreDataset)):
        times = []
        for _ in range(repeats):
            loader = torch.utils.data.DataLoader(cls(store), batch_size=batch_size, shuffle=True,
                                                 generator=torch.Generator().manual_seed(0))
            t = time.perf_counter()
            n = sum(len(b["label"]) for b in loader)
            times.append(n / (time.perf_counter() - t))
        out.append((name, statistics.median(times)))
    return out


def bench_training(batch_size: int, steps: int, archs: list[str]) -> list[tuple[str, float]]:
    from brahmasifier.models import build_model, preset_card

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, 5, 41, 41, generator=gen) * 5 + 10
    y = (torch.rand(batch_size, generator=gen) > 0.5).float()
    rows = []
    for arch in archs:
        for precision, cl in (("fp32", False), ("bf16", False), ("bf16", True)):
            model = build_model(preset_card(arch)).train()
            step = _step_fn(model, batch_size, precision, cl)
            times = [step(x, y) for _ in range(steps + 1)][1:]
            rows.append((f"{arch} {precision}{' + channels_last' if cl else ''}", batch_size / statistics.median(times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects-per-class", type=int, default=75)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--archs", default="compact,convnext_tiny", help="comma-separated architectures to time")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT.parent / "tests"))
    from conftest import write_tiny_challenge_tree

    fits_root = WORK / "fits"
    if not (fits_root / "hsc_nonlenses").is_dir():
        write_tiny_challenge_tree(fits_root, n_per_class=args.objects_per_class, seed=0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"CPU bf16 units: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}, {4 * args.objects_per_class} objects")
    launch = bench_launch(fits_root, args.batch_size)
    print("\nlaunch -> first optimisation step (libraries already imported)")
    for name, s in launch:
        print(f"  {name:52s} {s:8.2f} s   x{launch[0][1] / s:5.2f} vs reference")
    loading = bench_loading(args.batch_size)
    print("\nDataLoader from the store (main process), samples/s")
    for name, v in loading:
        print(f"  {name:52s} {v:8.0f}     x{v / loading[0][1]:5.2f}")
    training = bench_training(args.batch_size, args.steps, args.archs.split(","))
    print(f"\ntraining step, batch {args.batch_size}, samples/s (median of {args.steps})")
    for name, v in training:
        base = next(v0 for n0, v0 in training if n0 == name.split()[0] + " fp32")
        print(f"  {name:52s} {v:8.1f}     x{v / base:5.2f} vs fp32")


if __name__ == "__main__":
    main()
