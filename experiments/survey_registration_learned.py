"""A learned misregistration detector, as a probe: relabel perturbed stores, then rate the trained model like the rule.

Run:

``python experiments/survey_registration_learned.py relabel PERTURBED_STORE OUT_STORE``
    a copy of a ``brahmasifier perturb --misregister-fraction F`` store whose ``label`` is
    ``pert_misregistered`` (the lens label kept as ``lens_label``), so ``brahmasifier train``
    learns "misregistered vs aligned".

``python experiments/survey_registration_learned.py rate MODEL --clean NAME=STORE ... --misregistered NAME=STORE ... [--out DIR]``
    scores every set with ``predict`` (no repair, flips TTA; the model's logit is the detector's
    score, the same pass gives the rule's ``misregistered`` flag), sets the detector's threshold
    at ≤ 1 % false flags on every clean set (alone, and OR the rule), and prints the share of
    each misregistered set's objects spanning ≥ 10° that are flagged (``docs/survey-pixels.md``
    §3, "A learned detector").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def relabel(source: str, out: str) -> None:
    from brahmasifier.io.store import open_store, write_store

    store = open_store(source)
    index = store.index.copy()
    index["lens_label"] = index["label"]
    index["label"] = index["pert_misregistered"].astype(int)
    write_store(out, store.read(np.arange(len(store))), index.reset_index(drop=True))
    print(f"{out}: {len(index)} objects, {index['label'].mean():.1%} misregistered")


def _scores(model: str, name: str, store: str, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from brahmasifier.inference.config import PredictConfig
    from brahmasifier.inference.predictor import predict
    from brahmasifier.io.store import open_store

    probs = out / name / "p.csv"
    if not probs.exists():
        predict(PredictConfig(models=[model], data=[store], out=out / name / "s.csv", probs_out=probs,
                              progress=False, register_bands=False))
    index = open_store(store).index
    table = pd.read_csv(probs, dtype={"id": str}).set_index("id").reindex(index["id"].astype(str)).reset_index()
    return table, index


def rate(model: str, clean: dict[str, str], misregistered: dict[str, str], out: Path) -> None:
    res = {name: _scores(model, name, store, out) for name, store in {**clean, **misregistered}.items()}
    alone = max(float(np.quantile(res[n][0]["logit"], 0.99)) for n in clean)
    candidates = np.unique(np.concatenate([res[n][0]["logit"].to_numpy() for n in clean]))

    def union_rate(n: str, t: float) -> float:
        table = res[n][0]
        return float(np.mean((table["logit"] > t) | (table["misregistered"] == 1)))

    either = next((float(t) for t in candidates if all(union_rate(n, t) <= 0.01 for n in clean)), np.inf)
    print(f"threshold (logit): alone {alone:.3f}, OR the rule {either:.3f}")
    for n in clean:
        table = res[n][0]
        print(f"clean {n}: detector {np.mean(table['logit'] > alone):.2%}, rule {table['misregistered'].mean():.2%}, "
              f"OR {union_rate(n, either):.2%}")
    for n in misregistered:
        table, index = res[n]
        span = index["pert_max_band_angle"].to_numpy()
        wide = span >= 10
        by_detector = (table["logit"] > alone).to_numpy()
        by_rule = (table["misregistered"] == 1).to_numpy()
        both = (table["logit"] > either).to_numpy() | by_rule
        bins = ", ".join(f"{lo}-{hi}°: {both[(span >= lo) & (span < hi)].mean():.0%}"
                         for lo, hi in ((10, 15), (15, 20), (20, 40), (40, 1000)))
        print(f"misregistered {n}: spanning >= 10° flagged: detector {by_detector[wide].mean():.1%}, "
              f"rule {by_rule[wide].mean():.1%}, OR {both[wide].mean():.1%} ({bins})")


def _named(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("relabel")
    one.add_argument("source")
    one.add_argument("out")
    two = sub.add_parser("rate")
    two.add_argument("model")
    two.add_argument("--clean", nargs="+", required=True, metavar="NAME=STORE")
    two.add_argument("--misregistered", nargs="+", required=True, metavar="NAME=STORE")
    two.add_argument("--out", type=Path, default=Path("experiments/_work/learned_registration"))
    args = parser.parse_args()
    if args.command == "relabel":
        relabel(args.source, args.out)
    else:
        rate(args.model, _named(args.clean), _named(args.misregistered), args.out)


if __name__ == "__main__":
    main()
