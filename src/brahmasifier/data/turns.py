"""Turns of a raw-pixel batch for the survey augmentations: the whole stamp, each band, and each band put back.

Contract: every function takes and returns a float ``(B, C, H, W)`` batch of raw pixels on any
device, NaN where a pixel is invalid. :func:`rotate_footprint` and :func:`misregister_bands` are
bilinear ``grid_sample`` turns about the stamp centre with the footprint outside r = 20.5 px set
to NaN — the blind set's rotated cutouts. :func:`repaired_as_predict` is what ``predict`` makes
of a batch where it reads no band groups (one angle per band, flagged objects repaired): the
band-angle estimate, the ``misregistered`` flag and the repair of
:mod:`brahmasifier.survey.checks`, run on the CPU in numpy, so training can see the repair's own
errors and not only a perfect turn back (``SurveyAugment.repair_bands``; ``resample_bands`` turns
back by the true angles). Measured (``docs/survey-pixels.md`` §3, "Training for the repair
``predict`` makes"): ~0.7 ms per repaired sample on one thread then, 0.20 ms with the checks as
they are now (2026-12-08: 64 SLSim-engine objects turned by U(−30°, 30°) per band, one call,
median of six; ``time_repair.py`` in that session's work folder); split into chunks on two
threads it took 0.23–0.51 ms (chunks of 32 to 8), so it stays one call. On the 30,000-object
recipe at four seeds, three sets scored as one, it narrows the per-band repaired gap from 0.042
to 0.024 only by lowering clean TPR (−0.014); repaired objects score the same (+0.003;
``docs/survey-pixels.md`` §3, "The repair in training, the three sets as one, four seeds"): an
option.
``survey`` is imported when first used, so importing the augmentations does not load it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from brahmasifier.pixels import clean_pixels

__all__ = ["misregister_bands", "repaired_as_predict", "rotate_footprint"]


def rotate_footprint(x: torch.Tensor, degrees: torch.Tensor, radius: float = 20.5) -> torch.Tensor:
    """Each sample rotated by ``degrees`` about the centre (bilinear), pixels outside ``radius`` set to NaN."""
    b, _, h, w = x.shape
    theta = torch.deg2rad(degrees.double())
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    affine = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1).to(x.dtype)
    grid = F.affine_grid(affine, [b, x.shape[1], h, w], align_corners=True)
    out = F.grid_sample(torch.nan_to_num(x), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.masked_fill(_outside(h, w, radius, x.device, x.dtype), float("nan"))


def _outside(h: int, w: int, radius: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    yy = torch.arange(h, device=device, dtype=dtype)[:, None] - (h - 1) / 2.0
    xx = torch.arange(w, device=device, dtype=dtype)[None, :] - (w - 1) / 2.0
    return torch.hypot(yy, xx) > radius


def misregister_bands(x: torch.Tensor, degrees: torch.Tensor, offsets: torch.Tensor, radius: float = 20.5,
                      mode: str = "bilinear") -> torch.Tensor:
    """Each ``(sample, band)`` rotated by ``degrees[b, c]``, moved by ``offsets[b, c] = (dx, dy)`` px (``grid_sample`` mode).

    Pixels outside ``radius`` (and outside the stamp) become NaN, as in :func:`rotate_footprint`.
    """
    b, c, h, w = x.shape
    theta = torch.deg2rad(degrees.double().reshape(-1))
    cos, sin = torch.cos(theta), torch.sin(theta)
    # grid_sample reads the input at A @ (x, y, 1): a translation t moves the image by −t (normalised units)
    tx = -2.0 * offsets[..., 0].double().reshape(-1).to(x.device) / (w - 1)
    ty = -2.0 * offsets[..., 1].double().reshape(-1).to(x.device) / (h - 1)
    affine = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(x.dtype)
    grid = F.affine_grid(affine, [b * c, 1, h, w], align_corners=True)
    planes = torch.nan_to_num(x).reshape(b * c, 1, h, w)
    out = F.grid_sample(planes, grid, mode=mode, padding_mode="zeros", align_corners=True).reshape(b, c, h, w)
    return out.masked_fill(_outside(h, w, radius, x.device, x.dtype), float("nan"))


def repaired_as_predict(x: torch.Tensor) -> torch.Tensor:
    """The batch as ``predict`` hands it to the model: bands it flags turned back by the *estimated* angles, invalid NaN.

    The readers' form is rebuilt first (:func:`brahmasifier.pixels.clean_pixels`), then
    :meth:`brahmasifier.survey.checks.Registration.checks` with ``register=True`` runs exactly as
    in ``predict``; the result comes back on ``x``'s device and dtype.
    """
    from brahmasifier.survey.checks import Registration

    if x.shape[0] == 0:
        return x
    images = np.array(x.detach().float().cpu().numpy(), dtype=np.float32, copy=True)
    n_nan = clean_pixels(images)  # the readers' form: bad pixels 0, counted per object
    out, _ = Registration(register=True).checks(images, n_nan)  # invalid pixels NaN again
    return torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)
