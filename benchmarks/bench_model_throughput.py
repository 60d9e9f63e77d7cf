"""Model-only scoring throughput on this CPU (no file reading, no start-up).

The ceiling that end-to-end ``predict`` approaches on large inputs.

    python benchmarks/bench_model_throughput.py [--batch 256] [--repeats 5] [--tta flips]

For each model (random weights; speed does not depend on them): eager PyTorch fp32 and ONNX
Runtime fp32 (the engine ``predict`` picks on CPUs), the TTA views baked in, objects/s as the
median of ``--repeats`` batches, and the ratio ONNX Runtime / eager measured side by side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from brahmasifier.inference.onnx import OnnxLogits, export_onnx
from brahmasifier.inference.tta import TTAModel
from brahmasifier.models import build_model, preset_card

MODELS = {"compact": "asinh_mad", "convnext_tiny": "per_image"}


def median_rate(run: Callable[[], object], n: int, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tta", default="flips", choices=["none", "flips", "d4"])
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 5, 41, 41)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, TTA {args.tta}")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, norm in MODELS.items():
            model = build_model(preset_card(arch, normalization={"name": norm})).eval()
            tta = TTAModel(model, tta=args.tta).eval()
            with torch.inference_mode():
                eager = median_rate(lambda net=tta: net(x), args.batch, args.repeats)
            path = export_onnx(model, Path(tmp) / f"{arch}.onnx", tta=args.tta, check=False)
            session = OnnxLogits(path)
            images = x.numpy()
            ort = median_rate(lambda s=session, im=images: s(im), args.batch, args.repeats)
            print(f"{arch:14s} eager fp32 {eager:8.0f} obj/s   ONNX Runtime {ort:8.0f} obj/s   x{ort / eager:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
