"""Backbones: the registry (``@register_backbone``), the factory (a card's ``architecture`` → a network) and presets.

Public API: :func:`register_backbone` (declare a backbone: one decorated builder in one file),
:func:`create_backbone`, :func:`default_lr`, :func:`default_input_size`, :func:`backbone_sources`
(the files the ONNX cache key hashes), :func:`backbone_names`, :data:`PRESETS`,
:func:`resolve_preset`, :func:`preset_card`. Built in (one module each here): ``compact``
(:mod:`.compact`, the default) and ``plain_cnn`` (:mod:`.plain_cnn`, the baseline); any timm model
name works as well. See ``docs/architecture.md`` ("Extension points").
"""

from __future__ import annotations

from brahmasifier.models.backbones._factory import (
    COMPACT,
    DEFAULT_LR_TIMM_PRETRAINED,
    DEFAULT_LR_TIMM_SCRATCH,
    PLAIN_CNN,
    PRESETS,
    backbone_sources,
    create_backbone,
    default_input_size,
    default_lr,
    preset_card,
    resolve_preset,
)
from brahmasifier.models.backbones._registry import (
    BackboneEntry,
    backbone_entry,
    backbone_names,
    load_builtin_backbones,
    register_backbone,
)

__all__ = [
    "COMPACT", "DEFAULT_LR_TIMM_PRETRAINED", "DEFAULT_LR_TIMM_SCRATCH", "PLAIN_CNN", "PRESETS", "BackboneEntry",
    "backbone_entry", "backbone_names", "backbone_sources", "create_backbone", "default_input_size", "default_lr",
    "load_builtin_backbones", "preset_card", "register_backbone", "resolve_preset",
]
