"""Score trained runs on labelled test stores: AUC and TPR at FPR 1e-2 / 1e-3 (68 % bootstrap intervals), AUC per non-lens kind.

Run: ``python experiments/score_sets.py --runs RUN [RUN ...] --sets NAME=STORE [NAME=STORE ...] [--out DIR]``

Each run predicts each store with ``predict``'s defaults (flips TTA), the predictions are joined
with the store's labels and ``sim_subtype`` (``evaluation.inputs``), and the metrics are those of
the cross-simulator benchmark (``experiments/cross_simulator.py: metrics``, one definition). Used for
the SLSim-own-configuration rows of issue 22.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_simulator import metrics

from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
from brahmasifier.inference import PredictConfig, predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--sets", nargs="+", required=True, metavar="NAME=STORE")
    parser.add_argument("--out", type=Path, default=Path("experiments/_work/score_sets"))
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    for run in args.runs:
        for item in args.sets:
            name, store = item.split("=", 1)
            out = args.out / f"{Path(run).name}_{name}"
            probs = out / "probs.csv"
            if not probs.is_file():
                out.mkdir(parents=True, exist_ok=True)
                predict(PredictConfig(models=[run], data=[store], out=str(out / "submission.csv"), probs_out=str(probs),
                                      tta="flips", progress=False))
            labels = load_labels(store)
            table, _ = join_predictions(load_predictions(probs), labels)
            result = {"run": run, "set": name, **metrics(table, args.n_bootstrap, args.seed)}
            results.append(result)
            overall = result["overall"]
            kinds = ", ".join(f"{k} {v['value']:.3f}" for k, v in result["kinds"].items())
            print(f"{Path(run).name:>10} on {name:<12} AUC {overall['auc']['value']:.3f}  "
                  f"TPR@1e-2 {overall['tpr@1e-02']['value']:.3f}  TPR@1e-3 {overall['tpr@1e-03']['value']:.3f}  "
                  f"(n {overall['n']}); AUC vs {kinds}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
