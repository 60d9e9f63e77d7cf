r"""Data-shift measurements: ``check`` on shifted copies of a clean set, and the DANN adaptation table.

Shifted sets (made here from a clean store, each object changed with a seeded generator;
scipy.ndimage; not part of the package API):

- ``masked``: a chip edge, one random side of the stamp filled with 0 over 6–12 px, all bands;
- ``rotated``: each object rotated by 10–80° (bilinear), the corners outside the footprint filled with 0;
- ``misregistered``: the g, i, z, y bands shifted against r by 0.7–1.5 px in a random direction
  (Fourier shift: the noise stays white);
- ``noise2x``: white noise added so the sky σ doubles;
- ``psf``: every band blurred by a Gaussian of σ = 1 px, white noise added back to the original σ;
- ``slsim``: the SLSim engine's test set as it is (another simulator).

Usage::

    python experiments/data_shift.py sets --clean /work/data/ours_test_store --work experiments/_work/shift
    python experiments/data_shift.py check --model RUN --work experiments/_work/shift \\
        --clean /work/data/ours_test_store --slsim /work/data/slsim_test_store --train-store /work/data/ours_train_store
    python experiments/data_shift.py adapt --runs base=RUN1 dann=RUN2 oracle=RUN3 \\
        --tests ours=/work/data/ours_test_store slsim=/work/data/slsim_test_store --out experiments/_work/adapt.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.binary_metrics import RankedScores, auc, tpr_at_false_positives
from brahmasifier.io.store import open_store, write_store
from brahmasifier.sky import sky_stats

KINDS = ("masked", "rotated", "misregistered", "noise2x", "psf")


def shift_images(kind: str, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    out = images.astype(np.float32).copy()
    k, _, h, w = out.shape
    if kind == "masked":
        for n in range(k):
            width, side = int(rng.integers(6, 13)), int(rng.integers(4))
            sl = [(slice(None), slice(0, width)), (slice(None), slice(w - width, w)),
                  (slice(0, width), slice(None)), (slice(h - width, h), slice(None))][side]
            out[n][(slice(None), *sl)] = 0.0
    elif kind == "rotated":
        for n in range(k):
            out[n] = ndimage.rotate(out[n], float(rng.uniform(10, 80)), axes=(1, 2), reshape=False, order=1,
                                    mode="constant", cval=0.0)
    elif kind == "misregistered":
        for n in range(k):
            for b in (0, 2, 3, 4):
                r, phi = rng.uniform(0.7, 1.5), rng.uniform(0, 2 * np.pi)
                spec = ndimage.fourier_shift(np.fft.fft2(out[n, b].astype(np.float64)), (r * np.sin(phi), r * np.cos(phi)))
                out[n, b] = np.fft.ifft2(spec).real.astype(np.float32)
    elif kind == "noise2x":
        sigma = sky_stats(out.astype(np.float64))[1]
        out += (rng.normal(size=out.shape) * np.sqrt(3.0) * sigma[..., None, None]).astype(np.float32)
    elif kind == "psf":
        sigma0 = sky_stats(out.astype(np.float64))[1]
        out = ndimage.gaussian_filter(out, sigma=(0, 0, 1.0, 1.0), mode="nearest")
        sigma1 = sky_stats(out.astype(np.float64))[1]
        add = np.sqrt(np.clip(sigma0**2 - sigma1**2, 0, None))
        out += (rng.normal(size=out.shape) * add[..., None, None]).astype(np.float32)
    else:
        raise ValueError(kind)
    return out


def make_sets(args: argparse.Namespace) -> None:
    store = open_store(args.clean)
    images = store.read(np.arange(len(store)))
    for j, kind in enumerate(KINDS):
        path = args.work / "sets" / kind
        if (path / "manifest.json").exists():
            continue
        t = time.time()
        shifted = shift_images(kind, images, np.random.default_rng(args.seed + j))
        write_store(path, shifted, store.index.copy())
        print(f"{kind}: {len(shifted)} objects in {time.time() - t:.0f} s -> {path}", flush=True)


def run_check(args: argparse.Namespace) -> None:
    from brahmasifier.shift.check import check_data

    sets = {"clean": args.clean, **{k: str(args.work / "sets" / k) for k in KINDS}}
    if args.slsim:
        sets["slsim"] = args.slsim
    results: dict[str, dict] = {}
    clean_scores = None
    for name, data in sets.items():
        out = args.work / f"check_{args.tag}_{name}"
        t = time.time()
        r = check_data(data, out, model=args.model, progress=False, seed=args.seed)
        table = pd.read_csv(out / "check_scores.csv")
        scores = table[["ood_score", "pixel_score", "misalign", "masked"]].fillna(0.0).to_numpy()
        if name == "clean":
            clean_scores = scores
        row = {"verdict": r.verdict, "n": r.n_objects, "seconds": round(time.time() - t, 1),
               "flagged": [f.statistic for f in r.findings if f.flagged],
               "median_ood": float(np.median(scores[:, 0])), "tail_beyond_p99": next(
                   (f.new for f in r.findings if f.statistic == "embedding"), None),
               "max_ks_unflagged": max((f.distance or 0.0) for f in r.findings if not f.flagged and f.distance_kind == "KS")}
        if name != "clean" and clean_scores is not None:
            is_shifted = np.r_[np.ones(len(scores)), np.zeros(len(clean_scores))]
            for j, what in enumerate(("ood_auc", "pixel_auc", "misalign_auc", "masked_auc")):
                row[what] = auc(*RankedScores(np.r_[scores[:, j], clean_scores[:, j]], is_shifted).counts())
        results[name] = row
        print(f"{name:14s} AUC embedding {row.get('ood_auc', float('nan')):.3f} pixel {row.get('pixel_auc', float('nan')):.3f}"
              f"  {r.verdict}", flush=True)
    if args.train_store:
        r = check_data(args.clean, args.work / f"check_{args.tag}_clean_vs_store", against=args.train_store,
                       progress=False, seed=args.seed)
        results["clean_vs_train_store"] = {"verdict": r.verdict, "findings": [
            {"statistic": f.statistic, "distance": f.distance, "effect": f.effect} for f in r.findings]}
        print(f"clean vs training store: {r.verdict}", flush=True)
    (args.work / f"check_{args.tag}.json").write_text(json.dumps(results, indent=1))


def run_adapt(args: argparse.Namespace) -> None:
    import torch

    from brahmasifier.models.io import load_model
    from brahmasifier.training.export import predict_logits

    torch.set_num_threads(args.threads)
    tests = dict(t.split("=", 1) for t in args.tests)
    table: dict[str, dict] = {}
    logits_by: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for spec in args.runs:
        name, run = spec.split("=", 1)
        model, _ = load_model(run)
        table[name] = {"run": run}
        for tname, path in tests.items():
            store = open_store(path)
            labels = store.index["label"].to_numpy()
            rows = np.nonzero(labels >= 0)[0]
            logits = predict_logits(model, store, rows, batch_size=256)
            ranked = RankedScores(logits, labels[rows])
            tp, fp = ranked.counts()
            n_neg = int((labels[rows] == 0).sum())
            table[name][tname] = {"auc": auc(tp, fp), "tpr_at_fpr_1e-2": tpr_at_false_positives(tp, fp, 0.01 * n_neg),
                                  "n": int(rows.size)}
            print(f"{name:10s} {tname:8s} AUC {table[name][tname]['auc']:.4f}  "
                  f"TPR@FPR1e-2 {table[name][tname]['tpr_at_fpr_1e-2']:.3f}", flush=True)
            logits_by[(name, tname)] = (logits, labels[rows])
    # paired bootstrap of each run's TPR@FPR1e-2 minus the first run's (objects resampled together)
    first = args.runs[0].split("=", 1)[0]
    rng = np.random.default_rng(args.seed)
    for tname in tests:
        base_logits, y = logits_by[(first, tname)]
        draws = [rng.integers(0, y.size, y.size) for _ in range(args.bootstrap)]
        for spec in args.runs[1:]:
            name = spec.split("=", 1)[0]
            other = logits_by[(name, tname)][0]
            diffs = []
            for idx in draws:
                vals = []
                for lg in (other, base_logits):
                    tp, fp = RankedScores(lg[idx], y[idx]).counts()
                    vals.append(tpr_at_false_positives(tp, fp, 0.01 * int((y[idx] == 0).sum())))
                diffs.append(vals[0] - vals[1])
            lo, hi = np.percentile(diffs, [16, 84])
            table[name][tname][f"tpr_diff_vs_{first}_68"] = [float(lo), float(hi)]
            print(f"{name:10s} {tname:8s} TPR@FPR1e-2 - {first}: 68% interval [{lo:+.3f}, {hi:+.3f}]", flush=True)
    Path(args.out).write_text(json.dumps(table, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("sets")
    p.add_argument("--clean", required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=make_sets)
    p = sub.add_parser("check")
    p.add_argument("--model", required=True)
    p.add_argument("--clean", required=True)
    p.add_argument("--slsim", default=None)
    p.add_argument("--train-store", default=None)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--tag", default="m1")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_check)
    p = sub.add_parser("adapt")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--tests", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_adapt)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
