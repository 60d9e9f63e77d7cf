"""The models of an ensemble: loading each, naming it, fingerprinting it, and the ensemble's threshold.

Threshold ``"auto"``: each card's ``threshold`` is a probability threshold chosen on that
model's calibrated validation probabilities ``sigmoid(raw logit / T)`` (see
:mod:`brahmasifier.training.export`); the thresholds' logits ``logit(t)`` are averaged over the
models, so a single model decides exactly as on validation, and an ensemble whose models share
a threshold ``t`` uses ``t``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from brahmasifier.errors import ConfigError
from brahmasifier.models.card import WEIGHTS_FILENAME
from brahmasifier.models.temperature import logit, sigmoid

__all__ = ["LoadedModel", "ensemble_targets", "ensemble_threshold", "load_models"]


@dataclass
class LoadedModel:
    """A model ready to score, with what the ensemble needs from its card."""

    name: str
    path: Path
    module: nn.Module
    threshold: float
    temperature: float
    architecture: str
    fingerprint: str
    #: The model's regression :class:`~brahmasifier.models.targets.TargetSet` (None: classification only).
    targets: Any = None
    #: The TTA views its temperature and threshold were fitted on (``none``: cards written before that was recorded).
    calibration_tta: str = "none"
    #: The training embedding's density (:class:`~brahmasifier.shift.embedding.EmbeddingDensity`; None: not recorded).
    embedding: Any = None


def _model_name(path: Path) -> str:
    base = path.parent.name if path.name in ("model", "model.json") else path.name
    if path.name == "model.json" and path.parent.name == "model":
        base = path.parent.parent.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_") or "model"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def load_models(paths: Sequence[str | os.PathLike[str]]) -> list[LoadedModel]:
    """Load each saved model (run dir, model folder or ``model.json``) in eval mode on the CPU."""
    from brahmasifier.models.card import resolve_model_dir
    from brahmasifier.models.io import load_model

    if not paths:
        raise ConfigError("no models given: pass at least one run dir or model folder")
    loaded: list[LoadedModel] = []
    used: dict[str, int] = {}
    for raw in paths:
        path = Path(raw)
        model_dir = resolve_model_dir(path)
        module, card = load_model(path)
        name = _model_name(model_dir if model_dir.name != "model" else model_dir.parent)
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name}_{used[name]}"
        digest = _file_digest(model_dir / WEIGHTS_FILENAME) + ":" + hashlib.sha256(card.to_json().encode()).hexdigest()[:16]
        density = None
        if card.data_statistics and card.data_statistics.get("embedding"):
            from brahmasifier.shift.embedding import EmbeddingDensity

            density = EmbeddingDensity.from_dict(card.data_statistics["embedding"])
        loaded.append(LoadedModel(name, path, module, float(card.threshold), float(card.temperature),
                                  card.architecture, digest, card.target_set(),
                                  str(card.training.get("calibration_tta", "none")), embedding=density))
    return loaded


def ensemble_targets(models: Sequence[LoadedModel]) -> Any:
    """The target spec the ensemble's parameter estimates use (None if no model predicts parameters).

    Every model with a regression head must predict the same targets (their standardisations and
    σ factors may differ); classification-only models take part in the lens probability only.
    The decoded-interval factors (``interval_scale``, fitted per model on its own validation
    split) of the combined predictive are the geometric mean of the members' (an approximation:
    nothing is fitted on the ensemble itself; a column or level a member lacks counts as 1).
    """
    specs = [(m.name, m.targets) for m in models if m.targets is not None]
    if not specs:
        return None
    first_name, first = specs[0]
    for name, spec in specs[1:]:
        if spec.dim_names != first.dim_names:
            raise ConfigError(f"models {first_name} and {name} predict different lens parameters "
                              f"({', '.join(first.output_columns)} vs {', '.join(spec.output_columns)}); "
                              "an ensemble combines estimates of the same parameters only")
    if len(specs) == 1:
        return first
    keys = {(c, lv) for _, spec in specs for c, fs in spec.interval_scale.items() for lv in fs}
    merged: dict[str, dict[float, float]] = {}
    for c, lv in sorted(keys):
        logs = [np.log(spec.interval_scale.get(c, {}).get(lv, 1.0)) for _, spec in specs]
        merged.setdefault(c, {})[lv] = float(np.exp(np.mean(logs)))
    return first.with_interval_scale(merged)


def ensemble_threshold(models: Sequence[LoadedModel]) -> float:
    """The ``auto`` threshold on the ensemble probability (see module docstring)."""
    mean_logit = float(np.mean([logit(m.threshold) for m in models]))
    return float(sigmoid(np.array(mean_logit)))
