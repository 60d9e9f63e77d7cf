"""Tiny learnable stores for training tests (blob images from conftest's recipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.store import CutoutStore, write_store

TINY_MODEL = {"widths": [8, 16], "depths": [0, 1]}


def blob(rng: np.random.Generator, lens: bool) -> np.ndarray:
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    r = np.hypot(x, y)
    core = 50.0 * np.exp(-0.5 * (r / 2.5) ** 2)
    ring = 15.0 * np.exp(-0.5 * ((r - 7.0) / 1.2) ** 2) if lens else 0.0
    return np.stack([core + ring * (b < 2) + rng.normal(0, 1, r.shape) for b in range(len(BANDS))]).astype(np.float32)


def tiny_store(path: Path, n: int, seed: int = 0, n_unlabelled: int = 0, prefix: str = "obj") -> CutoutStore:
    rng = np.random.default_rng(seed)
    labels = [k % 2 for k in range(n)] + [-1] * n_unlabelled
    images = np.stack([blob(rng, label == 1) for label in labels])
    index = pd.DataFrame({"id": [f"{prefix}{k}" for k in range(len(labels))], "stem": [f"D1_{k}" for k in range(len(labels))],
                          "label": labels, "domain": ["slsim" if k % 4 < 2 else "hsc" for k in range(len(labels))], "n_nan": 0})
    return write_store(path, images, index)
