"""Fit the misregistration detector (:mod:`brahmasifier.survey.evidence`) on perturbed stores.

Run: ``python experiments/fit_registration_detector.py --clean STORE [STORE ...] --misregistered STORE [STORE ...]
[--out FILE] [--seed S] [--epochs N] [--quantile Q] [--no-faint-negatives]``

Clean stores (``brahmasifier perturb`` without ``--misregister-fraction``: as simulated,
rotated footprints, masks, correlated noise) are the negatives, each also as a faint copy
(:func:`faint_copy`: every object's signal scaled by ``U(0, 1)``, the noise kept; without them the
network flagged 2.4–2.9% of cutouts of noise alone, with them 0.2%); misregistered stores
(``--misregister-fraction 1``) give the positives, their objects whose bands span at least 10°
(``pert_max_band_angle``). Each object's features are :func:`brahmasifier.survey.evidence.features`
of the registration estimate exactly as ``predict`` makes it (the rule's flag, so the fit
never reads the detector it replaces). The network (22 → 32 → 32 → 1, ReLU) is fitted with
binary cross-entropy and AdamW, every random draw from one ``torch.Generator(seed)``; the
threshold is the largest, over the clean stores and their faint copies one by one, of the ``Q``
quantile of their logits (0.993: ≤ 0.7% false flags on each training set, a margin for data the
fit never saw).
The file (numpy arrays in safetensors, no pickle) carries the threshold, the feature names, the
stores and this command in its metadata and is written atomically. ``docs/survey-pixels.md`` §3,
"A detector fitted to the estimate's numbers", gives the stores and the command that made the
shipped file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save

from brahmasifier._atomic import write_bytes_atomic
from brahmasifier.io.store import open_store
from brahmasifier.pixels import fill_mask, zeroed_bad_mask
from brahmasifier.survey.evidence import FEATURE_NAMES, FILE, N_FEATURES, Detector, features
from brahmasifier.survey.registration import MIN_ANGLE, MIN_SCORE, estimate_band_angles

MIN_SPAN = 10.0


def faint_copy(images: np.ndarray, invalid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each object's signal times ``f ~ U(0, 1)``, white noise added back to its bands' noise level.

    Per band the level (median) and noise (1.4826 × MAD) of its valid pixels; the signal above
    the level is scaled by the object's ``f`` and ``N(0, σ² (1 − f²))`` added, so the noise stays
    what it was. Invalid pixels (filled corners, NaN) are left as they are, so the checks still
    see them. ``f`` near 0 is a cutout of noise alone: nothing to register.
    """
    out = np.array(images, dtype=np.float32, copy=True)
    scale = rng.uniform(0.0, 1.0, size=len(images)).astype(np.float32)[:, None, None, None]
    valid = ~invalid & np.isfinite(out)
    values = np.where(valid, out, np.nan)
    level = np.nanmedian(values, axis=(2, 3), keepdims=True)
    sigma = 1.4826 * np.nanmedian(np.abs(values - level), axis=(2, 3), keepdims=True)
    noise = rng.standard_normal(out.shape, dtype=np.float32) * sigma * np.sqrt(1.0 - scale**2)
    return np.where(valid, level + scale * (out - level) + noise, out).astype(np.float32)


def store_features(path: str, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every object's features and its span of band angles (0 where the store has no truth); ``rng``: of a faint copy."""
    store = open_store(path)
    parts = []
    for start in range(0, len(store), 512):
        batch = store.read_batch(np.arange(start, min(start + 512, len(store))))
        invalid = fill_mask(batch.images) | zeroed_bad_mask(batch.images, batch.n_nan)
        images = batch.images if rng is None else faint_copy(batch.images, invalid, rng)
        parts.append(features(estimate_band_angles(images, invalid, min_score=MIN_SCORE), MIN_ANGLE))
    index = store.index
    span = index["pert_max_band_angle"].to_numpy(float) if "pert_max_band_angle" in index.columns else np.zeros(len(store))
    return np.concatenate(parts), span


def fit(x: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> dict[str, np.ndarray]:
    """The network's arrays (``mean``, ``scale``, ``w0`` … ``b2``) fitted to ``x``, ``y``."""
    gen = torch.Generator().manual_seed(seed)
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    xt = torch.from_numpy((x - mean) / scale).float()
    yt = torch.from_numpy(y).float()
    layers = [torch.nn.Linear(N_FEATURES, 32), torch.nn.Linear(32, 32), torch.nn.Linear(32, 1)]
    for layer in layers:  # PyTorch's default initialisation, drawn from our generator
        torch.nn.init.kaiming_uniform_(layer.weight, a=5**0.5, generator=gen)
        bound = 1.0 / layer.weight.shape[1] ** 0.5
        torch.nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    net = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(order), 256):
            chosen = order[start:start + 256]
            optimiser.zero_grad()
            loss = loss_fn(net(xt[chosen])[:, 0], yt[chosen])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(chosen)
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1}: loss {total / len(order):.4f}", flush=True)
    arrays = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}
    for j, layer in enumerate(layers):
        arrays[f"w{j}"] = layer.weight.detach().numpy().T.copy()
        arrays[f"b{j}"] = layer.bias.detach().numpy().copy()
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", nargs="+", required=True)
    parser.add_argument("--misregistered", nargs="+", required=True)
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "src/brahmasifier/survey/data" / FILE))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quantile", type=float, default=0.993)
    parser.add_argument("--faint-negatives", action=argparse.BooleanOptionalAction, default=True,
                        help="also a copy of every clean store with each object's signal scaled by U(0, 1), as negatives "
                             "(without: 2.4-2.9%% of pure-noise cutouts flagged; with: 0.2%%)")
    args = parser.parse_args()
    clean = {path: store_features(path)[0] for path in args.clean}
    faint_rng = np.random.default_rng(args.seed)
    for path in args.clean if args.faint_negatives else []:  # a faint copy of every clean store
        clean[f"{path} (faint)"] = store_features(path, faint_rng)[0]
    positives = []
    for path in args.misregistered:
        x, span = store_features(path)
        positives.append(x[span >= MIN_SPAN])
        print(f"{path}: {int((span >= MIN_SPAN).sum())} of {len(span)} objects span >= {MIN_SPAN:g} deg", flush=True)
    x = np.concatenate([*clean.values(), *positives])
    y = np.concatenate([np.zeros(sum(len(v) for v in clean.values())), np.ones(sum(len(v) for v in positives))])
    arrays = fit(x, y, args.seed, args.epochs)
    net = Detector(arrays, {"threshold": "0"})
    logits = {path: net.logit(v) for path, v in clean.items()}
    threshold = max(float(np.quantile(v, args.quantile)) for v in logits.values())
    flagged = {Path(p).name: round(float((v >= threshold).mean()), 4) for p, v in logits.items()}
    found = float((net.logit(np.concatenate(positives)) >= threshold).mean())
    metadata = {"threshold": repr(threshold), "quantile": repr(args.quantile), "features": json.dumps(list(FEATURE_NAMES)),
                "clean": json.dumps(flagged), "misregistered": json.dumps([Path(p).name for p in args.misregistered]),
                "found_in_training": f"{found:.4f}", "seed": str(args.seed), "epochs": str(args.epochs),
                "faint_negatives": str(args.faint_negatives),
                "fitted_by": shlex.join(["python", "experiments/fit_registration_detector.py", *sys.argv[1:]]),
                "torch": torch.__version__}
    write_bytes_atomic(args.out, save(arrays, metadata=metadata))
    print(f"threshold {threshold:.4f}; training clean sets flagged {flagged}; misregistered found {found:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
