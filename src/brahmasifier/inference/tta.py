"""Test-time augmentation: score several symmetric views of each cutout and average the logits.

A lens stays a lens under flips and 90° rotations, so averaging a model's logits over such
views removes some of its orientation noise. Named view sets:

* ``none``  — the image as is;
* ``flips`` — identity, horizontal flip, vertical flip (the reference system's three views);
* ``d4``    — all 8 elements of the dihedral group D4 (4 rotations × optional flip).

Views are averaged in **logit** space (the reference's rule). :class:`TTAModel` runs all views
of a batch in one forward pass (views stacked along the batch axis), which keeps the matrix
products large, and is made of flips and transposes only, so it exports to ONNX as is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

View = Callable[[torch.Tensor], torch.Tensor]

_H, _W = -2, -1


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _hflip(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=(_W,))


def _vflip(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=(_H,))


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """``torch.rot90(x, k, dims=(-2, -1))`` from flips and a transpose.

    Same result (tested), but made of ops the ONNX exporter supports (``aten::rot90`` is not).
    """
    k %= 4
    if k == 1:
        return torch.flip(x, dims=(_W,)).transpose(_H, _W)
    if k == 2:
        return torch.flip(x, dims=(_H, _W))
    if k == 3:
        return torch.flip(x.transpose(_H, _W), dims=(_W,))
    return x


def _rot(k: int, flip: bool) -> View:
    def view(x: torch.Tensor) -> torch.Tensor:
        y = torch.flip(x, dims=(_W,)) if flip else x
        return rot90(y, k)

    view.__name__ = f"rot{90 * k}{'_hflip' if flip else ''}"
    return view


#: View sets by name; each is a tuple of functions ``(B,C,H,W) -> (B,C,H,W)``.
TTA_VIEWS: dict[str, tuple[View, ...]] = {
    "none": (_identity,),
    "flips": (_identity, _hflip, _vflip),
    "d4": tuple(_rot(k, flip) for flip in (False, True) for k in range(4)),
}


def tta_views(name: str) -> tuple[View, ...]:
    """The views of TTA mode ``name``; a clear error for an unknown one."""
    try:
        return TTA_VIEWS[name]
    except KeyError:
        raise ValueError(f"unknown TTA mode {name!r}; expected one of {', '.join(TTA_VIEWS)}") from None


class TTAModel(nn.Module):
    """Wrap a logit model ``(B,C,H,W) -> (B,)`` so it returns the mean logit over TTA views."""

    def __init__(self, model: nn.Module, tta: str = "flips", channels_last: bool = False) -> None:
        super().__init__()
        self.model = model
        self.tta = tta
        self.views = tta_views(tta)
        self.channels_last = channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        model = self.model
        score: Callable[[torch.Tensor], torch.Tensor] = model
        if len(self.views) > 1 and getattr(model, "view_invariant_prepare", False):
            # Normalise once, not once per view (exact: the statistics ignore pixel order).
            x = model.prepare(x)  # type: ignore[operator]
            score = model.score_prepared  # type: ignore[assignment]
        stacked = self.views[0](x) if len(self.views) == 1 else torch.cat([view(x) for view in self.views], dim=0)
        if self.channels_last:  # after stacking: flips/transposes would otherwise undo the layout
            stacked = stacked.contiguous(memory_format=torch.channels_last)
        if len(self.views) == 1:
            return score(stacked).reshape(-1)
        logits = score(stacked).reshape(len(self.views), batch)
        return logits.mean(dim=0)
