"""The backbone factory: a card's ``architecture`` → a network, its defaults, its source files; presets.

A registered name (:mod:`._registry`) is built by its builder; any other name is a timm model
(``timm.create_model``; timm's defaults: the reference's 1e-4 when fine-tuning pretrained
weights, 1e-3 from scratch, the model's own input size for ViT-like families). Presets are short
names for useful configurations of either (architecture, kwargs, input size).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from brahmasifier.bands import STAMP_SIZE
from brahmasifier.errors import ConfigError
from brahmasifier.models.backbones._registry import backbone_entry, backbone_names
from brahmasifier.models.weights import check_pretrained_file

if TYPE_CHECKING:
    from brahmasifier.models.card import ModelCard

__all__ = [
    "COMPACT", "DEFAULT_LR_TIMM_PRETRAINED", "DEFAULT_LR_TIMM_SCRATCH", "PLAIN_CNN", "PRESETS", "backbone_sources",
    "create_backbone", "default_input_size", "default_lr", "preset_card", "resolve_preset",
]

COMPACT = "compact"
PLAIN_CNN = "plain_cnn"

#: Short names for useful configurations: architecture, its kwargs and the input size.
PRESETS: dict[str, dict[str, Any]] = {
    # GELU (the class default). ``model_kwargs={"act": "relu"}`` scores 1.27x faster on CPUs (ONNX
    # Runtime fuses it into the convolutions) but lost at low false-positive rates on the demo's
    # blind set in both seeds tried (TPR at FPR 1e-2: 0.618 vs 0.712, 0.780 vs 0.836), so it is opt-in.
    "compact": {"architecture": COMPACT, "model_kwargs": {}, "input_size": STAMP_SIZE},
    "compact_small": {"architecture": COMPACT, "model_kwargs": {"widths": [24, 48, 96, 128]}, "input_size": STAMP_SIZE},
    # The reference's ViT: 41×41 upsampled (bilinear, inside the model) to 224×224.
    "vit224": {"architecture": "vit_small_patch16_224", "model_kwargs": {}, "input_size": 224},
    # A ViT at near-native resolution: 41→44 px, 4-px patches → 11×11 tokens.
    "vit_tiny_p4": {
        "architecture": "vit_tiny_patch16_224",
        "model_kwargs": {"img_size": 44, "patch_size": 4},
        "input_size": 44,
    },
}

#: timm backbones' learning rates when ``--lr`` is not given (a registered backbone carries its own).
DEFAULT_LR_TIMM_PRETRAINED = 1e-4
DEFAULT_LR_TIMM_SCRATCH = 1e-3

_FIXED_SIZE_FAMILIES = ("vit", "deit", "beit", "eva", "swin", "cait", "xcit", "maxvit", "coatnet", "levit")


def resolve_preset(name: str) -> dict[str, Any]:
    """Architecture, kwargs and input size for a preset or a plain architecture name."""
    if name in PRESETS:
        preset = PRESETS[name]
        return {"architecture": preset["architecture"], "model_kwargs": dict(preset["model_kwargs"]),
                "input_size": preset["input_size"]}
    return {"architecture": name, "model_kwargs": {}, "input_size": default_input_size(name, {})}


def preset_card(name: str = COMPACT, **fields: Any) -> ModelCard:
    """The :class:`~brahmasifier.models.ModelCard` of a preset or architecture name, ``fields`` overriding.

    What ``brahmasifier train --arch NAME`` starts from (benchmarks use it so that "our default
    model" is the default, not the class defaults).
    """
    from brahmasifier.models.card import ModelCard

    return ModelCard(**{**resolve_preset(name), **fields})


def default_input_size(architecture: str, model_kwargs: dict[str, Any]) -> int:
    """``img_size`` if given; a registered backbone's ``input_size``; 41 for CNNs; a ViT-like timm model's own size."""
    if "img_size" in model_kwargs:
        size = model_kwargs["img_size"]
        return int(size[0] if isinstance(size, (list, tuple)) else size)
    entry = backbone_entry(architecture)
    if entry is not None:
        return entry.input_size
    if not any(f in architecture for f in _FIXED_SIZE_FAMILIES):
        return STAMP_SIZE
    import timm

    cfg = timm.get_pretrained_cfg(architecture)
    if cfg is None:
        return STAMP_SIZE
    return int(cfg.input_size[-1])


def default_lr(architecture: str, pretrained: bool = False) -> float:
    """Learning rate to use when none is given: the registered backbone's, else timm's (module docstring)."""
    entry = backbone_entry(architecture)
    if entry is not None:
        return entry.lr
    return DEFAULT_LR_TIMM_PRETRAINED if pretrained else DEFAULT_LR_TIMM_SCRATCH


def backbone_sources(architecture: str) -> tuple[Path, ...]:
    """The files that define a registered backbone's network (empty for a timm model: its version is in the key)."""
    entry = backbone_entry(architecture)
    return entry.sources if entry is not None else ()


def create_backbone(
    architecture: str,
    in_chans: int,
    model_kwargs: dict[str, Any] | None = None,
    pretrained_file: str | Path | None = None,
) -> nn.Module:
    """A backbone mapping ``(B, in_chans, H, W)`` to ``(B, 1)`` logits.

    ``pretrained_file`` (timm models only) is a local weights file for the 3-channel model;
    timm adapts its first conv to ``in_chans`` (see :mod:`brahmasifier.models.weights`).
    """
    kwargs = dict(model_kwargs or {})
    entry = backbone_entry(architecture)
    if entry is not None:
        if pretrained_file is not None:
            raise ConfigError(f"the {architecture} model has no ImageNet weights; start from one of ours with --init-from")
        model: nn.Module = entry.builder(in_chans, num_classes=1, **kwargs)
        return model
    import timm

    if not timm.is_model(architecture):
        raise ConfigError(f"unknown architecture {architecture!r}: not a registered backbone ({', '.join(backbone_names())}),"
                          f" a preset ({', '.join(PRESETS)}) or a timm model")
    if pretrained_file is not None:
        path = check_pretrained_file(pretrained_file)
        return timm.create_model(
            architecture, pretrained=True, pretrained_cfg_overlay={"file": str(path)},
            in_chans=in_chans, num_classes=1, **kwargs,
        )
    return timm.create_model(architecture, pretrained=False, in_chans=in_chans, num_classes=1, **kwargs)
