"""Fixtures for prediction tests: small saved models with random weights (plumbing, not skill)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tiny_models import varied_model

from brahmasifier.models import ModelCard, save_model


def make_saved_model(folder: Path, seed: int, temperature: float = 1.0, threshold: float = 0.5,
                     normalization: str = "asinh_mad") -> Path:
    """A tiny compact model whose logits vary clearly between objects (:func:`tests.tiny_models.varied_model`)."""
    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [1, 1]},
                     normalization={"name": normalization}, temperature=temperature, threshold=threshold)
    model = varied_model(card, seed)
    return save_model(model, card, folder / "model")


@pytest.fixture(scope="session")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two run-like folders (``RUN/model/``) with different temperatures and thresholds."""
    root = tmp_path_factory.mktemp("models")
    a = make_saved_model(root / "run_a", seed=1, temperature=1.0, threshold=0.4).parent
    b = make_saved_model(root / "run_b", seed=2, temperature=2.0, threshold=0.7, normalization="per_image").parent
    return [a, b]
