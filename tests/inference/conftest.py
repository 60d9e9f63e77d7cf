"""Fixtures for prediction tests: small saved models with random weights (plumbing, not skill)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brahmasifier.models import ModelCard, build_model, save_model


def make_saved_model(folder: Path, seed: int, temperature: float = 1.0, threshold: float = 0.5,
                     normalization: str = "asinh_mad") -> Path:
    """A tiny compact model whose logits vary clearly between objects.

    Random BatchNorm statistics and a scaled-up head: freshly initialised nets give nearly the
    same logit to every object, which would make agreement checks trivial.
    """
    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [1, 1]},
                     normalization={"name": normalization}, temperature=temperature, threshold=threshold)
    torch.manual_seed(seed)
    model = build_model(card).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
        model.backbone.head.weight.mul_(20.0)
    return save_model(model, card, folder / "model")


@pytest.fixture(scope="session")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two run-like folders (``RUN/model/``) with different temperatures and thresholds."""
    root = tmp_path_factory.mktemp("models")
    a = make_saved_model(root / "run_a", seed=1, temperature=1.0, threshold=0.4).parent
    b = make_saved_model(root / "run_b", seed=2, temperature=2.0, threshold=0.7, normalization="per_image").parent
    return [a, b]
