"""TTA views: the right groups, ONNX-friendly rotations, logit averaging in one pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brahmasifier.data.transforms import rot90
from brahmasifier.inference.tta import TTA_VIEWS, TTAModel, tta_views


@pytest.mark.parametrize("k", range(-1, 5))
def test_rot90_matches_torch(k: int) -> None:
    x = torch.randn(2, 5, 7, 9)
    assert torch.equal(rot90(x, k), torch.rot90(x, k, dims=(-2, -1)))


def test_view_sets() -> None:
    x = torch.arange(2 * 5 * 6 * 6, dtype=torch.float32).reshape(2, 5, 6, 6)
    assert [len(TTA_VIEWS[n]) for n in ("none", "flips", "d4")] == [1, 3, 8]
    flips = [v(x) for v in tta_views("flips")]
    assert torch.equal(flips[0], x)
    assert torch.equal(flips[1], x.flip(-1)) and torch.equal(flips[2], x.flip(-2))
    d4 = [v(x) for v in tta_views("d4")]
    # 8 distinct images, closed under composition with every other D4 element
    keys = {tuple(im.flatten().tolist()) for im in d4}
    assert len(keys) == 8
    for view in tta_views("d4"):
        assert {tuple(view(im).flatten().tolist()) for im in d4} == keys
    with pytest.raises(ValueError, match="unknown TTA"):
        tta_views("rot")


class _FirstPixel(nn.Module):
    """Logit = the top-left pixel of band 0: every view shows a different corner."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 0, 0]


def test_tta_model_averages_view_logits() -> None:
    x = torch.randn(3, 5, 41, 41)
    tl, tr, bl, br = x[:, 0, 0, 0], x[:, 0, 0, -1], x[:, 0, -1, 0], x[:, 0, -1, -1]
    assert torch.allclose(TTAModel(_FirstPixel(), "none")(x), tl)
    assert torch.allclose(TTAModel(_FirstPixel(), "flips")(x), (tl + tr + bl) / 3)
    # D4 visits each corner twice
    assert torch.allclose(TTAModel(_FirstPixel(), "d4")(x), (tl + tr + bl + br) / 4, atol=1e-6)


class _PerViewReference(nn.Module):
    """Hides ``prepare``: TTAModel then runs the whole classifier (normalisation too) per view."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@pytest.mark.parametrize("normalization", ["asinh_mad", "per_image", "none"])
@pytest.mark.parametrize("tta", ["flips", "d4"])
def test_normalising_once_equals_normalising_every_view(normalization: str, tta: str) -> None:
    from brahmasifier.models import ModelCard, build_model

    torch.manual_seed(0)
    card = ModelCard(normalization={"name": normalization}, model_kwargs={"widths": [8, 16], "depths": [0, 1]})
    model = build_model(card).eval()
    x = torch.randn(4, 5, 41, 41) * 3 + 10
    x[:, :, 18:23, 18:23] += 80.0  # a bright core, so the statistics are not symmetric by luck
    x[0, 2, 0, 5] = float("nan")
    with torch.inference_mode():
        once = TTAModel(model, tta)(x)
        per_view = TTAModel(_PerViewReference(model), tta)(x)
    torch.testing.assert_close(once, per_view, rtol=1e-5, atol=1e-5)


def test_views_are_the_augmentations_d4_elements_in_the_previous_order() -> None:
    """TTA and training augmentation share one D4 implementation; the view sets (and order) are unchanged.

    flips = identity, left-right, up-down; d4 = rotations of the image, then rotations of its mirror image.
    """
    from brahmasifier.data.transforms import d4_apply

    x = torch.randn(2, 5, 7, 9)
    previous_d4 = [torch.rot90(torch.flip(x, (-1,)) if flip else x, k, (-2, -1)) for flip in (False, True) for k in range(4)]
    assert all(torch.equal(v(x), p) for v, p in zip(tta_views("d4"), previous_d4, strict=True))
    assert [torch.equal(v(x), e) for v, e in zip(tta_views("flips"), (x, x.flip(-1), x.flip(-2)), strict=True)] == [True] * 3
    for element in range(8):  # what the augmentation applies is exactly rotate-then-flip
        expected = torch.rot90(x, element % 4, (-2, -1))
        assert torch.equal(d4_apply(x, element), expected.flip(-1) if element >= 4 else expected)
