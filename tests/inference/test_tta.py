"""TTA views: the right groups, ONNX-friendly rotations, logit averaging in one pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brahmasifier.inference.tta import TTA_VIEWS, TTAModel, rot90, tta_views


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
