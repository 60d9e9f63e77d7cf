"""A plain 4-block CNN: the baseline lens finders are usually compared with (``--arch plain_cnn``).

Four blocks of 3×3 conv → batch norm → ReLU → 2×2 max-pool (widths 32, 64, 128, 256; 41 → 20 → 10
→ 5 → 2 px), global average pooling, dropout and one linear logit: the "small CNN" of lens-finding
comparisons (e.g. issue 13's reference, 0.98 AUC on SLSim test data with ~5k training objects),
with about as many parameters as our compact net (0.39M vs 0.40M). Not a default: it exists so
that the default model can be compared with it on the same data and recipe
(``experiments/cross_simulator.py --runs slsim/plain_cnn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from brahmasifier.models.backbones._registry import register_backbone

__all__ = ["PlainCNN", "plain_cnn"]


class PlainCNN(nn.Module):
    """Four conv-BN-ReLU-max-pool blocks, global average pooling, dropout, a linear head."""

    def __init__(self, in_chans: int = 5, num_classes: int = 1, widths: Sequence[int] = (32, 64, 128, 256),
                 dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_chans
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` → logits ``(B, num_classes)``."""
        return self.head(self.features(x))


@register_backbone("plain_cnn", lr=1e-3)
def plain_cnn(in_chans: int, num_classes: int = 1, **kwargs: Any) -> nn.Module:
    """The plain 4-block CNN baseline."""
    return PlainCNN(in_chans=in_chans, num_classes=num_classes, **kwargs)
