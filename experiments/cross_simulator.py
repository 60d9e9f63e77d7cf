r"""Cross-simulator benchmark: train the default model on engine A's data, score engine B's test set.

Usage (one home for the issue-13/14 measurements; every step is kept, a rerun resumes)::

    python experiments/cross_simulator.py --n-train 4000 --epochs 20 --threads 1 \
        --runs ours slsim --tests ours slsim \
        --slsim-train /work/data/slsim_train_seed101 --slsim-test /work/data/slsim_blind_seed202
    python experiments/cross_simulator.py ... --runs slsim/plain_cnn inject ours+slsim --tests slsim
    python experiments/cross_simulator.py ... --runs ours/aug_flux ours/aug_noise --tests slsim --epochs 10
    python experiments/cross_simulator.py --quick --slsim-train S --slsim-test T --work W   # the test's version

A run is ``DATA`` or ``DATA/MOD``. ``DATA`` (``--n-train`` objects, half lenses, all in the
LSST-rendered ``slsim`` domain):

- ``ours``: our engine's whole scenes (``simulate_dataset``, seed ``--seed``, or the first
  objects per class of ``--ours-train``);
- ``slsim``: SLSim-engine data (``--slsim-train``, else drawn with the SLSim engine, seed + 100);
- ``ours+slsim``: half of each;
- ``inject``: lenses injected (``inject_dataset``, our source population, seed + 3) into our
  engine's simulated non-lenses of every kind (seed + 2) with the untouched hosts as the
  non-lenses (paired);
- ``inject_lrg``: the way lens searches build injection sets: lenses injected (seed + 5) only
  into lens-like hosts, our engine's lone massive red deflectors (a simulation whose non-lens
  mix is ``deflector`` only, seed + 4), and as non-lenses the full non-lens population
  (``inject``'s host simulation, seed + 2: deflectors, blue galaxies, false positives, ...).

``--min-arc-snr`` sets the injections' detectability cut (default :class:`InjectConfig`'s 20; another
value names its data ``inject[_lrg]_snr<v>``).

``MOD``: ``plain_cnn`` (the architecture: the small-CNN baseline) or ``aug_<name>`` (one survey
augmentation of :mod:`brahmasifier.data.augment` on, at ``--aug-<name>``'s strength). Everything
else is ``configs/cpu_default.yaml``'s recipe (``--epochs`` overrides its epochs) with the survey
augmentations off unless that file names them (:data:`BENCHMARK_AUGMENTATIONS`: ``train``'s defaults
shift and rotate since 2026-12-07; this benchmark's tables were measured without). Each run
scores each test set in ``--tests`` (``ours``: our engine, seed + 1, ``--n-test`` objects;
``slsim``: ``--slsim-test`` or an SLSim-engine draw, seed + 101) through the package's API
(``pack_fits`` → ``train`` → ``predict``, 3-view TTA) and :mod:`brahmasifier.evaluation`
(``join_predictions``; ``metrics_for_subset``: AUC, TPR at FPR 1e-2 and 1e-3 with 68 %
class-stratified bootstrap intervals), overall and per non-lens kind (all lenses against the
non-lenses of one ``sim_subtype``). A training subset is the first objects (by stem) of each
class folder, linked into a new tree. Results: ``WORK/runs/<run>/result_<test>.json`` (reused)
and the table of this invocation in ``WORK/<--results>.md`` / ``.json``. Not ``--quick``, the
script lowers its priority (``nice 5``): the machine is shared.
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
DATA = ("ours", "slsim", "ours+slsim", "inject", "inject_lrg")
ARCHS = ("plain_cnn",)
AUG_STRENGTHS = {"flux": 0.5, "seeing": 0.4, "shift": 0.5, "sky": 1.0, "noise": 0.5}
#: Under the config file: the benchmark's runs train without shifts or rotations, as ``train`` did when its tables
#: were measured (a ``--config`` file that names them, or an ``aug_<name>`` run, still sets them).
BENCHMARK_AUGMENTATIONS: dict[str, float] = {"aug_shift": 0.0, "aug_rotate": 0.0}
TESTS = ("ours", "slsim")
FPRS = (1e-2, 1e-3)


def log(work: Path, message: str) -> None:
    """Print and append to ``WORK/log.txt``."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
    with open(work / "log.txt", "a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def parse_run(name: str) -> tuple[str, str | None]:
    """``DATA[/MOD]`` → (data, mod); a clear error for anything else."""
    data, _, mod = name.partition("/")
    if data not in DATA or (mod and mod not in ARCHS and mod.removeprefix("aug_") not in AUG_STRENGTHS):
        mods = ", ".join([*ARCHS, *(f"aug_{a}" for a in AUG_STRENGTHS)])
        raise SystemExit(f"run {name!r}: expected DATA[/MOD] with DATA in {', '.join(DATA)} and MOD in {mods}")
    return data, mod or None


# ----------------------------------------------------------------------------------------- data
def simulate(engine: str, out: Path, n_per_class: int, seed: int, layout: str, args: argparse.Namespace,
             config: Any = None) -> Path:
    """A finished simulation (reused if already there) in the slsim domain (``config``: the engine's, or default)."""
    from brahmasifier.simulation import simulate_dataset

    if engine == "slsim" and args.quick:
        from brahmasifier.simulation.slsim_engine import SlsimConfig

        config = SlsimConfig(catalogue_area_deg2=0.004, lens_area_factor=250.0, objects_per_realisation=2,
                             kcorrect_resolution=40)
    simulate_dataset(out, n_per_class, seed=seed, domains="slsim", engine=engine, layout=layout, config=config,
                     workers=args.workers, progress=False, preview=False)
    return out


def subset_tree(source: Path, out: Path, n_per_class: int, folders: tuple[str, ...] | None = None) -> Path:
    """A tree with the first ``n_per_class`` objects of each class folder of ``source`` (links, same layout).

    ``folders``: only these class folders (names relative to ``source``); default all.

    The objects are those :func:`brahmasifier.io.scan.scan_fits_tree` finds, grouped by folder and
    sorted by stem; their band files are linked and each folder's ``parameters.fits`` with them.
    """
    from brahmasifier.io.scan import PARAMETERS_FILE, scan_fits_tree

    if (out / ".complete").is_file():
        return out
    by_folder: dict[Path, list[Any]] = {}
    for obj in scan_fits_tree([source]).objects:
        by_folder.setdefault(Path(obj.files["g"]).parent, []).append(obj)
    for folder, objects in by_folder.items():
        if folders is not None and folder.relative_to(source).parts[0] not in folders:
            continue
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


def host_simulation(args: argparse.Namespace, per_class: int, kinds: str) -> Path:
    """Our engine's simulation whose non-lenses host the injections: every kind (``all``) or ``deflector`` only."""
    from brahmasifier.simulation.population import NONLENS_MIX, PopulationConfig

    n_hosts = int(1.15 * per_class) + 8  # acceptance on these hosts is ~94 % (the injection's detectability cut)
    if kinds == "all":
        return simulate("ours", args.work / f"ours_hosts_n{n_hosts}_seed{args.seed + 2}", n_hosts, args.seed + 2,
                        "challenge", args)
    config = PopulationConfig(nonlens_mix={**NONLENS_MIX, "slsim": {"deflector": 1.0}})
    return simulate("ours", args.work / f"ours_lrg_hosts_n{n_hosts}_seed{args.seed + 4}", n_hosts, args.seed + 4,
                    "challenge", args, config)


def injected(args: argparse.Namespace, per_class: int, kinds: str = "all") -> Path:
    """``per_class`` lenses injected into our simulated non-lenses (see :func:`host_simulation`).

    ``all``: with the untouched hosts as non-lenses (paired); ``deflector``: lenses only.
    """
    from brahmasifier.simulation.inject import InjectConfig, inject_dataset

    hosts = host_simulation(args, per_class, kinds)
    seed = args.seed + (3 if kinds == "all" else 5)
    name = data_tag("inject" if kinds == "all" else "inject_lrg", args)
    out = args.work / f"{name}_n{per_class}_seed{seed}"
    config = InjectConfig(nonlenses="paired" if kinds == "all" else "none", min_arc_snr=args.min_arc_snr)
    summary = inject_dataset(hosts / "slsim_nonlenses", out, per_class, seed=seed, config=config, workers=args.workers,
                             progress=False, preview=False, cache_dir=args.work / f"{hosts.name.rsplit('_seed', 1)[0]}_store")
    if summary.n_lenses < per_class:
        raise SystemExit(f"inject made only {summary.n_lenses} of {per_class} lenses; raise the host count")
    return out


def training_roots(data: str, args: argparse.Namespace) -> list[Path]:
    """FITS roots holding ``--n-train`` objects (half lenses) of ``data``."""
    per_class, work = args.n_train // 2, args.work

    def full(engine: str) -> Path:
        given = args.ours_train if engine == "ours" else args.slsim_train
        seed = args.seed if engine == "ours" else args.seed + 100
        return given or simulate(engine, work / f"{engine}_train_n{per_class}_seed{seed}", per_class, seed, "challenge", args)

    if data == "ours+slsim":
        return [subset_tree(full(e), work / f"{full(e).name}_subset{per_class // 2}", per_class // 2) for e in ("ours", "slsim")]
    if data == "inject_lrg":  # lenses in deflector hosts; non-lenses: the first of the every-kind host simulation
        lenses = injected(args, per_class, "deflector")
        population = host_simulation(args, per_class, "all")
        return [subset_tree(lenses, work / f"{lenses.name}_subset{per_class}", per_class),
                subset_tree(population, work / f"{population.name}_nonlenses_subset{per_class}", per_class,
                            ("slsim_nonlenses",))]
    source = injected(args, per_class) if data == "inject" else full(data)
    return [subset_tree(source, work / f"{source.name}_subset{per_class}", per_class)]


def test_folders(test: str, args: argparse.Namespace) -> Path:
    """The blind folder (``images/`` + ``truth.csv``) of test engine ``test``."""
    per_class = args.n_test // 2
    if test == "slsim" and args.slsim_test:
        return Path(args.slsim_test)
    seed = args.seed + (1 if test == "ours" else 101)
    return simulate(test, args.work / f"{test}_test_n{per_class}_seed{seed}", per_class, seed, "test", args)


# ----------------------------------------------------------------------------------------- runs
def data_tag(data: str, args: argparse.Namespace) -> str:
    """``data`` in file names (``+`` → ``_``; an injection's ``--min-arc-snr`` where not the default)."""
    from brahmasifier.simulation.inject import InjectConfig

    snr = f"_snr{args.min_arc_snr:g}" if data.startswith("inject") and args.min_arc_snr != InjectConfig.min_arc_snr else ""
    return data.replace("+", "_") + snr


def run_folder(name: str, args: argparse.Namespace) -> Path:
    """Where run ``name`` trains (named by everything that sets it)."""
    data, mod = parse_run(name)
    arch = mod if mod in ARCHS else "compact"
    aug = f"_{mod}{getattr(args, 'aug_' + mod.removeprefix('aug_'))}" if mod and mod.startswith("aug_") else ""
    return args.work / f"run_{data_tag(data, args)}_n{args.n_train}_{arch}{aug}_e{args.epochs}_seed{args.seed}"


def train_run(name: str, args: argparse.Namespace) -> Path:
    """Pack the run's data and train it with the default recipe (skipped when the run already has a model)."""
    from brahmasifier.io import pack_fits
    from brahmasifier.training import train
    from brahmasifier.training.config import merge_settings, read_config_file

    data, mod = parse_run(name)
    run = run_folder(name, args)
    if (run / "model" / "model.json").is_file():
        return run
    store = args.work / f"store_{data_tag(data, args)}_n{args.n_train}"
    if not (store / "manifest.json").is_file():
        pack_fits([str(r) for r in training_roots(data, args)], str(store), workers=args.workers, progress=False)
    overrides: dict[str, Any] = {"data": [str(store)], "out": str(run), "seed": args.seed, "progress": False,
                                 "arch": mod if mod in ARCHS else "compact"}
    if mod and mod.startswith("aug_"):
        overrides[mod] = getattr(args, mod)
    overrides |= {k: v for k, v in (("epochs", args.epochs), ("threads", args.threads)) if v}
    config = merge_settings(BENCHMARK_AUGMENTATIONS, read_config_file(args.config), overrides)
    start = time.perf_counter()
    result = train(config)
    log(args.work, f"trained {name} on {args.n_train} objects, {config.epochs} epochs: "
                   f"{time.perf_counter() - start:.0f} s, val AUC {result.metrics.get('val_auc')}")
    return run


def scored(run: Path, test: Path, args: argparse.Namespace) -> pd.DataFrame:
    """The predictions of ``run`` on blind set ``test`` joined with its truth (every object, or an error)."""
    from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
    from brahmasifier.inference import PredictConfig, predict

    out = run / f"predictions_{test.name}"
    probs = out / "probs.csv"
    if not probs.is_file():
        out.mkdir(parents=True, exist_ok=True)
        predict(PredictConfig(models=[str(run)], data=[str(test / "images")], out=str(out / "submission.csv"),
                              probs_out=str(probs), tta="flips", progress=False))
    labels = load_labels(test / "truth.csv")
    table, _ = join_predictions(load_predictions(probs), labels)
    if len(table) != len(labels):
        raise SystemExit(f"{run.name} on {test}: {len(table)} of {len(labels)} test objects scored and matched")
    return table


def metrics(table: pd.DataFrame, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """AUC and TPR at the FPRs (with 68 % intervals) overall, and AUC per non-lens kind."""
    from brahmasifier.evaluation.bootstrap import MetricSettings, metrics_for_subset, tpr_at_fpr_name
    from brahmasifier.evaluation.metrics import ranking_scores

    settings = MetricSettings(fprs=FPRS)
    scores, _ = ranking_scores(table)
    labels = table["label"].to_numpy(dtype=int)
    probs = table["prob"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    keys = {"auc": "auc_roc", **{f"tpr@{f:.0e}": tpr_at_fpr_name(f) for f in FPRS}}

    def subset(mask: np.ndarray) -> dict[str, Any]:
        m = metrics_for_subset(scores[mask], probs[mask], labels[mask], settings, n_bootstrap, rng)["metrics"]
        return {k: {"value": m[key]["value"], "ci68": m[key]["ci68"]} for k, key in keys.items()} | {"n": int(mask.sum())}

    out = {"overall": subset(np.ones(len(table), dtype=bool)), "kinds": {}}
    kinds = table["sim_subtype"].astype(str) if "sim_subtype" in table.columns else pd.Series(["?"] * len(table))
    for kind in sorted(set(kinds[labels == 0])):
        out["kinds"][kind] = subset(((labels == 1) | (kinds == kind)).to_numpy())["auc"]
    return out


def evaluate(name: str, test: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or reuse) run ``name``, score test set ``test``; the result is kept in the run folder."""
    run = train_run(name, args)
    result_file = run / f"result_{test}.json"
    if result_file.is_file():
        return dict(json.loads(result_file.read_text()))
    from brahmasifier.io.store import open_store

    folder = test_folders(test, args)
    train_index = open_store(args.work / f"store_{data_tag(parse_run(name)[0], args)}_n{args.n_train}").index
    result = {"run": name, "test": test, "test_set": str(folder), "folder": run.name,
              "n_train": {"lenses": int((train_index["label"] == 1).sum()), "nonlenses": int((train_index["label"] == 0).sum())},
              "val_auc": json.loads((run / "metrics.json").read_text()).get("val_auc"),
              **metrics(scored(run, folder, args), args.n_bootstrap, args.seed)}
    result_file.write_text(json.dumps(result, indent=2))
    return result


# ----------------------------------------------------------------------------------------- table
def fmt(entry: dict[str, Any]) -> str:
    """``value [lo, hi]`` of a metric entry."""
    if entry["value"] is None:
        return "n/a"
    ci = entry.get("ci68")
    return f"{entry['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def table_markdown(results: list[dict[str, Any]]) -> str:
    """The results as Markdown, one table per test set (68 % intervals in brackets; AUC per non-lens kind)."""
    tables = []
    for test in dict.fromkeys(r["test"] for r in results):
        rows = [r for r in results if r["test"] == test]
        kinds = sorted({k for r in rows for k in r["kinds"]})
        head = ["train → test", "AUC", "TPR @ FPR 1e-2", "TPR @ FPR 1e-3", *[f"AUC vs {k}" for k in kinds]]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            o = r["overall"]
            cells = [f"{r['run']} → {r['test']}", fmt(o["auc"]), fmt(o["tpr@1e-02"]), fmt(o["tpr@1e-03"])]
            cells += [f"{r['kinds'][k]['value']:.3f}" if r["kinds"].get(k, {}).get("value") is not None else "–" for k in kinds]
            lines.append("| " + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["ours", "slsim"], help="DATA[/MOD] (see above)")
    parser.add_argument("--tests", nargs="+", default=list(TESTS), choices=TESTS)
    parser.add_argument("--n-train", type=int, default=4000, help="training objects per run (half lenses)")
    parser.add_argument("--n-test", type=int, default=2000, help="objects of each simulated test set")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "cpu_default.yaml")
    for name, value in AUG_STRENGTHS.items():
        parser.add_argument(f"--aug-{name}", type=float, default=value, help=f"strength in the ours/aug_{name} run")
    parser.add_argument("--min-arc-snr", type=float, default=20.0,
                        help="the injections' detectability cut (InjectConfig.min_arc_snr; its default 20)")
    parser.add_argument("--ours-train", type=Path, default=None, help="existing our-engine training folder (challenge layout)")
    parser.add_argument("--slsim-train", type=Path, default=None, help="existing SLSim-engine training folder (challenge layout)")
    parser.add_argument("--slsim-test", type=Path, default=None, help="existing SLSim-engine blind folder (test layout)")
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes for simulate/inject/pack")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for training (default: torch's)")
    parser.add_argument("--work", type=Path, default=REPO / "experiments" / "_work" / "cross_simulator")
    parser.add_argument("--results", default="results", help="name of this invocation's table in WORK")
    parser.add_argument("--quick", action="store_true", help="tiny draws and 1 epoch (the test suite; numbers mean nothing)")
    args = parser.parse_args(argv)
    for name in args.runs:
        parse_run(name)
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.n_bootstrap = 32, 16, 1, 10
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if hasattr(os, "nice") and not args.quick:
        os.nice(5)
    args.work.mkdir(parents=True, exist_ok=True)
    log(args.work, f"cross_simulator {' '.join(argv if argv is not None else sys.argv[1:])}")
    results = []
    for name in args.runs:
        for test in args.tests:
            results.append(evaluate(name, test, args))
            log(args.work, f"{name} → {test}: AUC {fmt(results[-1]['overall']['auc'])}, "
                           f"TPR@1e-2 {fmt(results[-1]['overall']['tpr@1e-02'])}")
    text = table_markdown(results)
    print(text)
    (args.work / f"{args.results}.md").write_text(text + "\n")
    (args.work / f"{args.results}.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                                 "results": results}, indent=2))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
