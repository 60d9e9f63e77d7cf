"""End-to-end prediction speed on this CPU, side by side: the reference approach vs ``predict``.

Run: ``python benchmarks/bench_predict.py [--objects 1024] [--rounds 2]``

Configurations, each timed end to end (scan + read + score + write) in every round, rounds
interleaved so machine load hits all alike; medians and ratios to the reference are printed:

* ``reference``: astropy per band file, per-image standardisation in the data loader,
  timm ConvNeXt-Tiny at 41×41 eager fp32, 3 views (identity, h-flip, v-flip) as three forward
  passes, logits averaged (the reference system's predict recipe). Timed with 0 loader
  workers (reading in the scoring process) and with 1 (a worker process); ratios are taken
  against the *faster* of the two, so the reference gets its best setting on this machine.
* ``predict convnext_tiny``: :func:`brahmasifier.inference.predict` with the same backbone
  (random weights; per-image normalisation inside the model) and the same 3-view TTA, default
  engine choice.
* ``predict compact``: the same with our default model (compact net, asinh-MAD normalisation).
* ``predict compact (store)``: the compact model over a packed store of the same objects.

Then an engine micro-benchmark (model only, one batch, 3 views): eager fp32, bf16 autocast,
channels_last, bf16 + channels_last, ONNX Runtime, for both models; this is what
``precision="auto"`` and ``onnx=None`` (auto) are based on. Random weights are fine for speed.
On CPUs without native bf16 the bf16 rows take minutes (``--skip-engines`` to leave them out).

On a GPU (``--device cuda``) both sides score on it: the reference with fp16 autocast (its
recipe's mixed precision) and ``--reference-workers`` loader processes, ``predict`` with its
defaults for CUDA (autocast, worker processes); the engine table is skipped.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io._fastwrite import write_band_fits_fast
from brahmasifier.io.fits import read_band_fits_astropy
from brahmasifier.io.naming import band_filename


def write_tree(root: Path, n: int, seed: int = 0) -> None:
    """``n`` objects in neutral naming with 17-digit integer IDs and survey-like pixels.

    Written with the byte-identical template writer (``write_band_fits`` via astropy took
    ~110 s for 2048 objects, longer than the runs it prepares).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    blob = np.exp(-0.5 * (np.hypot(x, y) / 2.5) ** 2)
    for k in range(n):
        object_id = int(rng.integers(10**16, 10**17))
        for band in BANDS:
            image = 50 * rng.uniform(0.5, 2) * blob + rng.normal(0, 1, blob.shape)
            write_band_fits_fast(root / f"chunk{k // 1000:03d}" / band_filename(f"obj{k:07d}", band), object_id,
                                 band, image.astype(np.float32), id_column="ID")


class ReferenceDataset(torch.utils.data.Dataset):
    """The reference loader: astropy for each band file, NaN→0, per-image standardisation."""

    def __init__(self, stems: list[tuple[Path, str]]) -> None:
        self.stems = stems

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, k: int) -> torch.Tensor:
        folder, stem = self.stems[k]
        image = np.stack([read_band_fits_astropy(folder / band_filename(stem, b), b).image for b in BANDS])
        image = np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)
        image = (image - image.mean()) / (image.std() + 1e-6)
        return torch.from_numpy(image.astype(np.float32))


def reference_predict(root: Path, backbone: torch.nn.Module, batch_size: int, workers: int,
                      device: str = "cpu") -> np.ndarray:
    """Score a tree the reference way; returns the mean logits (fp16 autocast on a GPU, as its recipe)."""
    stems = sorted({(p.parent, p.name[: -len("_g.fits")]) for p in root.rglob("*_g.fits")})
    loader = torch.utils.data.DataLoader(ReferenceDataset(stems), batch_size=batch_size, num_workers=workers,
                                         pin_memory=device == "cuda",
                                         multiprocessing_context="forkserver" if workers else None)
    backbone = backbone.to(device)
    out = []
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=device == "cuda"):
        for x in loader:
            x = x.to(device, non_blocking=True)
            views = [backbone(x), backbone(torch.flip(x, dims=(3,))), backbone(torch.flip(x, dims=(2,)))]
            out.append(torch.stack(views).float().mean(0).reshape(-1).cpu())
    return torch.cat(out).numpy()


def engine_table(models: dict[str, torch.nn.Module], batch: int, repeats: int, tmp: Path) -> list[str]:
    """Model-only throughput of each engine, medians over interleaved repeats."""
    from brahmasifier.inference.onnx import OnnxLogits, export_onnx
    from brahmasifier.inference.tta import TTAModel

    lines = []
    x = torch.randn(batch, len(BANDS), STAMP_SIZE, STAMP_SIZE) * 5 + 10
    for name, model in models.items():
        tta = TTAModel(model, "flips").eval()
        tta_cl = copy.deepcopy(tta).to(memory_format=torch.channels_last)
        session = OnnxLogits(export_onnx(model, tmp / f"{name}.onnx", tta="flips"))
        x_cl = x.contiguous(memory_format=torch.channels_last)

        def run(net: torch.nn.Module, inp: torch.Tensor, bf16: bool) -> None:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                net(inp)

        engines = {
            # (default arguments bind this iteration's objects; the lambdas are used before the next one)
            "eager fp32": lambda net=tta: run(net, x, False),
            "bf16 autocast": lambda net=tta: run(net, x, True),
            "channels_last fp32": lambda net=tta_cl, inp=x_cl: run(net, inp, False),
            "bf16 + channels_last": lambda net=tta_cl, inp=x_cl: run(net, inp, True),
            "ONNX Runtime fp32": lambda s=session: s(x),
        }
        for fn in engines.values():
            fn()  # warm-up (oneDNN primitive creation, ORT allocations)
        times: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(repeats):
            for key, fn in engines.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        base = statistics.median(times["eager fp32"])
        for key, values in times.items():
            med = statistics.median(values)
            lines.append(f"  {name:14s} {key:22s} {batch / med:8.1f} obj/s  x{base / med:5.2f} vs eager fp32")
            print(lines[-1], flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None,
                        help="loader workers for predict (default: its own choice)")
    parser.add_argument("--reference-workers", default="0,1",
                        help="comma-separated loader workers to time the reference with (the faster counts)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where both the reference and predict score (a GPU run: --device cuda "
                             "--reference-workers 4,8 --batch-size 512)")
    parser.add_argument("--engine-batch", type=int, default=64)
    parser.add_argument("--engine-repeats", type=int, default=3)
    parser.add_argument("--skip-engines", action="store_true")
    args = parser.parse_args()

    from brahmasifier.inference import PredictConfig, predict
    from brahmasifier.inference.engine import default_workers
    from brahmasifier.io import read_object, scan_fits_tree
    from brahmasifier.io.store import write_store
    from brahmasifier.models import build_model, preset_card, save_model

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    reference_workers = [int(w) for w in args.reference_workers.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, load average "
          f"{os.getloadavg()[0]:.1f} (shared machine: absolute numbers are noisy, ratios less so)")
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        write_tree(tmp / "tree", args.objects)
        print(f"wrote {args.objects} objects ({args.objects * len(BANDS)} FITS files) in {time.perf_counter() - t0:.1f} s")
        torch.manual_seed(0)
        cards = {
            "convnext_tiny": preset_card("convnext_tiny", normalization={"name": "per_image"}),
            "compact": preset_card(),  # our default model, as `brahmasifier train` builds it
        }
        modules = {k: build_model(c).eval() for k, c in cards.items()}
        for name, card in cards.items():
            save_model(modules[name], card, tmp / name / "model")
        records = [read_object(o) for o in scan_fits_tree(tmp / "tree").objects]
        import pandas as pd

        index = pd.DataFrame({"id": [r.id for r in records], "stem": [r.stem for r in records], "label": -1,
                              "domain": "unknown", "n_nan": [r.n_nan for r in records]})
        write_store(tmp / "store", np.stack([r.image for r in records]), index)

        def ours(model: str, data: Path) -> None:
            predict(PredictConfig(models=[tmp / model], data=[data], out=tmp / "out" / "submission.csv", tta="flips",
                                  batch_size=args.batch_size, workers=args.workers, accelerator=args.device, progress=False,
                                  resume=False))

        def reference(workers: int) -> Callable[[], None]:
            return lambda: reference_predict(tmp / "tree", modules["convnext_tiny"].backbone, args.batch_size, workers,
                                             args.device)

        configs = {
            **{f"reference (astropy, convnext_tiny eager, 3 passes), {w} worker(s)": reference(w)
               for w in reference_workers},
            "predict convnext_tiny, flips": lambda: ours("convnext_tiny", tmp / "tree"),
            "predict compact, flips": lambda: ours("compact", tmp / "tree"),
            "predict compact, flips, from store": lambda: ours("compact", tmp / "store"),
        }
        rates: dict[str, list[float]] = {k: [] for k in configs}
        for round_number in range(args.rounds):
            for key, fn in configs.items():
                t0 = time.perf_counter()
                fn()
                seconds = time.perf_counter() - t0
                rates[key].append(args.objects / seconds)
                print(f"  round {round_number + 1}: {key:58s} {args.objects / seconds:8.1f} obj/s", flush=True)
        reference = max(statistics.median(v) for k, v in rates.items() if k.startswith("reference"))
        ours_workers = default_workers(args.device) if args.workers is None else args.workers
        print(f"\nend to end, {args.objects} objects, predict with {ours_workers} loader worker process(es), "
              f"median of {args.rounds} rounds, ratios vs the faster reference:")
        for key, values in rates.items():
            med = statistics.median(values)
            print(f"  {key:58s} {med:8.1f} obj/s  x{med / reference:5.2f} vs reference")
        if not args.skip_engines and args.device == "cpu":  # the engine table compares CPU engines
            print(f"\nengines (model only, batch {args.engine_batch}, 3 views, median of {args.engine_repeats}):")
            engine_table(modules, args.engine_batch, args.engine_repeats, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
