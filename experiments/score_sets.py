"""Score trained runs on labelled test stores: AUC and TPR at FPR 1e-2 / 1e-3 (68 % bootstrap intervals), AUC per non-lens kind.

Run: ``python experiments/score_sets.py --runs RUN [RUN ...] --sets NAME=STORE [NAME=STORE ...] [--out DIR]
[--tta flips d4] [--ensemble NAME=RUN,RUN ...]``

Each run predicts each store with ``predict``'s defaults (flips TTA; ``--tta`` adds others), the
predictions are joined with the store's labels and ``sim_subtype`` (``evaluation.inputs``), and the
metrics are those of the cross-simulator benchmark (``experiments/cross_simulator.py: metrics``, one
definition). An ensemble is scored from its members' predictions: the mean of their ``logit``
column (each calibrated by its temperature, averaged over the TTA views) — what ``predict`` with
several ``--model`` computes (``inference.parts``), without predicting again. Used for the
SLSim-own-configuration rows of issue 22.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from cross_simulator import metrics

from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
from brahmasifier.inference import PredictConfig, predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--sets", nargs="+", required=True, metavar="NAME=STORE[@TRUTH]")
    parser.add_argument("--out", type=Path, default=Path("experiments/_work/score_sets"))
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tta", nargs="+", default=["flips"], help="TTA views of predict (flips, d4, none)")
    parser.add_argument("--ensemble", nargs="*", default=[], metavar="NAME=RUN,RUN",
                        help="ensembles of runs given in --runs (scored from their predictions)")
    parser.add_argument("--pool", default=None, metavar="NAME",
                        help="also score the sets pooled into one (e.g. two seeds of one configuration)")
    args = parser.parse_args()
    results = []
    for tta in args.tta:
        pooled: dict[str, list[pd.DataFrame]] = {}
        for item in args.sets:
            name, store = item.split("=", 1)
            store, _, truth = store.partition("@")  # NAME=STORE@TRUTH.csv: labels and kinds from a truth table
            labels = load_labels(truth or store)
            scored = {Path(run).name: load_predictions(probs_of(run, name, store, tta, args.out)) for run in args.runs}
            for spec in args.ensemble:
                ens_name, _, members = spec.partition("=")
                scored[ens_name] = ensemble(scored[Path(run).name] for run in members.split(","))
            for run_name, predictions in scored.items():
                table, _ = join_predictions(predictions, labels)
                pooled.setdefault(run_name, []).append(table)
                results.append(report(run_name, name, tta, table, args))
        if args.pool:
            for run_name, tables in pooled.items():
                results.append(report(run_name, args.pool, tta, pd.concat(tables, ignore_index=True), args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))


def ensemble(members: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Predictions of an ensemble: the mean of the members' calibrated, TTA-averaged logits (as ``predict``)."""
    mean = pd.concat([m.set_index(["id", "stem"])["logit"] for m in members], axis=1).mean(axis=1)
    combined = mean.rename("logit").reset_index()
    combined["prob"] = 1.0 / (1.0 + np.exp(-combined["logit"].to_numpy()))
    return combined


def probs_of(run: str, name: str, store: str, tta: str, out_root: Path, precision: str = "auto") -> Path:
    """``probs.csv`` of ``run`` on set ``name`` with ``tta`` views (predicted once, then reused)."""
    out = out_root / (f"{Path(run).name}_{name}" + ("" if tta == "flips" else f"_{tta}"))
    probs = out / "probs.csv"
    if not probs.is_file():
        out.mkdir(parents=True, exist_ok=True)
        predict(PredictConfig(models=[run], data=[store], out=str(out / "submission.csv"), probs_out=str(probs),
                              tta=tta, progress=False, precision=precision))
    return probs


def _ci(metric: dict[str, object]) -> str:
    low, high = metric["ci68"]  # type: ignore[misc]
    return f"[{low:.3f}, {high:.3f}]"


def report(run: str, name: str, tta: str, table: pd.DataFrame, args: argparse.Namespace) -> dict[str, object]:
    """The metrics of one scored table, printed on one line."""
    result = {"run": run, "set": name, "tta": tta, **metrics(table, args.n_bootstrap, args.seed)}
    overall = result["overall"]
    kinds = ", ".join(f"{k} {v['value']:.3f}" for k, v in result["kinds"].items())
    print(f"{run:>14} {tta:>5} on {name:<12} AUC {overall['auc']['value']:.3f}  "
          f"TPR@1e-2 {overall['tpr@1e-02']['value']:.3f} {_ci(overall['tpr@1e-02'])}  "
          f"TPR@1e-3 {overall['tpr@1e-03']['value']:.3f} {_ci(overall['tpr@1e-03'])}  "
          f"(n {overall['n']}); AUC vs {kinds}", flush=True)
    return result


if __name__ == "__main__":
    main()
