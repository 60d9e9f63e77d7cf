"""Issue 15, phase 1: what a multi-task compact net (lens logit + Gaussian lens parameters) reaches.

Usage (the run reported in the README; ``--tag`` names the output folder):

    python experiments/regression_baseline.py --tag e20_b05          # 20 epochs, β = 0.5 (the defaults)
    python experiments/regression_baseline.py --tag e10_b00 --epochs 10 --beta 0 --modes multitask   # β ablation
    python experiments/regression_baseline.py --tag e20_b05 --evaluate-only [--from-predictions]      # re-score

Steps, all seeded and rerunnable (simulations and stores are reused when their settings match):

1. simulate LSST 1-year cutouts with our engine (``simulate_dataset``, both domains, lenses and
   non-lenses): a training set (seed 1000) and a held-out test set (seed 1001), pack both;
2. split the training store 90/10 by label × domain (``stratified_split``), fit the target
   standardisation (:class:`~brahmasifier.models.targets.TargetSet`) on the 90%;
3. train the default compact backbone twice from the same initialisation and data order:
   ``classification`` (BCE only) and ``multitask`` (BCE + masked β-NLL on all 34 learned
   dimensions), the project's recipe otherwise (AdamW 2e-3, wd 1e-2, 1 warm-up epoch then
   cosine, batch 128, D4 augmentation — targets transformed with the images);
4. score validation and test with 8-view D4 test-time augmentation (views un-transformed and
   combined with the ensemble rule), fit a per-dimension σ recalibration on validation;
5. report on the test set: θ_E bias and 16–84% range for θ_E ≥ 0.5″, NMAD of zlens and vel_disp,
   68/95% coverage of every parameter (raw and recalibrated), the full per-parameter metrics
   (``evaluation.regression``), and AUC / TPR at FPR 1e-2, 1e-3 of both models.

Outputs in ``--work`` (default ``experiments/_work/regression``): ``<tag>/results.json`` (every
metric, per-epoch logs, the σ factors), plots, each model's weights (safetensors), the fitted and
recalibrated target spec (``targets.json``) and the multitask predictions (``predictions.npz``).
One training run of 20 epochs on 10.8k images took 18–19 min on the shared 2-core machine
(6 min of it for 10 epochs when the machine was quiet); simulating and packing the 15k objects ~7 min.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brahmasifier.data.split import stratified_split
from brahmasifier.data.transforms import D4_SIZE, d4_apply, random_d4
from brahmasifier.evaluation.bootstrap import MetricSettings, metrics_for_subset
from brahmasifier.evaluation.regression import coverage_curve, regression_metrics
from brahmasifier.evaluation.regression_plots import (
    plot_binned_errors,
    plot_coverage,
    plot_predicted_vs_true,
)
from brahmasifier.inference.gaussian_ensemble import combine_gaussians
from brahmasifier.io import pack_fits
from brahmasifier.models import build_model, preset_card
from brahmasifier.models.recalibration import recalibrate, standardized_residuals
from brahmasifier.models.regression import MultiTaskLensModel, RegressionHead
from brahmasifier.models.target_decode import decode
from brahmasifier.models.targets import TargetSet, default_target_set
from brahmasifier.training.losses import multitask_loss
from brahmasifier.training.task import lr_factor

MODES = ("multitask", "classification")


def prepare_data(work: Path, n_train: int, n_test: int, workers: int) -> tuple[Any, Any]:
    """Simulate (or reuse) and pack the training and test sets; returns the two stores."""
    from brahmasifier.simulation import simulate_dataset

    stores = []
    for name, n, seed in (("train", n_train, 1000), ("test", n_test, 1001)):
        sim = work / f"{name}_{n}"
        store = work / f"{name}_{n}_store"
        t0 = time.perf_counter()
        simulate_dataset(sim, n_per_class=n, seed=seed, layout="challenge", workers=workers, progress=False)
        stores.append(pack_fits(sim, store, workers=1, progress=False))
        print(f"[data] {name}: {len(stores[-1])} objects ({time.perf_counter() - t0:.0f}s)", flush=True)
    return stores[0], stores[1]


def d4_tables(spec: TargetSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Per D4 element the signed permutation of the standardised targets: (8, D) perm, (8, D) sign."""
    actions = [spec.d4_action(e) for e in range(D4_SIZE)]
    return (torch.tensor(np.stack([a[0] for a in actions]), dtype=torch.long),
            torch.tensor(np.stack([a[1] for a in actions]), dtype=torch.float32))


def build(mode: str, spec: TargetSet, seed: int, hidden: int) -> torch.nn.Module:
    """The compact classifier (same initialisation in both modes), with a regression head in ``multitask``."""
    torch.manual_seed(seed)
    classifier = build_model(preset_card("compact"))
    if mode == "classification":
        return classifier
    torch.manual_seed(seed + 1)
    return MultiTaskLensModel(classifier, RegressionHead(classifier.num_features, spec.n_dims, hidden=hidden))


def train_one(mode: str, images: np.ndarray, labels: np.ndarray, targets: np.ndarray, mask: np.ndarray,
              val: tuple[np.ndarray, np.ndarray], spec: TargetSet,
              args: argparse.Namespace) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Train ``mode`` with the project's recipe; returns the model (last epoch) and the per-epoch log."""
    from sklearn.metrics import roc_auc_score

    model = build(mode, spec, args.seed, args.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    n = len(images)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, steps_per_epoch))
    perm_t, sign_t = d4_tables(spec)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels.astype(np.float32))
    t_all, m_all = torch.from_numpy(targets), torch.from_numpy(mask)
    gen = torch.Generator().manual_seed(args.seed)
    log = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        order = np.random.default_rng([args.seed, epoch]).permutation(n)
        sums = {"loss": 0.0, "bce": 0.0, "nll": 0.0}
        for step in range(steps_per_epoch):
            rows = torch.from_numpy(order[step * args.batch_size : (step + 1) * args.batch_size])
            x, elements = random_d4(x_all[rows], gen)
            y = y_all[rows]
            if mode == "multitask":
                t = torch.gather(t_all[rows], 1, perm_t[elements]) * sign_t[elements]
                m = torch.gather(m_all[rows], 1, perm_t[elements])
                logits, mean, log_var = model(x)
                loss, parts = multitask_loss(logits, y, mean, log_var, t, m, weight=args.nll_weight, beta=args.beta)
            else:
                logits = model(x)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
                parts = {"bce": loss.detach(), "nll": torch.tensor(0.0)}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            sums["loss"] += float(loss.detach()) / steps_per_epoch
            sums["bce"] += float(parts["bce"]) / steps_per_epoch
            sums["nll"] += float(parts["nll"]) / steps_per_epoch
        logits_val = predict(model, val[0], tta=False)[0]
        entry = {"epoch": epoch + 1, **sums, "val_auc": float(roc_auc_score(val[1], logits_val)),
                 "seconds": time.perf_counter() - t0}
        log.append(entry)
        shown = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items())
        print(f"[{mode}] {shown}", flush=True)
    return model, log


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, tta: bool, spec: TargetSet | None = None,
            batch: int = 256) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Logits (mean over views) and, for a multi-task model, the view-combined means and variances."""
    model.eval()
    views = range(D4_SIZE) if tta else range(1)
    logits, means, variances = [], [], []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start : start + batch])
        v_logit, v_mean, v_var = [], [], []
        for e in views:
            out = model(d4_apply(x, e))
            if isinstance(out, tuple):
                lg, mu, lv = out
                assert spec is not None or not tta
                mu_np, var_np = mu.numpy().astype(np.float64), np.exp(lv.numpy().astype(np.float64))
                if spec is not None:
                    mu_np = spec.d4_apply_targets(mu_np, e, inverse=True)
                    var_np = spec.d4_apply_targets(var_np, e, inverse=True, variance=True)
                v_mean.append(mu_np)
                v_var.append(var_np)
            else:
                lg = out
            v_logit.append(lg.numpy().astype(np.float64))
        logits.append(np.mean(v_logit, axis=0))
        if v_mean:
            mu_c, var_c = combine_gaussians(np.stack(v_mean), np.stack(v_var))
            means.append(mu_c)
            variances.append(var_c)
    if not means:
        return np.concatenate(logits), None, None
    return np.concatenate(logits), np.concatenate(means), np.concatenate(variances)


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """AUC and TPR at FPR 1e-2 / 1e-3 (point + 68% bootstrap interval), from the project's metrics."""
    probs = 1.0 / (1.0 + np.exp(-logits))
    m = metrics_for_subset(logits, probs, labels, MetricSettings(fprs=(1e-2, 1e-3)), n_bootstrap=200,
                           rng=np.random.default_rng(0))["metrics"]
    return {k: {"value": m[k]["value"], "ci68": m[k]["ci68"]} for k in ("auc_roc", "tpr_at_fpr_1e-02", "tpr_at_fpr_1e-03")}


def regression_report(spec: TargetSet, mean: np.ndarray, var: np.ndarray, index: Any, out: Path, tag: str) -> dict[str, Any]:
    """Metrics of every output column on the test set (+ plots); headline numbers for the issue's targets."""
    labels = index["label"].to_numpy()
    dec = decode(spec, mean, var)
    truth = spec.canonical_truth(index, labels)
    kinds = {c: k for t in spec.targets for c, k in zip(t.columns, t.errors, strict=True)}
    by = index[["Rein", "sim_arc_snr"]].astype(float).copy()
    by.loc[labels != 1, :] = np.nan
    period = 180.0 if spec.conventions.angle_unit == "deg" else math.pi
    metrics = regression_metrics(dec.values, truth, kinds, dec.minus, dec.plus, index["domain"].to_numpy(), by, period=period)
    big = (truth["Rein"] >= 0.5).to_numpy()
    err = (dec.values["Rein"] - truth["Rein"]).to_numpy()[big]
    z_rel = ((dec.values["zlens"] - truth["zlens"]) / truth["zlens"]).to_numpy()
    headline = {
        "n_test_lenses": int((labels == 1).sum()), "n_lenses_rein_ge_0.5": int(big.sum()),
        "rein_ge_0.5_bias": float(np.median(err)), "rein_ge_0.5_p16": float(np.percentile(err, 16)),
        "rein_ge_0.5_p84": float(np.percentile(err, 84)),
        "zlens_nmad_dz_over_1pz": metrics["zlens"]["all"]["nmad"],
        "zlens_nmad_dz_over_z": float(1.4826 * np.nanmedian(np.abs(z_rel - np.nanmedian(z_rel)))),
        "vel_disp_nmad_relative": metrics["vel_disp"]["all"]["nmad"],
        "coverage_68": {c: metrics[c]["all"]["coverage_68"] for c in metrics},
        "coverage_95": {c: metrics[c]["all"]["coverage_95"] for c in metrics},
    }
    cov = np.array(list(headline["coverage_68"].values()), dtype=float)
    headline["n_columns_coverage_68_in_0.63_0.73"] = f"{int(np.sum((cov >= 0.63) & (cov <= 0.73)))}/{cov.size}"
    residuals = standardized_residuals(spec, index, labels, mean, var)
    names = [n.replace(":c1", ":along").replace(":c2", ":across") for n in spec.dim_names]  # pairs: frame residuals
    curves = {name: coverage_curve(residuals[:, d]) for d, name in enumerate(names)}
    out.mkdir(parents=True, exist_ok=True)
    plot_coverage(curves, out / f"coverage_{tag}.png")
    plot_predicted_vs_true(dec.values, truth, spec.output_columns, out / f"pred_vs_true_{tag}.png", index["domain"].to_numpy())
    plot_predicted_vs_true(dec.values, truth, ["Rein", "zlens", "vel_disp"], out / f"headline_pred_vs_true_{tag}.png",
                           index["domain"].to_numpy(), n_cols=3)
    plot_binned_errors({"Rein (″)": metrics["Rein"]["by_Rein"]}, out / f"rein_error_vs_rein_{tag}.png", "true θ_E (″)")
    plot_binned_errors({"Rein (″)": metrics["Rein"]["by_sim_arc_snr"]}, out / f"rein_error_vs_snr_{tag}.png", "arc S/N")
    return {"headline": headline, "metrics": metrics}


def score_regression(spec: TargetSet, val_index: Any, val_labels: np.ndarray, mean_val: np.ndarray, var_val: np.ndarray,
                     mean_test: np.ndarray, var_test: np.ndarray, test_index: Any, out: Path) -> dict[str, Any]:
    """Recalibrate on validation (saved as ``targets.json``), then the test metrics before and after."""
    calibrated = recalibrate(spec, val_index, val_labels, mean_val, var_val)
    (out / "targets.json").write_text(json.dumps(calibrated.to_dict(), indent=1))
    return {"sigma_scale": dict(zip(spec.dim_names, map(float, calibrated.sigma_scale), strict=True)),
            "test_regression_raw": regression_report(spec, mean_test, var_test, test_index, out, "raw"),
            "test_regression_recalibrated": regression_report(calibrated, mean_test, var_test, test_index, out,
                                                              "recalibrated")}


def main() -> int:
    """Run the experiment (see module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "_work" / "regression")
    parser.add_argument("--tag", default="baseline")
    parser.add_argument("--n-train-per-class", type=int, default=3000, help="per class and domain (×4 objects)")
    parser.add_argument("--n-test-per-class", type=int, default=750)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--beta", type=float, default=0.5, help="β of β-NLL (0: plain Gaussian NLL)")
    parser.add_argument("--nll-weight", type=float, default=1.0)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--no-tta", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true", help="score the weights saved in --work/--tag; no training")
    parser.add_argument("--from-predictions", action="store_true",
                        help="with --evaluate-only: re-score the saved multitask predictions (recalibration, metrics) "
                             "without running the model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sim-workers", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.work / args.tag
    out.mkdir(parents=True, exist_ok=True)
    train_store, test_store = prepare_data(args.work, args.n_train_per_class, args.n_test_per_class, args.sim_workers)
    index = train_store.index
    labels = index["label"].to_numpy()
    tr, va = stratified_split(labels, index["domain"].to_numpy(), 0.1, args.seed)
    spec = default_target_set().fit(index.iloc[tr], labels[tr])
    images = train_store.read(np.arange(len(train_store)))
    test_images = test_store.read(np.arange(len(test_store)))
    test_index, test_labels = test_store.index, test_store.index["label"].to_numpy()
    targets, mask = spec.encode(index, labels)
    previous = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() and args.evaluate_only else {}
    args.from_predictions = args.from_predictions and args.evaluate_only
    command = " ".join(["python", *sys.argv])
    results: dict[str, Any] = {**previous, "n_train": len(tr), "n_val": len(va), "n_test": len(test_store)}
    if not args.evaluate_only:
        results.update(command=command, args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    results["last_command"] = command
    for mode in args.modes:
        from safetensors.torch import load_file, save_file

        t0 = time.perf_counter()
        saved = out / "predictions.npz"
        if args.from_predictions and mode == "multitask" and saved.is_file():  # re-score saved predictions: no model run
            data = np.load(saved)
            results[mode] = dict(previous.get(mode, {})) | score_regression(
                spec, index.iloc[va], labels[va], data["mean_val"], data["var_val"], data["mean_test"], data["var_test"],
                test_index, out)
            (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
            continue
        if args.evaluate_only:  # re-score saved weights (e.g. after a change of the decoding or the metrics)
            model = build(mode, spec, args.seed, args.hidden)
            model.load_state_dict(load_file(str(out / f"{mode}.safetensors")))
            log, seconds = previous.get(mode, {}).get("log", []), previous.get(mode, {}).get("train_seconds", float("nan"))
        else:
            model, log = train_one(mode, images[tr], labels[tr], targets[tr], mask[tr], (images[va], labels[va]), spec, args)
            seconds = time.perf_counter() - t0
            save_file(model.state_dict(), str(out / f"{mode}.safetensors"))
        tta = not args.no_tta
        logit_test, mean_test, var_test = predict(model, test_images, tta, spec)
        entry: dict[str, Any] = {"train_seconds": seconds, "log": log,
                                 "test_classification": classification_metrics(logit_test, test_labels)}
        if mode == "multitask":
            assert mean_test is not None and var_test is not None
            _, mean_val, var_val = predict(model, images[va], tta, spec)
            assert mean_val is not None and var_val is not None
            np.savez(out / "predictions.npz", val_rows=va, mean_val=mean_val, var_val=var_val, mean_test=mean_test,
                     var_test=var_test, logit_test=logit_test)  # for offline analysis of the same model
            entry |= score_regression(spec, index.iloc[va], labels[va], mean_val, var_val, mean_test, var_test, test_index, out)
        results[mode] = entry
        (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    print(json.dumps({m: results[m]["test_classification"] for m in args.modes}, indent=1))
    for key in ("test_regression_raw", "test_regression_recalibrated"):
        if "multitask" in results:
            print(key, json.dumps(results["multitask"][key]["headline"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
