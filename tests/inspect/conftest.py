"""Shared data of the inspection tool's tests: a probabilities file over the tiny challenge tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def write_probs(path: Path, truth: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """probs.csv over ``truth``'s objects: lenses score higher, with seeded noise."""
    rng = np.random.default_rng(seed)
    probs = pd.DataFrame({"id": truth["id"], "stem": truth["stem"],
                          "prob": np.clip(0.6 * truth["label"] + 0.4 * rng.random(len(truth)), 0, 1)})
    probs.to_csv(path, index=False)
    return probs


@pytest.fixture
def probs_file(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame]) -> tuple[Path, pd.DataFrame]:
    """A probs.csv over the tiny challenge tree and the table written."""
    _, truth = tiny_challenge_tree
    path = tmp_path / "probs.csv"
    return path, write_probs(path, truth)
