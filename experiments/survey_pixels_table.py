"""The before/after table of docs/survey-pixels.md: one model scored on clean and survey-transformed copies of a test set.

Run: ``python experiments/survey_pixels_table.py --model RUN_OR_MODEL --set NAME=STORE ... [--register NAME ...] [--out DIR]``

For each model card variant — as trained (``valid_only`` from its card) and, for comparison,
the same weights with ``valid_only`` switched off (how cards before it read filled pixels: as
0) — and each set, runs ``predict`` (flips TTA, the default) and prints AUC and TPR at
FPR 1e-2 (``binary_metrics``), the masked and misregistered counts. ``--register NAME`` also
scores that set with ``--register-bands``; ``--valid-only-only`` skips the "off" variant.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from brahmasifier.binary_metrics import RankedScores, auc, tpr_at_false_positives
from brahmasifier.inference.config import PredictConfig
from brahmasifier.inference.predictor import predict
from brahmasifier.io.store import open_store
from brahmasifier.models.card import resolve_card_path


def _variant(model: str, folder: Path, valid_only: bool) -> Path:
    card_path = resolve_card_path(model)
    target = folder / f"valid_only_{int(valid_only)}"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(card_path.parent, target)
    card = json.loads((target / card_path.name).read_text())
    card["normalization"] = {**card["normalization"], "valid_only": valid_only}
    (target / card_path.name).write_text(json.dumps(card, indent=2))
    return target


def _metrics(probs: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    y = labels.loc[probs["id"]].to_numpy()
    ranked = RankedScores(probs["logit"].to_numpy(), y)
    tp, fp = ranked.counts()
    n_neg = int((y == 0).sum())
    return {"auc": auc(tp, fp), "tpr_at_fpr_1e-2": tpr_at_false_positives(tp, fp, 0.01 * n_neg),
            "n_masked": int((probs["masked_fraction"] > 0).sum()), "n_misregistered": int(probs["misregistered"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--set", nargs="+", required=True, metavar="NAME=STORE")
    parser.add_argument("--register", nargs="*", default=[])
    parser.add_argument("--out", default="experiments/_work/survey_table")
    parser.add_argument("--valid-only-only", action="store_true", help="score only with valid_only on")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = dict(item.split("=", 1) for item in args.set)
    rows = []
    for valid_only in (True,) if args.valid_only_only else (True, False):
        model = _variant(args.model, out / "models", valid_only)
        for name, store in sets.items():
            labels = open_store(store).index.set_index("id")["label"]
            for register in ((False, True) if name in args.register else (False,)):
                tag = f"{name}{'_register' if register else ''}_v{int(valid_only)}"
                predict(PredictConfig(models=[str(model)], data=[store], out=out / tag / "s.csv",
                                      probs_out=out / tag / "p.csv", progress=False, register_bands=register))
                probs = pd.read_csv(out / tag / "p.csv", dtype={"id": str})
                row = {"set": name, "register_bands": register, "valid_only": valid_only, **_metrics(probs, labels)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "table.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))



if __name__ == "__main__":
    main()
