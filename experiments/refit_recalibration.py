"""Refit a saved multi-task model's σ and decoded-interval recalibration on its own validation split (no retraining).

Usage (a run directory of ``brahmasifier train --regress`` and the store it was trained on)::

    python experiments/refit_recalibration.py RUN_DIR --data TRAIN_STORE --out NEW_MODEL_DIR

The validation rows are the run's own (the IDs of ``RUN_DIR/val_predictions.csv``); the card's
factors are reset to 1 and fitted again by the code a fresh run's export uses
(:func:`brahmasifier.training.export.recalibrate_card`), so a model trained before a change of the
recalibration gets exactly what it would get now. The weights are copied unchanged; the test data
are never read. Writes ``NEW_MODEL_DIR`` (a model folder for ``predict --model``) and prints the
validation 68% coverage of the e/PA columns with the old card, before and after.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brahmasifier._atomic import write_json_atomic
from brahmasifier.io.store import open_store
from brahmasifier.models.io import load_model, save_model
from brahmasifier.training.export import recalibrate_card


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the store the run was trained on")
    parser.add_argument("--out", type=Path, required=True, help="new model folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, card = load_model(args.run / "model")
    spec = card.target_set()
    if spec is None or card.regression is None:
        print(f"{args.run}: not a multi-task model (its card has no regression)", file=sys.stderr)
        return 2
    store = open_store(args.data)
    ids = pd.read_csv(args.run / "val_predictions.csv", dtype={"id": str})["id"].to_numpy()
    position = pd.Series(np.arange(len(store.index)), index=store.index["id"].astype(str).to_numpy())
    missing = [i for i in ids if i not in position.index]
    if missing:
        print(f"{args.data}: {len(missing)} validation IDs of {args.run} are not in this store (e.g. {missing[0]})",
              file=sys.stderr)
        return 2
    old = json.loads((args.run / "metrics.json").read_text()).get("regression", {})
    card.regression = {**card.regression,
                       "targets": spec.with_sigma_scale(np.ones(spec.n_dims)).with_interval_scale({}).to_dict()}
    block = recalibrate_card(model, card, store, position.loc[ids].to_numpy())
    save_model(model, card, args.out)
    write_json_atomic(args.out / "recalibration_metrics.json", block)
    old_after = old.get("val_coverage_68_after_recalibration", {})
    print("column      val 68% coverage: uncalibrated  old card  refitted")
    for col, after in block["val_coverage_68_after_recalibration"].items():
        print(f"{col:<12} {block['val_coverage_68_before_recalibration'][col]:>26.3f} "
              f"{old_after.get(col, float('nan')):>9.3f} {after:>9.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
