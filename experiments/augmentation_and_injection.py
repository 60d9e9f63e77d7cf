"""Which training data and which survey augmentations find SLSim lenses: injections vs whole scenes vs SLSim.

Usage (one command; every step is kept, so a rerun resumes and only missing runs are made):

    python experiments/augmentation_and_injection.py                       # the README table (~2 h on 2 cores)
    python experiments/augmentation_and_injection.py --runs ours inject    # some runs only
    python experiments/augmentation_and_injection.py --quick --test-set T --slsim-train S --out DIR   # the test's version

The default model is trained with ``configs/cpu_default.yaml``'s recipe (the package's API:
simulate / inject → pack → train → predict → metrics) on ``--n`` objects (half lenses) of:

- ``ours``: our engine's whole synthetic scenes (``simulate_dataset``, LSST-rendered ``slsim``
  domain, seed ``S``);
- ``inject``: lenses injected into our engine's simulated non-lenses (``inject_dataset``, our
  source population; hosts seed ``S + 1``, injection seed ``S + 2``) with the untouched hosts
  as the non-lenses;
- ``slsim``: SLSim-engine data (``--slsim-train``, default ``/work/data/slsim_train_seed101``,
  3000 + 3000; a seeded class-balanced subset when ``--n`` is smaller);
- ``ours+<aug>``: ``ours`` with one survey augmentation on (``--aug-<name>`` strengths below,
  ``aug_probability`` 0.5).

Each model scores the SLSim blind set ``--test-set`` (default ``/work/data/slsim_blind_seed202``:
1000 lenses + 1000 non-lenses, ``images/`` + ``truth.csv``) with 3-view TTA; AUC and TPR at
FPR 1e-2 with 68% bootstrap intervals come from ``brahmasifier.evaluation.bootstrap``
(``metrics_for_subset``, 200 resamples). Results: ``OUT/results.json`` and ``OUT/results.md``.
Runs at ``nice -n 5`` priority (not ``--quick``), one training at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
AUG_STRENGTHS = {"flux": 0.5, "seeing": 0.4, "shift": 0.5, "sky": 1.0, "noise": 0.5}
BASE_RUNS = ("ours", "inject", "slsim")
ALL_RUNS = (*BASE_RUNS, *(f"ours+{name}" for name in AUG_STRENGTHS))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "_work" / "augmentation_and_injection")
    parser.add_argument("--n", type=int, default=6000, help="training objects per run (half lenses)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-set", type=Path, default=Path("/work/data/slsim_blind_seed202"))
    parser.add_argument("--slsim-train", type=Path, default=Path("/work/data/slsim_train_seed101"))
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "cpu_default.yaml")
    parser.add_argument("--runs", nargs="+", default=list(ALL_RUNS), choices=ALL_RUNS)
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    for name, value in AUG_STRENGTHS.items():
        parser.add_argument(f"--aug-{name}", type=float, default=value, help=f"strength of the ours+{name} run")
    parser.add_argument("--workers", type=int, default=2, help="processes for simulate/inject/pack")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny: 64 objects, 1 epoch, 200 test objects (the test suite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.epochs, args.bootstrap = 64, 1, 20
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------------------- data
def store_of(tree: Path, store: Path, workers: int) -> Path:
    from brahmasifier.io.pack import pack_fits

    pack_fits([tree], out=store, workers=workers, progress=False)
    return store


def subset_store(source: Path, out: Path, n: int, seed: int) -> Path:
    """A class-balanced seeded subset of ``n`` objects of a store (the whole store if it is not larger)."""
    from brahmasifier.io.store import is_complete_store, open_store, write_store

    store = open_store(source)
    if n >= len(store) or is_complete_store(out):
        return source if n >= len(store) else out
    index = store.index
    rng = np.random.default_rng(seed)
    rows = np.sort(np.concatenate([rng.choice(np.nonzero(index["label"].to_numpy() == lab)[0], n // 2, replace=False)
                                   for lab in (1, 0)]))
    write_store(out, store.read(rows), index.iloc[rows].reset_index(drop=True))
    return out


def training_stores(args: argparse.Namespace, needed: set[str]) -> dict[str, Path]:
    from brahmasifier.simulation import simulate_dataset
    from brahmasifier.simulation.inject import inject_dataset

    data, stores, half = args.out / "data", args.out / "stores", args.n // 2
    out: dict[str, Path] = {}
    if needed & {"ours", *(f"ours+{a}" for a in AUG_STRENGTHS)}:
        log(f"ours: simulating {args.n} objects")
        simulate_dataset(data / "ours", half, seed=args.seed, domains="slsim", workers=args.workers, progress=False)
        out["ours"] = store_of(data / "ours", stores / "ours", args.workers)
    if "inject" in needed:
        n_hosts = int(1.15 * half) + 8  # acceptance on these hosts is ~95%
        log(f"inject: simulating {n_hosts} non-lens hosts, injecting {half} lenses")
        simulate_dataset(data / "hosts", n_hosts, seed=args.seed + 1, domains="slsim", workers=args.workers, progress=False,
                         preview=False)
        hosts = store_of(data / "hosts" / "slsim_nonlenses", stores / "hosts", args.workers)
        summary = inject_dataset(hosts, data / "inject", half, seed=args.seed + 2, workers=args.workers, progress=False)
        if summary.n_lenses < half:
            raise SystemExit(f"inject made only {summary.n_lenses} of {half} lenses; raise the host count")
        out["inject"] = store_of(data / "inject", stores / "inject", args.workers)
    if "slsim" in needed:
        log(f"slsim: {args.n} objects of {args.slsim_train}")
        full = store_of(args.slsim_train, stores / "slsim_full", args.workers)
        out["slsim"] = subset_store(full, stores / f"slsim_{args.n}", args.n, args.seed)
    return out


# ----------------------------------------------------------------------------------------- runs
def train_and_score(name: str, store: Path, args: argparse.Namespace, test_images: Path, truth: pd.DataFrame) -> dict[str, Any]:
    from brahmasifier.evaluation.bootstrap import MetricSettings, metrics_for_subset, tpr_at_fpr_name
    from brahmasifier.inference import PredictConfig, predict
    from brahmasifier.training import TrainConfig, train
    from brahmasifier.training.config import read_config_file

    run = args.out / "runs" / name.replace("+", "_")
    result_file = run / "result.json"
    if result_file.is_file():
        return dict(json.loads(result_file.read_text()))
    settings = read_config_file(args.config)
    settings.update({"data": [str(store)], "out": str(run), "seed": args.seed, "progress": False})
    if args.epochs:
        settings["epochs"] = args.epochs
    if "+" in name:
        aug = name.split("+", 1)[1]
        settings[f"aug_{aug}"] = getattr(args, f"aug_{aug}")
    started = time.perf_counter()
    if (run / "model" / "model.json").is_file():
        metrics = json.loads((run / "metrics.json").read_text())
    else:
        metrics = train(TrainConfig.from_dict(settings)).metrics
    train_s = time.perf_counter() - started
    probs = run / "test_probs.csv"
    predict(PredictConfig(models=[str(run)], data=[str(test_images)], out=str(run / "test_submission.csv"),
                          probs_out=str(probs), tta="flips", progress=False))
    scored = pd.read_csv(probs, dtype={"id": str}).merge(truth[["id", "label"]], on="id", how="inner")
    if len(scored) != len(truth):
        raise SystemExit(f"{name}: {len(scored)} of {len(truth)} test objects scored and matched")
    settings_m = MetricSettings(fprs=(1e-2,))
    block = metrics_for_subset(scored["logit"].to_numpy(), scored["prob"].to_numpy(), scored["label"].to_numpy(), settings_m,
                               n_bootstrap=args.bootstrap, rng=np.random.default_rng(0))["metrics"]
    key = tpr_at_fpr_name(1e-2)
    card = json.loads((run / "model" / "model.json").read_text())
    result = {"run": name, "n_train": card.get("training", {}).get("data", {}).get("n_train"), "val_auc": metrics.get("val_auc"),
              "auc": block["auc_roc"]["value"], "auc_ci68": block["auc_roc"]["ci68"],
              "tpr_fpr1e-2": block[key]["value"], "tpr_fpr1e-2_ci68": block[key]["ci68"],
              "n_test": len(scored), "train_seconds": round(train_s, 1),
              "settings": {k: settings[k] for k in settings if k.startswith("aug_") or k in ("epochs", "seed")}}
    result_file.write_text(json.dumps(result, indent=2))
    return result


def table(results: list[dict[str, Any]]) -> str:
    def ci(v: list[float] | None) -> str:
        return f"[{v[0]:.3f}, {v[1]:.3f}]" if v else "—"

    lines = ["| training data | val AUC | SLSim AUC (68% CI) | TPR at FPR 1e-2 (68% CI) | train s |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['run']} | {r['val_auc']:.3f} | {r['auc']:.3f} {ci(r['auc_ci68'])} | "
                     f"{r['tpr_fpr1e-2']:.3f} {ci(r['tpr_fpr1e-2_ci68'])} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if hasattr(os, "nice") and not args.quick:  # a shared machine: lower priority for the hours-long table
        os.nice(5)
    args.out.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(args.test_set / "truth.csv", dtype={"id": str})
    test_images = args.test_set / "images"
    if args.quick and len(truth) > 200:  # a class-balanced 200-object slice of the test set
        truth = pd.concat([truth[truth["label"] == lab].head(100) for lab in (1, 0)])
        test_images = args.out / "test_images"
        test_images.mkdir(exist_ok=True)
        for stem in truth["stem"]:
            for band in "grizy":
                link = test_images / f"{stem}_{band}.fits"
                if not link.exists():
                    link.symlink_to((args.test_set / "images" / f"{stem}_{band}.fits").resolve())
    needed = set(args.runs)
    stores = training_stores(args, needed)
    results = []
    for name in args.runs:
        log(f"{name}: training and scoring")
        result = train_and_score(name, stores[name.split("+")[0]], args, test_images, truth)
        log(f"{name}: AUC {result['auc']:.4f}, TPR@FPR1e-2 {result['tpr_fpr1e-2']:.3f} ({result['train_seconds']:.0f} s)")
        results.append(result)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    text = table(results)
    (args.out / "results.md").write_text(text + "\n")
    print(text)
    return results


if __name__ == "__main__":
    main()
