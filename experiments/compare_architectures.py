"""Compare architectures / normalisations / lrs under the same wall-clock budget on a simulated store.

Usage: python experiments/compare_architectures.py STORE [--budget SECONDS] [--only NAME ...]
Each variant trains with ``train(TrainConfig(...))`` for at most ``--budget`` seconds (max_time)
and its exported model's validation AUC, epochs reached and samples/s are printed as a table
and written to experiments/_work/compare_<timestamp>.json. Same data, split and seed for all.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from brahmasifier.training import TrainConfig, train

VARIANTS: dict[str, dict] = {
    "compact (default, asinh_mad, lr 2e-3)": {"arch": "compact"},
    "compact, per_image norm": {"arch": "compact", "normalization": "per_image"},
    "compact, lr 1e-3": {"arch": "compact", "lr": 1e-3},
    "plain16 (no residual)": {"arch": "compact", "model_kwargs": {"depths": [0, 0, 0, 0]}},
    "res16 (0,1,1,1)": {"arch": "compact", "model_kwargs": {"depths": [0, 1, 1, 1]}},
    "convnext_atto scratch lr 1e-3": {"arch": "convnext_atto"},
    "resnet18 scratch lr 1e-3": {"arch": "resnet18"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--budget", type=int, default=150, help="seconds of training per variant")
    parser.add_argument("--only", nargs="*", help="substrings of variant names to run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    work = Path(__file__).parent / "_work" / f"compare_{int(time.time())}"
    rows = []
    for name, overrides in VARIANTS.items():
        if args.only and not any(s in name for s in args.only):
            continue
        t0 = time.perf_counter()
        result = train(TrainConfig(data=[args.store], out=str(work / name.split()[0].replace(",", "") / str(len(rows))),
                                   epochs=args.epochs, batch_size=args.batch_size,
                                   max_time=f"00:00:{args.budget // 60:02d}:{args.budget % 60:02d}",
                                   progress=False, patience=None, threads=2, seed=0, **overrides))
        seconds = time.perf_counter() - t0
        n_train = result.metrics["data"]["n_train"]
        row = {"variant": name, "val_auc": round(result.metrics["val_auc"], 4), "epochs": result.epochs_completed,
               "steps": result.global_step, "samples_per_s": round(result.global_step * args.batch_size / max(seconds, 1e-9), 1),
               "wall_s": round(seconds, 1), "n_train": n_train, "lr": result.metrics["lr"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'variant':42s} {'val AUC':>8s} {'epochs':>6s} {'samples/s':>9s}")
    for r in rows:
        print(f"{r['variant']:42s} {r['val_auc']:8.4f} {r['epochs']:6d} {r['samples_per_s']:9.1f}")


if __name__ == "__main__":
    main()
