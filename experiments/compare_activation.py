"""GELU vs ReLU in the compact net: validation AUC and blind-set completeness at low FPR, per seed.

Usage: python experiments/compare_activation.py DEMO_OUTPUT [--seeds 0 1] [--epochs 15]

``DEMO_OUTPUT`` is the folder ``make demo`` writes (``train_store/`` to train on,
``blind_fits/images`` + ``blind_fits/truth.csv`` to score). For each seed and activation it trains
with the demo's settings (``train(TrainConfig(...))``, only ``model_kwargs={"act": ...}`` and the
seed differ), predicts the blind set with 3-view TTA and prints val AUC, blind AUC and TPR at
FPR 1e-2 / 5e-2. Runs land in ``experiments/_work/activation/``. ~3 min per run on 2 CPU cores.
This is what decided that the default stays GELU (README, "Speed").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from brahmasifier.inference import PredictConfig, predict
from brahmasifier.training import TrainConfig, train


def tpr_at(labels: np.ndarray, scores: np.ndarray, fpr_max: float) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[np.searchsorted(fpr, fpr_max, side="right") - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_output", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "_work" / "activation")
    args = parser.parse_args()
    truth = pd.read_csv(args.demo_output / "blind_fits" / "truth.csv", dtype={"id": str})
    rows = []
    for seed in args.seeds:
        for act in ("gelu", "relu"):
            run = args.work / f"{act}_seed{seed}"
            result = train(TrainConfig(data=[str(args.demo_output / "train_store")], out=str(run), epochs=args.epochs,
                                       seed=seed, model_kwargs={"act": act}, progress=False))
            probs = run / "blind_probs.csv"
            predict(PredictConfig(models=[run], data=[args.demo_output / "blind_fits" / "images"],
                                  out=run / "blind_submission.csv", probs_out=probs, tta="flips", progress=False,
                                  resume=False))
            scored = pd.read_csv(probs, dtype={"id": str}).merge(truth[["id", "label"]], on="id")
            y, s = scored["label"].to_numpy(), scored["logit"].to_numpy()
            rows.append({"seed": seed, "act": act, "val_auc": result.metrics["val_auc"], "blind_auc": roc_auc_score(y, s),
                         "tpr@fpr1e-2": tpr_at(y, s, 1e-2), "tpr@fpr5e-2": tpr_at(y, s, 5e-2), "n_blind": len(scored)})
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
