"""Models: the card (model.json), the full classifier, our compact net, timm backbones, saving/loading.

The card (:mod:`.card`: what a trained model is and where it lives) and the temperature
(:mod:`.temperature`) need no torch and load eagerly; everything else loads on first use, so
that ``brahmasifier evaluate`` and the prediction merge do not import torch and timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from brahmasifier.errors import ModelFormatError
from brahmasifier.models.card import FORMAT_VERSION, ModelCard, read_card, resolve_card_path, resolve_model_dir
from brahmasifier.models.temperature import apply_temperature, fit_temperature, sigmoid

if TYPE_CHECKING:
    from brahmasifier.models.backbones import (
        PRESETS,
        backbone_names,
        create_backbone,
        default_lr,
        preset_card,
        register_backbone,
        resolve_preset,
    )
    from brahmasifier.models.backbones.compact import CompactLensNet
    from brahmasifier.models.classifier import LensClassifier, build_model
    from brahmasifier.models.io import load_model, save_model
    from brahmasifier.models.normalization import NORMALIZATIONS, build_normalization
    from brahmasifier.models.weights import BAND_MAPPINGS, resolve_band_mapping, stem_rgb_sources

__all__ = [
    "BAND_MAPPINGS", "FORMAT_VERSION", "NORMALIZATIONS", "PRESETS", "CompactLensNet", "LensClassifier", "ModelCard",
    "ModelFormatError", "apply_temperature", "backbone_names", "build_model", "build_normalization", "create_backbone",
    "default_lr", "fit_temperature", "load_model", "preset_card", "read_card", "register_backbone", "resolve_band_mapping",
    "resolve_card_path", "resolve_model_dir", "resolve_preset", "save_model", "sigmoid", "stem_rgb_sources",
]

_LAZY: dict[str, str] = {
    **dict.fromkeys(("PRESETS", "backbone_names", "create_backbone", "default_lr", "preset_card", "register_backbone",
                     "resolve_preset"), "backbones"),
    **dict.fromkeys(("LensClassifier", "build_model"), "classifier"),
    "CompactLensNet": "backbones.compact",
    **dict.fromkeys(("load_model", "save_model"), "io"),
    **dict.fromkeys(("NORMALIZATIONS", "build_normalization"), "normalization"),
    **dict.fromkeys(("BAND_MAPPINGS", "resolve_band_mapping", "stem_rgb_sources"), "weights"),
}


def __getattr__(name: str) -> Any:
    """Load the torch-based parts of the package on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"brahmasifier.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
