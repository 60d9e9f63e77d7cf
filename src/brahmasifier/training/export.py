"""End of a run: score the validation split with the best checkpoint, calibrate, choose the
threshold, write ``metrics.json`` / ``val_predictions.csv`` and export ``RUN/model/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier.evaluation.calibration import apply_temperature, fit_temperature
from brahmasifier.io.store import CutoutStore
from brahmasifier.models import ModelCard, build_model, save_model
from brahmasifier.models.io import load_state_into


@torch.no_grad()
def predict_logits(model: torch.nn.Module, store: CutoutStore, rows: np.ndarray, batch_size: int = 512,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """Logits of ``model`` (eval mode) for store ``rows``, in that order."""
    model = model.eval().to(device)
    out = []
    for start in range(0, len(rows), batch_size):
        x = torch.from_numpy(store.read(rows[start : start + batch_size])).to(device)
        out.append(model(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.float32)


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """Probability threshold maximising Youden's J = TPR − FPR (= balanced accuracy) on validation."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels, probs)
    finite = np.isfinite(thresholds)
    best = int(np.argmax(np.where(finite, tpr - fpr, -np.inf)))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def binary_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall at ``threshold`` (probabilities ≥ threshold are lenses)."""
    pred = probs >= threshold
    pos = labels == 1
    tp = int((pred & pos).sum())
    fp = int((pred & ~pos).sum())
    fn = int((~pred & pos).sum())
    return {
        "accuracy": float((pred == pos).mean()),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
    }


def fit_temperature_or_none(logits: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """Temperature from :func:`fit_temperature`; 1.0 (with the reason) where it cannot be fitted."""
    try:
        return float(fit_temperature(logits.astype(np.float64), labels.astype(np.int64))), "fit_temperature on validation logits (BCE)"
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
) -> dict[str, Any]:
    """Write val predictions, metrics and the exported model; returns the metrics dict."""
    from sklearn.metrics import roc_auc_score

    model = build_model(card)
    load_state_into(model, checkpoint_state, training_summary.get("best_checkpoint", "checkpoint"))
    logits = predict_logits(model, store, val_rows, batch_size=batch_size)
    index = store.index.iloc[val_rows]
    labels = index["label"].to_numpy().astype(np.int64)
    frame = pd.DataFrame({"id": index["id"].astype(str).to_numpy(), "stem": index["stem"].astype(str).to_numpy(),
                          "label": labels, "domain": index["domain"].astype(str).to_numpy(), "logit": logits})
    with atomic_path(run_dir / "val_predictions.csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")

    temperature, temperature_how = fit_temperature_or_none(logits, labels)
    probs = apply_temperature(logits, temperature)
    threshold = choose_threshold(probs, labels)
    metrics: dict[str, Any] = {
        "val_auc": float(roc_auc_score(labels, logits)),
        **{f"val_{k}": v for k, v in binary_metrics(probs, labels, threshold).items()},
        "threshold": threshold,
        "threshold_method": "maximises Youden's J (TPR - FPR) on the validation split, on probabilities sigmoid(logit / temperature)",
        "temperature": temperature,
        "temperature_method": temperature_how,
        "at_threshold_0.5": binary_metrics(apply_temperature(logits, 1.0), labels, 0.5),
        "n_val": int(len(labels)),
        "val_auc_by_domain": {},
    }
    for domain, group in frame.groupby("domain"):
        if group["label"].nunique() == 2:
            metrics["val_auc_by_domain"][str(domain)] = float(roc_auc_score(group["label"], group["logit"]))
    metrics.update({k: v for k, v in training_summary.items() if k not in metrics})
    write_text_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")

    card.threshold = threshold
    card.temperature = temperature
    card.training = {**card.training, **training_summary, "val_auc": metrics["val_auc"],
                     "val_accuracy": metrics["val_accuracy"], "val_precision": metrics["val_precision"],
                     "val_recall": metrics["val_recall"]}
    save_model(model, card, run_dir / "model")
    return metrics
