"""Train/validation split stratified by label × domain, deterministic for a seed, with data checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brahmasifier.errors import ConfigError

__all__ = ["MIN_PER_CLASS", "UNBALANCED_FRACTION", "UnbalancedDataWarning", "stratified_split"]


class UnbalancedDataWarning(UserWarning):
    """One class is rare: training works but the model may ignore it."""


#: Minimum number of labelled objects per class to train at all.
MIN_PER_CLASS = 4
#: Below this minority fraction the datamodule warns (and suggests what to do).
UNBALANCED_FRACTION = 0.1


def stratified_split(labels: np.ndarray, domains: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(train, val)``: ``val_fraction`` of every (label, domain) group, at least 1 if the group has ≥2.

    Deterministic for ``seed``; both outputs are sorted.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"label": np.asarray(labels), "domain": np.asarray(domains).astype(str)})
    val: list[np.ndarray] = []
    for _, group in sorted(frame.groupby(["label", "domain"]).groups.items(), key=lambda kv: str(kv[0])):
        members = np.asarray(group, dtype=np.int64)
        n_val = round(val_fraction * len(members))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.append(rng.permutation(members)[:n_val])
    val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(frame)), val_idx)
    return train_idx, val_idx
