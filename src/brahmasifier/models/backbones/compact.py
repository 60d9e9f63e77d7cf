"""A compact CNN designed for 41×41 cutouts: the default architecture on CPUs.

Why not an ImageNet backbone at native size: their stride-4 stems (ConvNeXt) or stride-2 stem +
max-pool (ResNet) reduce a 41×41 cutout to ~10×10 before the first block, discarding the
arc/ring structure at 1–2″ (5–10 px) that separates lenses from galaxies. This net keeps
full resolution in a stride-1 stem and first stage, then halves resolution per stage
(41→21→11→6), with residual conv-BN-GELU blocks and global average pooling. With the
default widths it has ~0.4M parameters (most in the last, 6×6 stage, where they are cheap)
(see experiments/compare_architectures.py for the measured accuracy/speed against timm
backbones).

``radial_channel=True`` appends one input channel holding each pixel's distance from the stamp
centre (in units of the half-width). Global average pooling makes the net nearly translation
invariant, so without it a feature cannot say *where* light sits — and the Einstein radius is a
distance from the centre. The map is invariant under the D4 group and any rotation about the
centre, so D4 TTA and the rotation augmentation stay exact. Measured (issue 22): no gain on θ_E
or on classification, so off by default (docs/science/cross-simulator.md, "100,000 objects, and
where the Einstein-radius errors come from").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from brahmasifier.errors import ConfigError
from brahmasifier.models.backbones._registry import register_backbone

__all__ = ["ACTIVATIONS", "CompactLensNet", "ConvBNAct", "ResidualBlock", "compact", "radial_map"]

#: Activations by name. ``relu`` lets ONNX Runtime fuse conv + BN + activation into one kernel
#: (GELU took 16% of the compact net's CPU inference time as a separate op): 1.27x faster scoring,
#: but less accurate at low false-positive rates in our tests, so GELU stays the default.
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"compact: unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}") from None


class ResidualBlock(nn.Module):
    """Two 3×3 conv-BN layers with an activation and a (projected) shortcut; ``stride`` downsamples."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, act: str = "gelu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.act = _activation(act)
        self.shortcut: nn.Module
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution, batch norm, activation."""
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.shortcut(x))


class ConvBNAct(nn.Sequential):
    """3×3 conv (optionally strided) + BatchNorm + activation."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, act: str = "gelu") -> None:
        super().__init__(nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out_ch),
                         _activation(act))


def radial_map(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)``: each pixel's distance from the stamp centre over the half-width, in ``x``'s dtype.

    Tensor arithmetic only (no Python ints from the shape), so it traces into an ONNX graph.
    """
    yy = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)
    xx = torch.arange(x.shape[-1], device=x.device, dtype=torch.float32)
    half = (torch.maximum(yy[-1], xx[-1]) + 1.0) / 2.0
    yy, xx = yy - yy[-1] / 2.0, xx - xx[-1] / 2.0
    r = torch.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2) / half
    return r.to(x.dtype)[None, None].expand(x.shape[0], 1, -1, -1)


class CompactLensNet(nn.Module):
    """Stride-1 stem, then per stage a (strided) conv-BN-GELU and ``depth`` residual blocks.

    Parameters
    ----------
    in_chans: input channels (bands).
    num_classes: outputs (1 for the lens logit).
    widths: channels per stage; stage 0 keeps full resolution, each later stage halves it.
    depths: residual blocks per stage after its conv (0 = a plain conv stage).
    stem_width: channels of the stride-1 stem (default: ``widths[0]``).
    drop_rate: dropout before the head.
    act: activation, ``gelu`` or ``relu``.
    radial_channel: append the distance-from-centre map as one more input channel (module docstring).
    """

    def __init__(
        self,
        in_chans: int = 5,
        num_classes: int = 1,
        widths: Sequence[int] = (16, 32, 64, 128),
        depths: Sequence[int] = (0, 0, 0, 1),
        stem_width: int | None = None,
        drop_rate: float = 0.1,
        act: str = "gelu",
        radial_channel: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(radial_channel, bool):
            raise ConfigError(f"compact: radial_channel must be true or false, not {radial_channel!r}")
        self.radial_channel = radial_channel
        widths = [int(w) for w in widths]
        depths = [int(d) for d in depths]
        if len(widths) != len(depths) or not widths:
            raise ConfigError(f"compact: widths {widths} and depths {depths} must be non-empty and equally long")
        stem_width = int(stem_width or widths[0])
        self.stem = ConvBNAct(in_chans + int(radial_channel), stem_width, act=act)
        stages: list[nn.Module] = []
        prev = stem_width
        for k, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            blocks: list[nn.Module] = [ConvBNAct(prev, width, stride=1 if k == 0 else 2, act=act)]
            blocks += [ResidualBlock(width, width, act=act) for _ in range(depth)]
            stages.append(nn.Sequential(*blocks))
            prev = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(prev, num_classes)
        self.num_features = prev

    # timm's feature interface (``forward_features`` / ``forward_head(pre_logits=)`` /
    # ``get_classifier``), so a regression head can share the pooled features of any backbone.
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``(B, num_features, h, w)`` before pooling."""
        if self.radial_channel:
            x = torch.cat([x, radial_map(x)], dim=1)
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool + dropout (``pre_logits=True``: the ``(B, num_features)`` vector), then the linear head."""
        x = self.drop(self.pool(x).flatten(1))
        return x if pre_logits else self.head(x)

    def get_classifier(self) -> nn.Module:
        """The final linear layer (features → logits)."""
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` → logits ``(B, num_classes)``."""
        return self.forward_head(self.forward_features(x))


@register_backbone("compact", lr=2e-3)
def compact(in_chans: int, num_classes: int = 1, **kwargs: Any) -> nn.Module:
    """Our compact 41×41 net (the default; trained from scratch at a high rate: the demo's recipe)."""
    return CompactLensNet(in_chans=in_chans, num_classes=num_classes, **kwargs)
