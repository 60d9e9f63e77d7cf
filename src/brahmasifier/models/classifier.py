"""The full model: band selection → normalisation → (resize) → backbone → one logit per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.models.backbones import create_backbone
from brahmasifier.models.card import ModelCard
from brahmasifier.models.normalization import build_normalization

__all__ = ["LensClassifier", "build_model"]


class LensClassifier(nn.Module):
    """Takes raw float32 ``(B, 5, 41, 41)`` in :data:`BANDS` order and returns logits ``(B,)``.

    Band gathering, normalisation and resize are fixed by the card at construction, so the
    forward pass has no data-dependent control flow (ONNX-exportable) and every consumer
    (training, prediction, export) applies the same preprocessing.
    """

    band_index: torch.Tensor  # a buffer (moves with the module)

    def __init__(self, backbone: nn.Module, normalization: nn.Module, bands: list[str], input_size: int,
                 architecture: str = "") -> None:
        super().__init__()
        #: The card's ``architecture`` (the backbone registry's name, or a timm model's): not part of the weights.
        self.architecture = architecture
        indices = [BANDS.index(b) for b in bands]
        self.gather_bands = indices != list(range(len(BANDS)))
        self.register_buffer("band_index", torch.tensor(indices, dtype=torch.long), persistent=False)
        self.normalize = normalization
        self.input_size = int(input_size)
        self.resize = self.input_size != STAMP_SIZE
        self.backbone = backbone

    #: :meth:`prepare` commutes with flips and 90° rotations (band selection and every
    #: normalisation use per-band/per-image statistics, which pixel permutations leave unchanged),
    #: so test-time augmentation prepares each image once and only runs the backbone per view.
    view_invariant_prepare: bool = True

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Raw pixels → normalised input of the trained bands (the part shared by all TTA views)."""
        if self.gather_bands:
            x = x.index_select(1, self.band_index)
        return self.normalize(x)

    def score_prepared(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared images → logits ``(B,)`` (resize, if any, then the backbone)."""
        if self.resize:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return self.backbone(x).reshape(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw ``(B, 5, 41, 41)`` → logits ``(B,)``."""
        return self.score_prepared(self.prepare(x))

    # The pooled-feature path (timm's interface, which our compact net implements too):
    # ``logit_from_features(features_prepared(x))`` equals ``score_prepared(x)``; a regression
    # head (models/regression.py) reads the same features. ``forward`` does not use it, so the
    # classification graph (and its ONNX export) is unchanged.
    def features_prepared(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared images → pooled backbone features ``(B, num_features)`` (before the classifier)."""
        if self.resize:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        backbone: Any = self.backbone
        return backbone.forward_head(backbone.forward_features(x), pre_logits=True)

    def logit_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Pooled features → logits ``(B,)`` (the backbone's own classifier layer)."""
        backbone: Any = self.backbone
        return backbone.get_classifier()(features).reshape(-1)

    @property
    def num_features(self) -> int:
        """Width of the pooled feature vector."""
        backbone: Any = self.backbone
        return int(backbone.num_features)


def build_model(card: ModelCard, pretrained_file: str | Path | None = None) -> LensClassifier:
    """The model a card describes (random or ``pretrained_file`` weights; use ``load_model`` for ours)."""
    normalization = build_normalization(card.normalization, list(card.bands))
    extra = getattr(normalization, "extra_channels", lambda n: 0)(len(card.bands))  # colour residuals widen the input
    backbone = create_backbone(card.architecture, len(card.bands) + extra, card.model_kwargs, pretrained_file)
    return LensClassifier(backbone, normalization, card.bands, card.input_size, card.architecture)
