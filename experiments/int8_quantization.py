"""Would int8 scoring pay? ONNX Runtime static int8 (QDQ, per-channel Conv) vs fp32 for a trained model.

Usage: python experiments/int8_quantization.py RUN_OR_MODEL STORE [--calibration 100] [--objects 1000]

Exports the model with 3-view TTA, quantises its convolutions with ``--calibration`` stamps of
``STORE`` (every k-th object), then prints model-only objects/s of both graphs (median of 5
interleaved batches of 256) and, on ``--objects`` labelled store objects, both AUCs and the
largest logit difference. Not a package feature: the result (README/notes) is why it is not one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from brahmasifier.inference.onnx import export_onnx
from brahmasifier.io.store import open_store
from brahmasifier.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--calibration", type=int, default=100)
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    model, _ = load_model(args.model)
    store = open_store(args.store)
    calibration = store.read(np.linspace(0, len(store) - 1, args.calibration).astype(int)).astype(np.float32)

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"image": calibration[i : i + 25]} for i in range(0, len(calibration), 25)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    def session(path: Path) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", tta="flips", check=False)
        int8 = Path(tmp) / "int8.onnx"
        quantize_static(str(fp32), str(int8), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
        sessions = {"fp32": session(fp32), "int8": session(int8)}
        batch = store.read(np.arange(min(256, len(store)))).astype(np.float32)
        times: dict[str, list[float]] = {k: [] for k in sessions}
        for s in sessions.values():
            s.run(None, {"image": batch})
        for _ in range(5):
            for name, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, {"image": batch})
                times[name].append(time.perf_counter() - t0)
        labels = store.index["label"].to_numpy()
        rows = np.sort(np.random.default_rng(0).choice(np.flatnonzero(labels >= 0), min(args.objects, len(store)), replace=False))
        images, y = store.read(rows).astype(np.float32), labels[rows]
        logits = {k: np.concatenate([s.run(None, {"image": images[i : i + 250]})[0] for i in range(0, len(rows), 250)])
                  for k, s in sessions.items()}
    for name in sessions:
        rate = len(batch) / statistics.median(times[name])
        print(f"{name}: {rate:7.0f} obj/s (3 views)   AUC {roc_auc_score(y, logits[name]):.5f}")
    print(f"int8 / fp32 speed x{statistics.median(times['fp32']) / statistics.median(times['int8']):.2f}; "
          f"max |logit difference| {np.abs(logits['int8'] - logits['fp32']).max():.3f} over {len(rows)} objects")


if __name__ == "__main__":
    main()
