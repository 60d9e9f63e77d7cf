"""Tiny models for plumbing tests: random weights whose logits still vary clearly between objects."""

from __future__ import annotations

import torch

from brahmasifier.models import ModelCard, build_model


def varied_model(card: ModelCard, seed: int) -> torch.nn.Module:
    """``build_model(card)`` in eval mode with random BatchNorm statistics and a scaled-up head.

    Freshly initialised nets give nearly the same logit to every object, which would make
    agreement checks trivial.
    """
    torch.manual_seed(seed)
    model = build_model(card).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
        model.backbone.head.weight.mul_(20.0)
    return model
