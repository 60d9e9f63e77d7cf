"""End of a run: score the validation split with the best checkpoint, calibrate, choose the threshold.

The validation split is scored twice: as trained (one view, the logits each epoch's log
measured: ``val_auc`` and the accuracy at 0.5 match that log) and with ``predict``'s default
test-time augmentation (:data:`RECALIBRATION_TTA`, ``flips``). The temperature and the
threshold are fitted on the view-averaged logits, the ones they are applied to at prediction
time (before, they were fitted on single-view logits and applied to TTA logits); the metrics at
the threshold and ``val_auc_tta`` come from them. ``val_predictions.csv`` has both (``logit``,
``logit_tta``); the card records the views in ``training.calibration_tta``.

A multi-task model (card with ``regression``) is also recalibrated here: its parameter
Gaussians on the validation split, with ``predict``'s default test-time augmentation
(:data:`RECALIBRATION_TTA`, so the views' spread is part of what is calibrated), give the σ
factors of :func:`brahmasifier.models.recalibration.recalibrate`, stored in the card's target
spec; ``metrics.json`` gets ``regression`` (68% coverage per column on validation, before and
after, and the factors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from brahmasifier._atomic import atomic_path, write_json_atomic
from brahmasifier.binary_metrics import validation_metrics, youden_threshold
from brahmasifier.io.store import CutoutStore
from brahmasifier.models.card import ModelCard
from brahmasifier.models.io import load_state_into, save_model
from brahmasifier.models.regression import build_network
from brahmasifier.models.temperature import apply_temperature, fit_temperature

__all__ = ["RECALIBRATION_TTA", "choose_threshold", "finalize_run", "fit_temperature_or_none", "predict_logits",
           "predict_parameters", "recalibrate_card"]

#: Test-time augmentation the temperature, threshold and σ recalibration are fitted with (``predict``'s default).
RECALIBRATION_TTA = "flips"

#: What the end of a run reports at a threshold (``validation_metrics`` without the AUC).
_AT_THRESHOLD = ("accuracy", "precision", "recall")


@torch.no_grad()
def predict_logits(model: torch.nn.Module, store: CutoutStore, rows: np.ndarray, batch_size: int = 512,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """Logits of ``model`` (eval mode) for store ``rows``, in that order (read with the store's one reader)."""
    model = model.eval().to(device)
    out = []
    for start in range(0, len(rows), batch_size):
        x = torch.from_numpy(store.read_batch(rows[start : start + batch_size]).images).to(device)
        logits = model(x)
        out.append((logits[0] if isinstance(logits, tuple) else logits).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.float32)


@torch.no_grad()
def predict_parameters(model: torch.nn.Module, spec: Any, store: CutoutStore, rows: np.ndarray, tta: str = RECALIBRATION_TTA,
                       batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """A multi-task model's view-combined standardised means and variances ``(N, D)`` for store ``rows``."""
    from brahmasifier.inference.tta import TTAModel

    net = TTAModel(model.eval(), tta)
    means, variances = [], []
    for start in range(0, len(rows), batch_size):
        x = torch.from_numpy(store.read_batch(rows[start : start + batch_size]).images)
        _, mu, var = net.with_parameters(x, spec)
        means.append(mu)
        variances.append(var)
    empty = np.empty((0, spec.n_dims))
    return (np.concatenate(means) if means else empty), (np.concatenate(variances) if variances else empty)


def recalibrate_card(model: torch.nn.Module, card: ModelCard, store: CutoutStore, val_rows: np.ndarray,
                     batch_size: int = 512) -> dict[str, Any]:
    """Fit the σ and interval factors on validation into ``card.regression``; returns the ``regression`` metrics block.

    The card's spec is the start (a fresh run's: factors 1); ``experiments/refit_recalibration.py``
    refits a saved model's card on its own validation split after resetting them.
    """
    from brahmasifier.evaluation.regression import regression_metrics
    from brahmasifier.models.recalibration import recalibrate
    from brahmasifier.models.target_decode import decode

    spec = card.target_set()
    index = store.index.iloc[val_rows]
    labels = index["label"].to_numpy()
    mean, var = predict_parameters(model, spec, store, val_rows, batch_size=batch_size)
    calibrated = recalibrate(spec, index, labels, mean, var)
    truth = spec.canonical_truth(index, labels)
    kinds = {c: k for t in spec.targets for c, k in zip(t.columns, t.errors, strict=True)}
    coverage = {}
    for name, s in (("before", spec), ("after", calibrated)):
        dec = decode(s, mean, var)
        m = regression_metrics(dec.values, truth, kinds, dec.minus, dec.plus, period=spec.conventions.angle_period)
        coverage[name] = {c: m[c]["all"].get("coverage_68") for c in m}
    assert card.regression is not None
    card.regression = {**card.regression, "targets": calibrated.to_dict(),
                       "recalibration": {"tta": RECALIBRATION_TTA, "n_val": len(val_rows),
                                         "how": "per learned dimension, sigma times the 68.27% quantile of |residual| "
                                                "on the validation split; per e/PA column and level, the decoded "
                                                "half-widths times that level's quantile of |error| / half-width "
                                                "(models/recalibration.py)"}}
    return {"val_coverage_68_before_recalibration": coverage["before"],
            "val_coverage_68_after_recalibration": coverage["after"],
            "sigma_scale": dict(zip(spec.dim_names, map(float, calibrated.sigma_scale), strict=True)),
            "interval_scale": {c: {str(lv): f for lv, f in fs.items()} for c, fs in calibrated.interval_scale.items()},
            "recalibration_tta": RECALIBRATION_TTA}


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """Probability threshold maximising Youden's J = TPR − FPR (= balanced accuracy) on validation."""
    return float(np.clip(youden_threshold(probs, labels), 0.0, 1.0))


def fit_temperature_or_none(logits: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """Temperature from :func:`fit_temperature`; 1.0 (with the reason) where it cannot be fitted."""
    try:
        temperature = fit_temperature(logits.astype(np.float64), labels.astype(np.int64))
        return float(temperature), "fit_temperature on validation logits (BCE)"
    except ValueError as exc:
        return 1.0, f"not fitted ({exc})"


def finalize_run(
    run_dir: Path,
    card: ModelCard,
    checkpoint_state: dict[str, torch.Tensor],
    store: CutoutStore,
    val_rows: np.ndarray,
    training_summary: dict[str, Any],
    batch_size: int = 512,
    train_rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write val predictions, metrics and the exported model; returns the metrics dict (NaN where undefined).

    The card also records the training data's statistics (``data_statistics``, :mod:`brahmasifier.shift`:
    pixels of ``train_rows`` + ``val_rows``, embedding on ``val_rows``), which ``brahmasifier check`` compares with.
    """
    model = build_network(card)
    load_state_into(model, checkpoint_state, training_summary.get("best_checkpoint", "checkpoint"))
    from brahmasifier.inference.tta import TTAModel

    logits = predict_logits(model, store, val_rows, batch_size=batch_size)
    logits_tta = predict_logits(TTAModel(model.eval(), RECALIBRATION_TTA), store, val_rows, batch_size=batch_size)
    index = store.index.iloc[val_rows]
    labels = index["label"].to_numpy().astype(np.int64)
    frame = pd.DataFrame({"id": index["id"].astype(str).to_numpy(), "stem": index["stem"].astype(str).to_numpy(),
                          "label": labels, "domain": index["domain"].astype(str).to_numpy(), "logit": logits,
                          "logit_tta": logits_tta})
    with atomic_path(run_dir / "val_predictions.csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")

    temperature, temperature_how = fit_temperature_or_none(logits_tta, labels)
    probs = apply_temperature(logits_tta, temperature)
    threshold = choose_threshold(probs, labels)
    chosen = validation_metrics(logits_tta, labels, threshold, temperature)
    plain = validation_metrics(logits, labels, 0.5, 1.0)
    metrics: dict[str, Any] = {
        "val_auc": plain["auc"],
        "val_auc_tta": chosen["auc"],
        **{f"val_{k}": chosen[k] for k in _AT_THRESHOLD},
        "threshold": threshold,
        "threshold_method": ("maximises Youden's J (TPR - FPR) on the validation split, "
                             f"on probabilities sigmoid(logit / temperature) of the '{RECALIBRATION_TTA}' TTA logits"),
        "temperature": temperature,
        "temperature_method": temperature_how,
        "calibration_tta": RECALIBRATION_TTA,
        "at_threshold_0.5": {k: plain[k] for k in _AT_THRESHOLD},
        "n_val": len(labels),
        "val_auc_by_domain": {},
    }
    for domain, group in frame.groupby("domain"):
        if group["label"].nunique() == 2:
            by_domain = validation_metrics(group["logit"].to_numpy(), group["label"].to_numpy())
            metrics["val_auc_by_domain"][str(domain)] = by_domain["auc"]
    metrics.update({k: v for k, v in training_summary.items() if k not in metrics})
    if card.regression is not None:
        metrics["regression"] = recalibrate_card(model, card, store, val_rows, batch_size)
    write_json_atomic(run_dir / "metrics.json", metrics)

    card.threshold = threshold
    card.temperature = temperature
    card.training = {**card.training, **training_summary, "val_auc": metrics["val_auc"],
                     "val_accuracy": metrics["val_accuracy"], "val_precision": metrics["val_precision"],
                     "val_recall": metrics["val_recall"], "calibration_tta": RECALIBRATION_TTA}
    from brahmasifier.shift.record import record_training_statistics

    rows = np.empty(0, dtype=np.int64) if train_rows is None else np.asarray(train_rows, dtype=np.int64)
    card.data_statistics = record_training_statistics(
        model, store, rows, val_rows, np.random.default_rng(int(training_summary.get("seed") or 0)))
    save_model(model, card, run_dir / "model")
    return metrics
