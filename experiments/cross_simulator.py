"""Cross-simulator benchmark: train the default model on engine A, score engine B's test set.

Usage::

    python experiments/cross_simulator.py --n-train 6000 --epochs 30 \\
        --slsim-train /work/data/slsim_train_seed101 --slsim-test /work/data/slsim_blind_seed202
    python experiments/cross_simulator.py --quick          # tiny draws, 1 epoch (the test suite runs this)

For every training engine A in ``--train`` (default ``ours,slsim,ours+slsim``) the default
model (``configs/cpu_default.yaml``: the compact net and its recipe; ``--epochs`` overrides
the preset's epochs, ``--arch`` the architecture, e.g. ``plain_cnn`` for the baseline) is trained on ``--n-train`` objects of A (half lenses, half non-lenses;
``ours+slsim``: half from each engine), every object of the slsim domain (LSST 1-year),
then every test set B in ``--test`` (``ours``, ``slsim``, and ``ours+slsim``, their union) is
scored. Everything goes through the package's own API — ``simulate_dataset`` → ``pack_fits``
→ ``train`` → ``predict`` — and the metrics are :mod:`brahmasifier.evaluation`'s
(``metrics_for_subset``: AUC, TPR at FPR 10⁻² and 10⁻³ with 68 % class-stratified bootstrap
intervals), overall and per non-lens kind (all lenses against the non-lenses of one
``sim_subtype``). Data sets are simulated into ``--work`` (seeded: ours train ``--seed``,
ours test ``--seed + 1``; SLSim sets are drawn likewise with the SLSim engine unless
``--slsim-train`` / ``--slsim-test`` name existing folders) and reused when rerun; a subset of
a larger training folder is taken by linking its first objects (by class) into a new tree.
Prints one table and writes it to ``WORK/results.json`` and ``WORK/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TRAIN_ENGINES = ("ours", "slsim", "ours+slsim")
FPRS = (1e-2, 1e-3)


def log(work: Path, message: str) -> None:
    """Print and append to ``WORK/log.txt``."""
    print(message, flush=True)
    with open(work / "log.txt", "a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def simulate(engine: str, out: Path, n_per_class: int, seed: int, layout: str, quick: bool, workers: int | None) -> Path:
    """A finished simulation (reused if already there) in the slsim domain."""
    from brahmasifier.simulation import simulate_dataset

    config = None
    if engine == "slsim" and quick:
        from brahmasifier.simulation.slsim_engine import SlsimConfig

        config = SlsimConfig(catalogue_area_deg2=0.004, lens_area_factor=250.0, objects_per_realisation=2,
                             kcorrect_resolution=40)
    simulate_dataset(out, n_per_class, seed=seed, domains="slsim", engine=engine, layout=layout, config=config,
                     workers=workers, progress=False, preview=False)
    return out


def subset_tree(source: Path, out: Path, n_per_class: int) -> Path:
    """A tree with the first ``n_per_class`` objects of each class folder of ``source`` (links, same layout).

    The objects are those :func:`brahmasifier.io.scan.scan_fits_tree` finds, grouped by folder and
    sorted by stem; their band files are linked and each folder's ``parameters.fits`` with them.
    """
    from brahmasifier.io.scan import PARAMETERS_FILE, scan_fits_tree

    if (out / ".complete").is_file():
        return out
    scan = scan_fits_tree([source])
    by_folder: dict[Path, list[Any]] = {}
    for obj in scan.objects:
        by_folder.setdefault(Path(obj.files["g"]).parent, []).append(obj)
    for folder, objects in by_folder.items():
        objects.sort(key=lambda o: o.stem)
        if len(objects) < n_per_class:
            raise SystemExit(f"{folder}: only {len(objects)} objects, {n_per_class} wanted")
        target = out / folder.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for obj in objects[:n_per_class]:
            for path in obj.files.values():
                link = target / Path(path).name
                if not link.exists():
                    os.symlink(Path(path).resolve(), link)
        params = folder / PARAMETERS_FILE
        if params.is_file() and not (target / PARAMETERS_FILE).exists():
            os.symlink(params.resolve(), target / PARAMETERS_FILE)
    (out / ".complete").write_text("")
    return out


def train_sets(args: argparse.Namespace, work: Path) -> dict[str, list[Path]]:
    """FITS roots of every training engine, ``n_train`` objects each."""
    per_class = args.n_train // 2
    ours_full = args.ours_train or simulate("ours", work / f"ours_train_n{per_class}_seed{args.seed}", per_class,
                                            args.seed, "challenge", args.quick, args.workers)
    ours = subset_tree(ours_full, work / f"{ours_full.name}_subset{per_class}", per_class)
    slsim_full = args.slsim_train or simulate("slsim", work / f"slsim_train_n{per_class}_seed{args.seed + 100}", per_class,
                                              args.seed + 100, "challenge", args.quick, args.workers)
    slsim = subset_tree(slsim_full, work / f"{slsim_full.name}_subset{per_class}", per_class)
    half = per_class // 2
    mixed = [subset_tree(ours_full, work / f"{ours_full.name}_subset{half}", half),
             subset_tree(slsim_full, work / f"{slsim_full.name}_subset{half}", half)]
    return {"ours": [ours], "slsim": [slsim], "ours+slsim": mixed}


def test_sets(args: argparse.Namespace, work: Path) -> dict[str, list[Path]]:
    """Blind test folders (``images/`` + ``truth.csv``) of every test engine."""
    per_class = args.n_test // 2
    ours = simulate("ours", work / f"ours_test_n{per_class}_seed{args.seed + 1}", per_class, args.seed + 1, "test",
                    args.quick, args.workers)
    slsim = args.slsim_test or simulate("slsim", work / f"slsim_test_n{per_class}_seed{args.seed + 101}", per_class,
                                        args.seed + 101, "test", args.quick, args.workers)
    return {"ours": [ours], "slsim": [slsim], "ours+slsim": [ours, slsim]}


def train_model(name: str, roots: list[Path], args: argparse.Namespace, work: Path) -> Path:
    """Pack ``roots`` and train the default model on them (skipped when the run already has a model)."""
    from brahmasifier.io import pack_fits
    from brahmasifier.training import train
    from brahmasifier.training.config import merge_settings, read_config_file

    tag = name.replace("+", "_")
    run = work / f"run_{tag}_n{args.n_train}_{args.arch}_e{args.epochs}_seed{args.seed}"
    if (run / "model" / "model.json").is_file():
        return run
    store = work / f"store_{tag}_n{args.n_train}"
    if not (store / "manifest.json").is_file():
        pack_fits([str(r) for r in roots], str(store), workers=args.workers, progress=False)
    settings = read_config_file(REPO / "configs" / "cpu_default.yaml")
    config = merge_settings(settings, {"data": [str(store)], "out": str(run), "seed": args.seed, "progress": False,
                                       "arch": args.arch, **({"epochs": args.epochs} if args.epochs else {}),
                                       **({"threads": args.threads} if args.threads else {})})
    start = time.perf_counter()
    result = train(config)
    log(work, f"trained {name} on {args.n_train} objects, {config.epochs} epochs: {time.perf_counter() - start:.0f} s, "
              f"val AUC {result.metrics.get('val_auc')}")
    return run


def scored(run: Path, test: Path, work: Path, tag: str) -> pd.DataFrame:
    """The predictions of ``run`` on blind set ``test`` joined with its truth."""
    from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
    from brahmasifier.inference import PredictConfig, predict

    out = work / "predictions" / tag
    probs = out / "probs.csv"
    if not probs.is_file():
        out.mkdir(parents=True, exist_ok=True)
        predict(PredictConfig(models=[str(run)], data=[str(test / "images")], out=str(out / "submission.csv"),
                              probs_out=str(probs), progress=False))
    table, _ = join_predictions(load_predictions(probs), load_labels(test / "truth.csv"))
    return table


def metrics(table: pd.DataFrame, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """AUC and TPR at the FPRs (with 68 % intervals) overall and per non-lens kind."""
    from brahmasifier.evaluation.bootstrap import MetricSettings, metrics_for_subset
    from brahmasifier.evaluation.metrics import ranking_scores

    settings = MetricSettings(fprs=FPRS)
    scores, _ = ranking_scores(table)
    labels = table["label"].to_numpy(dtype=int)
    probs = table["prob"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)

    def subset(mask: np.ndarray) -> dict[str, Any]:
        m = metrics_for_subset(scores[mask], probs[mask], labels[mask], settings, n_bootstrap, rng)["metrics"]
        keys = ["auc_roc", *(f"tpr_at_fpr_{f:.0e}" for f in FPRS)]
        return {k: {"value": m[k]["value"], "ci68": m[k]["ci68"]} for k in keys} | {"n": int(mask.sum())}

    out = {"overall": subset(np.ones(len(table), dtype=bool)), "kinds": {}}
    kinds = table["sim_subtype"].astype(str) if "sim_subtype" in table.columns else pd.Series(["?"] * len(table))
    for kind in sorted(set(kinds[labels == 0])):
        out["kinds"][kind] = subset(((labels == 1) | (kinds == kind)).to_numpy())["auc_roc"]
    return out


def fmt(entry: dict[str, Any]) -> str:
    """``value [lo, hi]`` of a metric entry."""
    if entry["value"] is None:
        return "n/a"
    ci = entry.get("ci68")
    return f"{entry['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def table_markdown(results: dict[str, dict[str, Any]]) -> str:
    """The results as one Markdown table."""
    kinds = sorted({k for r in results.values() for k in r["kinds"]})
    head = ["train → test", "AUC", "TPR @ FPR 1e-2", "TPR @ FPR 1e-3", *[f"AUC vs {k}" for k in kinds]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pair, r in results.items():
        o = r["overall"]
        cells = [pair, fmt(o["auc_roc"]), fmt(o["tpr_at_fpr_1e-02"]), fmt(o["tpr_at_fpr_1e-03"])]
        cells += [f"{r['kinds'][k]['value']:.3f}" if k in r["kinds"] and r["kinds"][k]["value"] is not None else "–" for k in kinds]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=6000, help="training objects per engine (half lenses)")
    parser.add_argument("--n-test", type=int, default=2000, help="test objects per engine for simulated test sets")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: configs/cpu_default.yaml's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arch", default="compact", help="architecture (default: the default model's); e.g. plain_cnn")
    parser.add_argument("--train", default=",".join(TRAIN_ENGINES))
    parser.add_argument("--test", default=",".join(TRAIN_ENGINES))
    parser.add_argument("--ours-train", type=Path, default=None, help="existing our-engine training folder (challenge layout)")
    parser.add_argument("--slsim-train", type=Path, default=None, help="existing SLSim-engine training folder (challenge layout)")
    parser.add_argument("--slsim-test", type=Path, default=None, help="existing SLSim-engine blind folder (test layout)")
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for training (default: torch's)")
    parser.add_argument("--work", type=Path, default=REPO / "experiments" / "_work" / "cross_simulator")
    parser.add_argument("--quick", action="store_true", help="tiny draws and 1 epoch (a smoke test; numbers mean nothing)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.n_bootstrap = 16, 16, 1, 10
    args.work.mkdir(parents=True, exist_ok=True)
    log(args.work, f"cross_simulator {' '.join(argv if argv is not None else sys.argv[1:])}")
    results_name = "results" if args.arch == "compact" else f"results_{args.arch}"
    trains = {k: v for k, v in train_sets(args, args.work).items() if k in args.train.split(",")}
    tests = {k: v for k, v in test_sets(args, args.work).items() if k in args.test.split(",")}
    results: dict[str, dict[str, Any]] = {}
    for a, roots in trains.items():
        run = train_model(a, roots, args, args.work)
        for b, folders in tests.items():
            parts = [scored(run, f, args.work, f"{run.name}_on_{f.name}") for f in folders]
            table = pd.concat(parts, ignore_index=True)
            results[f"{a} → {b}"] = metrics(table, args.n_bootstrap, args.seed)
            log(args.work, f"{a} → {b}: AUC {fmt(results[f'{a} → {b}']['overall']['auc_roc'])}")
    text = table_markdown(results)
    print(text)
    (args.work / f"{results_name}.md").write_text(text + "\n")
    (args.work / f"{results_name}.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                                       indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
