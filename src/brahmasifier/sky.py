"""Robust sky level and sky noise of cutouts, per image and band: the one estimator the package uses.

``sky_stats(x)`` takes raw pixels ``(..., H, W)`` (a torch tensor or a NumPy array) and returns
the sky level and the sky noise σ of every image plane from the pixels **outside a central
disc** (radius :data:`EXCLUDE_RADIUS` pixels, where the target galaxy of a cutout sits): the
median and ``1.4826 × MAD``, re-estimated :data:`CLIP_ITERATIONS` times after dropping pixels
more than :data:`CLIP_SIGMA` σ from the median (neighbours, stars, arcs). The injection
(:mod:`brahmasifier.simulation.inject`: the host's noise for the arc's S/N) and the survey
augmentations (:mod:`brahmasifier.data.augment`: noise to add) both call it.

Why this estimator: on our simulated cutouts (white noise of known σ, a galaxy at the centre,
neighbours, stars) the MAD of *all* pixels overestimates σ by 10–40% (the galaxy's wings
are most of the stamp), while the clipped MAD of the outer pixels is within a few per cent
(tested). It is the sky noise of *that* image (correlated noise, e.g. after resampling, has a
smaller per-pixel σ than its depth implies, and that is what a pixel-level model sees).
Non-finite pixels are ignored; a plane with no finite outer pixel gives NaN.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import torch

__all__ = ["CLIP_ITERATIONS", "CLIP_SIGMA", "EXCLUDE_RADIUS", "MAD_TO_SIGMA", "outer_mask", "sky_stats"]

#: Pixels closer than this to the stamp centre are not sky (the target's light).
EXCLUDE_RADIUS: float = 8.0
#: Pixels further than this many σ from the median are dropped before the next estimate.
CLIP_SIGMA: float = 3.0
CLIP_ITERATIONS: int = 2
#: σ of a Gaussian per unit median absolute deviation.
MAD_TO_SIGMA: float = 1.4826

def outer_mask(height: int, width: int, exclude_radius: float = EXCLUDE_RADIUS) -> torch.Tensor:
    """Boolean ``(H, W)`` mask of the pixels further than ``exclude_radius`` from the stamp centre."""
    y = torch.arange(height, dtype=torch.float64) - (height - 1) / 2.0
    x = torch.arange(width, dtype=torch.float64) - (width - 1) / 2.0
    return (y[:, None] ** 2 + x[None, :] ** 2) > exclude_radius**2


@overload
def sky_stats(x: torch.Tensor, exclude_radius: float = ..., clip_sigma: float = ...,
              iterations: int = ...) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def sky_stats(x: np.ndarray, exclude_radius: float = ..., clip_sigma: float = ...,
              iterations: int = ...) -> tuple[np.ndarray, np.ndarray]: ...


def sky_stats(x: torch.Tensor | np.ndarray, exclude_radius: float = EXCLUDE_RADIUS, clip_sigma: float = CLIP_SIGMA,
              iterations: int = CLIP_ITERATIONS) -> tuple[torch.Tensor, torch.Tensor] | tuple[np.ndarray, np.ndarray]:
    """Sky level (median) and sky noise σ (clipped ``1.4826 × MAD``) of every ``(H, W)`` plane of ``x``.

    Args:
        x: pixels ``(..., H, W)``, a tensor (any device; computed in float32 or float64 as given,
            float64 for other dtypes) or a NumPy array (computed in float64).
        exclude_radius: radius in pixels of the central disc left out.
        clip_sigma: clipping threshold in σ.
        iterations: clipping passes after the first estimate.

    Returns:
        ``(level, sigma)``, each of shape ``x.shape[:-2]``, the same kind (tensor/array) as ``x``.
    """
    if isinstance(x, np.ndarray):
        level_t, sigma_t = sky_stats(torch.from_numpy(np.asarray(x, dtype=np.float64)), exclude_radius, clip_sigma, iterations)
        return level_t.numpy(), sigma_t.numpy()
    if x.ndim < 2:
        raise ValueError(f"sky_stats needs (..., H, W) pixels, got shape {tuple(x.shape)}")
    values = x if x.dtype in (torch.float32, torch.float64) else x.double()
    mask = outer_mask(values.shape[-2], values.shape[-1], exclude_radius).to(values.device)
    if not mask.any():
        raise ValueError(f"no pixel lies outside radius {exclude_radius} of a {tuple(values.shape[-2:])} stamp")
    outer = values[..., mask]  # (..., n_outer)
    outer = torch.where(torch.isfinite(outer), outer, torch.full_like(outer, float("nan")))
    level = torch.nanmedian(outer, dim=-1).values
    sigma = MAD_TO_SIGMA * torch.nanmedian((outer - level[..., None]).abs(), dim=-1).values
    for _ in range(iterations):
        keep = (outer - level[..., None]).abs() <= clip_sigma * sigma[..., None]
        clipped = torch.where(keep, outer, torch.full_like(outer, float("nan")))
        level = torch.nanmedian(clipped, dim=-1).values
        sigma = MAD_TO_SIGMA * torch.nanmedian((clipped - level[..., None]).abs(), dim=-1).values
    return level, sigma
