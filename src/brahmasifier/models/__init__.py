"""Models: the card (model.json), the full classifier, our compact net, timm backbones, saving/loading."""

from brahmasifier.models.backbones import PRESETS, create_backbone, default_lr, preset_card, resolve_preset
from brahmasifier.models.card import FORMAT_VERSION, ModelCard, ModelFormatError
from brahmasifier.models.classifier import LensClassifier, build_model
from brahmasifier.models.compact import CompactLensNet
from brahmasifier.models.io import load_model, resolve_model_dir, save_model
from brahmasifier.models.normalization import NORMALIZATIONS, build_normalization
from brahmasifier.models.weights import BAND_MAPPINGS, resolve_band_mapping, stem_rgb_sources

__all__ = [
    "BAND_MAPPINGS", "FORMAT_VERSION", "NORMALIZATIONS", "PRESETS", "CompactLensNet", "LensClassifier",
    "ModelCard", "ModelFormatError", "build_model", "build_normalization", "create_backbone", "default_lr",
    "load_model", "preset_card", "resolve_band_mapping", "resolve_model_dir", "resolve_preset", "save_model", "stem_rgb_sources",
]
