"""The before/after table of docs/survey-pixels.md: one model scored on clean and survey-transformed copies of a test set.

Run: ``python experiments/survey_pixels_table.py --model RUN_OR_MODEL --set NAME=STORE ... [--register NAME ...]
[--repair-score S] [--band-groups GROUPS] [--out DIR]``

For each model card variant — as trained (``valid_only`` from its card) and, for comparison,
the same weights with ``valid_only`` switched off (how cards before it read filled pixels: as
0) — and each set, runs ``predict`` (flips TTA, the default) and prints AUC and TPR at
FPR 1e-2 (``binary_metrics``), the masked and misregistered counts. ``--register NAME`` also
scores that set with ``--register-bands`` (and ``--repair-score S`` given, ``--band-groups G``: ``auto``, predict's
default, unless given); ``--valid-only-only``
skips the "off" variant. ``--image-angles-only`` repairs with the image estimate's angles alone (the
resampling traces of :mod:`brahmasifier.survey.traces` switched off: ``predict`` before them), for
``experiments/survey_gap_arms.py`` to compare the two arms.

Every row of a set made from the same objects as ``--baseline`` (default ``clean``; the
perturbed copies keep the IDs) also gets its TPR at FPR 1e-2 minus the baseline's with paired
bootstrap intervals (``gap``, ``gap_lo68`` … ``gap_hi95``;
:func:`brahmasifier.evaluation.bootstrap.paired_tpr_difference`, 1,000 draws): at 1,000
non-lenses that operating point is set by ten objects, so a gap is only read against its interval.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import brahmasifier.survey.checks as checks
from brahmasifier.binary_metrics import RankedScores, auc, tpr_at_false_positives
from brahmasifier.evaluation.bootstrap import paired_tpr_difference
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
    parser.add_argument("--baseline", default="clean", help="set the paired gaps are measured against")
    parser.add_argument("--repair-score", type=float, default=None,
                        help="predict --repair-score for the --register rows (default: the flagged objects only)")
    parser.add_argument("--band-groups", default="auto",
                        help="predict --band-groups for the --register rows, e.g. gy,riz or none (default: auto, "
                             "predict's own default)")
    parser.add_argument("--image-angles-only", action="store_true",
                        help="repair with the image estimate's angles alone (the resampling traces switched off)")
    args = parser.parse_args()
    if args.image_angles_only:  # predict's checks then run in this process (workers=0 below)
        checks.with_traces = lambda angles, images, invalid=None: angles
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = dict(sorted((item.split("=", 1) for item in args.set), key=lambda kv: kv[0] != args.baseline))
    rows = []
    scored: dict[tuple[str, bool, bool], pd.DataFrame] = {}
    for valid_only in (True,) if args.valid_only_only else (True, False):
        model = _variant(args.model, out / "models", valid_only)
        for name, store in sets.items():
            labels = open_store(store).index.set_index("id")["label"]
            for register in ((False, True) if name in args.register else (False,)):
                tag = f"{name}{'_register' if register else ''}_v{int(valid_only)}"
                predict(PredictConfig(models=[str(model)], data=[store], out=out / tag / "s.csv",
                                      probs_out=out / tag / "p.csv", progress=False, register_bands=register,
                                      repair_score=args.repair_score if register else None,
                                      band_groups=args.band_groups if register else "",
                                      workers=0 if args.image_angles_only else None))  # the switch is this process's
                probs = pd.read_csv(out / tag / "p.csv", dtype={"id": str})
                row = {"set": name, "register_bands": register, "valid_only": valid_only, **_metrics(probs, labels)}
                scored[name, register, valid_only] = probs
                base = scored.get((args.baseline, False, valid_only))
                if base is not None and (name, register) != (args.baseline, False) and set(base["id"]) == set(probs["id"]):
                    joined = base.merge(probs, on="id", suffixes=("_base", ""))
                    gap = paired_tpr_difference(joined["logit_base"].to_numpy(), joined["logit"].to_numpy(),
                                                labels.loc[joined["id"]].to_numpy(), rng=np.random.default_rng(0))
                    row |= {"gap": gap["difference"], "gap_lo68": gap["ci68"][0], "gap_hi68": gap["ci68"][1],
                            "gap_lo95": gap["ci95"][0], "gap_hi95": gap["ci95"][1]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "table.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))



if __name__ == "__main__":
    main()
