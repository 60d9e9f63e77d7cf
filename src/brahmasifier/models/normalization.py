"""Image normalisations that live inside the model (so training, prediction and ONNX share them).

Each takes raw ``(B, C, H, W)`` pixels and returns normalised ones of the same shape and
floating dtype. Bad pixels (NaN, ±Inf, beyond :data:`brahmasifier.pixels.PIXEL_LIMIT`: the
package's one rule) become 0 first; the arithmetic runs in float32 whatever the input dtype
(under bf16/fp16 autocast too, and for a model cast to half precision), so no input can
overflow it: below the pixel limit the statistics fit float32, and ``asinh`` switches to
``log(2|v|)`` for large ``|v|`` instead of squaring ``v`` (issue 16: one 1e38 pixel made the
probability NaN). Everything is written with fixed-shape tensor ops (no data-dependent Python
control flow) so the module exports to ONNX.

- ``per_image``: the reference system's standardisation, ``(x - mean) / std`` over all bands
  and pixels of one image. Discards the relative brightness of objects, keeps colours.
- ``asinh_mad``: per band, subtract the median (sky + galaxy level), divide by the robust
  sky noise ``1.4826 * MAD`` times ``softening``, then ``asinh``. Astronomy-aware: faint arcs
  are in units of the noise of *that* band (bands differ by orders of magnitude in noise),
  and ``asinh`` compresses the bright lens-galaxy core like a Lupton stretch.
- ``none``: only the non-finite → 0 replacement (for models fed pre-normalised data).

``colour_residuals`` (a parameter of ``asinh_mad``: the reference band, a letter of the card's
bands, e.g. ``i``; absent = off) appends one channel per other band: that band minus the
reference band scaled to the same flux in the core (``r ≤ 2.5 px`` of the stamp centre), in
linear flux, then through the same ``asinh`` of its own robust noise. A deflector of one colour
cancels in these channels and an arc of another colour stays: the difference of two bands the
``asinh`` has already compressed is not linear in the fluxes, so the network cannot form it
with its first convolution. Why (issue 22): the 30,000-object model found lenses whose
deflector is brighter than i = 19.4 at 0.36–0.61 at FPR 1e-2 (our engine's and SLSim's own
sets) against 0.79–0.97 for fainter deflectors; colour-subtracted images are how lens searches
see arcs on bright galaxies. With them (same data and seed) those lenses were found at 0.70 and
the TPR at 1e-2 rose from 0.841 to 0.881 (``docs/science/cross-simulator.md``). The output has
``bands − 1`` more channels than the input (``extra_channels``; ``build_model`` widens the
backbone's first layer); every other normalisation keeps the shape.

``valid_only`` (a parameter of ``per_image`` and ``asinh_mad``, written into new cards'
``normalization``; absent = ``False``, how every earlier card was trained): the statistics
(mean/std; median/MAD) are computed over the **valid** pixels alone — finite and within the
pixel limit — and every invalid pixel is set to 0 after normalising (the band's median level:
a neutral value). Prediction and training hand the model NaN where a pixel is filled
(:func:`brahmasifier.pixels.nan_where_filled`), so a masked pixel's value cannot change the logit.
On an image with no invalid pixel both variants give the same numbers (the lower median of all
pixels is the ``(n+1)//2``-th smallest, as before). The valid-only median is a partial top-k
too (``_masked_lower_median``: invalid values as ±inf in the right numbers), not a sort; which
invalid values go to −inf depends on the mask alone, so the median and the MAD share that
choice, and its running count is a float32 cumsum (exact at these sizes; PyTorch's int32
cumsum along a row was ~14× slower on this CPU). On a rotated footprint's stamps the valid-only
normalisation took 300 → 200–250 µs per object (2-core EPYC, batches of 256).

Eager PyTorch computes ``asinh`` with ``torch.asinh`` (2.5× faster than :func:`asinh_onnx`,
within 2e-7 relative of it and finite on the whole float32 range, tested); tracing and the
ONNX export use :func:`asinh_onnx` (``_asinh`` switches): one implementation, an export switch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from brahmasifier.errors import ConfigError
from brahmasifier.pixels import PIXEL_LIMIT

__all__ = ["NORMALIZATIONS", "AsinhMAD", "FiniteOnly", "PerImageStandardize", "asinh_onnx", "build_normalization"]

NORMALIZATIONS: tuple[str, ...] = ("per_image", "asinh_mad", "none")


#: Above this ``|v|``, ``asinh(v) = sign(v) * (log 2 + log|v|)`` to float32 precision (the next
#: term is ``1 / (4 v²)`` = 2.5e-9) and ``v²`` could overflow, so :func:`asinh_onnx` switches to it.
_ASINH_LARGE = 1e4


def asinh_onnx(v: torch.Tensor) -> torch.Tensor:
    """``asinh`` from exportable ops (the TorchScript ONNX exporter lacks ``aten::asinh``), finite for every finite ``v``.

    Uses ``sign(v) * log1p(|v| + v² / (1 + sqrt(1 + v²)))``, accurate near 0, up to
    ``|v| = 1e4`` and ``sign(v) * log(2|v|)`` beyond (where squaring would overflow float32 at
    ``|v| > 1.8e19``).
    """
    a = v.abs()
    small = a.clamp(max=_ASINH_LARGE)
    near = torch.log1p(small + small * small / (1.0 + torch.sqrt(1.0 + small * small)))
    far = torch.log(a.clamp(min=_ASINH_LARGE)) + math.log(2.0)
    return torch.sign(v) * torch.where(a > _ASINH_LARGE, far, near)


def _asinh(v: torch.Tensor) -> torch.Tensor:
    """``torch.asinh`` in eager PyTorch, :func:`asinh_onnx` while tracing or exporting (module docstring).

    ``torch.asinh`` is 2.5x faster, within 2e-7 relative of :func:`asinh_onnx` and finite for every finite ``v``.
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return asinh_onnx(v)
    return torch.asinh(v)


def _finite(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 with its bad pixels (:mod:`brahmasifier.pixels`) set to 0."""
    x = x.float()
    return torch.where(x.abs() <= PIXEL_LIMIT, x, torch.zeros_like(x))  # NaN compares False: bad too


def _valid(x: torch.Tensor) -> torch.Tensor:
    """``True`` where a pixel is valid data (finite and within the pixel limit)."""
    return x.float().abs() <= PIXEL_LIMIT  # NaN compares False


def _rows_with_invalid(x: torch.Tensor, masked: Callable[[torch.Tensor], torch.Tensor],
                       plain: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``masked`` on the images holding an invalid pixel, ``plain`` (same numbers when all are valid, faster) on the rest.

    Eager PyTorch only: while tracing or exporting, ``masked`` runs on every image (one graph
    for every input).
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return masked(x)
    some_invalid = ~_valid(x).flatten(1).all(dim=1)
    if not bool(some_invalid.any()):
        return plain(x)
    if bool(some_invalid.all()):  # a rotated footprint's batch: every image
        return masked(x)
    clean = plain(x[~some_invalid])
    out = clean.new_empty((x.shape[0], *clean.shape[1:]))
    out[~some_invalid] = clean
    out[some_invalid] = masked(x[some_invalid]).to(out.dtype)
    return out


def _output_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.float32


class PerImageStandardize(nn.Module):
    """``(x - mean) / std`` per image over all bands (the reference recipe)."""

    def __init__(self, eps: float = 1e-6, valid_only: bool = False) -> None:
        super().__init__()
        self.eps = float(eps)
        self.valid_only = bool(valid_only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images, same shape."""
        dtype = _output_dtype(x)
        if self.valid_only:
            return _rows_with_invalid(x, self._valid_only, self._all_valid).to(dtype)
        return self._all_valid(x).to(dtype)

    def _all_valid(self, x: torch.Tensor) -> torch.Tensor:
        x = _finite(x)
        flat = x.flatten(1)
        mean = flat.mean(dim=1)
        std = ((flat - mean[:, None]) ** 2).mean(dim=1).sqrt()
        return (x - mean[:, None, None, None]) / (std[:, None, None, None] + self.eps)

    def _valid_only(self, x: torch.Tensor) -> torch.Tensor:
        valid = _valid(x)
        x = torch.where(valid, x.float(), torch.zeros_like(x, dtype=torch.float32))
        w = valid.flatten(1).float()
        n = w.sum(dim=1).clamp(min=1.0)
        mean = (x.flatten(1) * w).sum(dim=1) / n
        std = (((x.flatten(1) - mean[:, None]) ** 2 * w).sum(dim=1) / n).sqrt()
        out = (x - mean[:, None, None, None]) / (std[:, None, None, None] + self.eps)
        return torch.where(valid, out, torch.zeros_like(out))


def _sent_low(vflat: torch.Tensor) -> torch.Tensor:
    """The invalid values :func:`_masked_lower_median` sends to −inf: the first ``k − (n_valid + 1) // 2`` of each row."""
    k = (vflat.shape[-1] + 1) // 2
    invalid = ~vflat
    low = k - (vflat.sum(dim=-1, keepdim=True) + 1) // 2  # invalid values sent below every valid one
    # float32 counts are exact (rows are far below 2**24) and cumsum over them is ~14x faster than over int32
    return invalid & (torch.cumsum(invalid.float(), dim=-1) <= low.float())


def _masked_lower_median(flat: torch.Tensor, vflat: torch.Tensor, to_low: torch.Tensor | None = None) -> torch.Tensor:
    """Lower median of the valid values of ``flat`` along the last axis, kept as a length-1 axis (0 where none is valid).

    Without a sort: of a row's invalid values, as many become −inf as put its valid lower
    median at the row's own lower-median rank ``(n + 1) // 2`` (the rest +inf), so one
    unsorted top-k and a max — as for the all-valid median — give exactly the sorted answer
    (a test keeps the sort), in a quarter of the time on a rotated footprint's stamps.
    ``to_low`` (:func:`_sent_low` of ``vflat``) depends on the mask alone: the median and the
    MAD of one mask share it.
    """
    k = (flat.shape[-1] + 1) // 2
    if to_low is None:
        to_low = _sent_low(vflat)
    sentinel = torch.where(to_low, torch.full_like(flat, -math.inf), torch.full_like(flat, math.inf))
    filled = torch.where(vflat, flat, sentinel)
    median = filled.topk(k, dim=-1, largest=False, sorted=False).values.amax(dim=-1, keepdim=True)
    return torch.where(torch.isfinite(median), median, torch.zeros_like(median))


class AsinhMAD(nn.Module):
    """Per band: ``asinh((x - median) / (softening * 1.4826 * MAD))``, optionally with colour-residual channels.

    ``eps`` is a floor on the noise scale relative to the band's absolute median level
    plus an absolute floor, so a blank (all-equal) band gives zeros instead of NaN.
    ``colour_residuals`` is the reference band's index among the input channels (module
    docstring; ``None``: off), ``core_radius`` the radius (pixels) over which its flux is matched.
    """

    def __init__(self, softening: float = 3.0, eps: float = 1e-6, valid_only: bool = False,
                 colour_residuals: int | None = None, core_radius: float = 2.5) -> None:
        super().__init__()
        self.softening = float(softening)
        self.eps = float(eps)
        self.valid_only = bool(valid_only)
        self.reference = None if colour_residuals is None else int(colour_residuals)
        self.core_radius = float(core_radius)

    def extra_channels(self, n_bands: int) -> int:
        """Channels the output has beyond the input's ``n_bands``."""
        return 0 if self.reference is None else n_bands - 1

    @staticmethod
    def _median_last(v: torch.Tensor) -> torch.Tensor:
        # Lower median = largest of the (n+1)//2 smallest values: an unsorted top-k and a max.
        # Exact (same value as sorting), exports to ONNX as TopK + ReduceMax (``aten::median``
        # does not export), and ~5x faster than a full sort in eager PyTorch and ONNX Runtime
        # (1681 pixels per band; measured with benchmarks/bench_model_throughput.py's models).
        k = (v.shape[-1] + 1) // 2
        return v.topk(k, dim=-1, largest=False, sorted=False).values.amax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images, same shape."""
        dtype = _output_dtype(x)
        if self.valid_only:
            return _rows_with_invalid(x, self._valid_only, self._all_valid).to(dtype)
        return self._all_valid(x).to(dtype)

    def _all_valid(self, x: torch.Tensor) -> torch.Tensor:
        x = _finite(x)
        flat = x.flatten(2)
        med = self._median_last(flat)
        mad = self._median_last((flat - med[..., None]).abs())
        scale = self.softening * 1.4826 * mad + self.eps * (1.0 + med.abs())
        centred = x - med[..., None, None]
        out = _asinh(centred / scale[..., None, None])
        if self.reference is None:
            return out
        return torch.cat([out, self._residuals(centred, None)], dim=1)

    def _valid_only(self, x: torch.Tensor) -> torch.Tensor:
        valid = _valid(x)
        x = torch.where(valid, x.float(), torch.zeros_like(x, dtype=torch.float32))
        flat, vflat = x.flatten(2), valid.flatten(2)
        to_low = _sent_low(vflat)
        med = _masked_lower_median(flat, vflat, to_low)  # no valid pixel: 0
        mad = _masked_lower_median((flat - med).abs(), vflat, to_low).squeeze(-1)
        med = med.squeeze(-1)
        scale = self.softening * 1.4826 * mad + self.eps * (1.0 + med.abs())  # > 0
        centred = torch.where(valid, x - med[..., None, None], torch.zeros_like(x))
        out = _asinh(centred / scale[..., None, None])  # asinh(0) = 0: invalid pixels stay 0
        if self.reference is None:
            return out
        return torch.cat([out, self._residuals(centred, valid)], dim=1)

    def _residuals(self, centred: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        """Each other band minus the reference scaled to its core flux, through ``asinh`` of its own noise: ``(B, C-1, H, W)``."""
        r = self.reference or 0  # a non-negative index (build_normalization); slices, not a list, so tracing keeps shapes

        def others(t: torch.Tensor) -> torch.Tensor:
            return torch.cat([t[:, :r], t[:, r + 1 :]], dim=1)

        h, w = centred.shape[-2:]
        yy = torch.arange(h, device=centred.device, dtype=torch.float32)[:, None] - (h - 1) / 2.0
        xx = torch.arange(w, device=centred.device, dtype=torch.float32)[None, :] - (w - 1) / 2.0
        core = ((yy * yy + xx * xx) <= self.core_radius**2).float()
        ref = centred[:, r : r + 1]
        band = others(centred)
        vres = None if valid is None else others(valid) & valid[:, r : r + 1]  # valid in the band and the reference
        weight = core if vres is None else core * vres.float()  # the colour from pixels valid in both (a masked core)
        num = (band * weight).sum(dim=(2, 3))
        den = (ref * weight).sum(dim=(2, 3))
        alpha = torch.where(den > 0, num / den.clamp(min=1e-30), torch.zeros_like(num)).clamp(min=0.0, max=100.0)
        res = band - alpha[..., None, None] * ref
        flat = res.flatten(2)
        if vres is None:
            med = self._median_last(flat)
            mad = self._median_last((flat - med[..., None]).abs())
        else:
            vflat = vres.flatten(2)
            to_low = _sent_low(vflat)
            med = _masked_lower_median(flat, vflat, to_low)
            mad = _masked_lower_median((flat - med).abs(), vflat, to_low).squeeze(-1)
            med = med.squeeze(-1)
        scale = self.softening * 1.4826 * mad + self.eps * (1.0 + med.abs())
        out = _asinh((res - med[..., None, None]) / scale[..., None, None])
        return out if vres is None else torch.where(vres, out, torch.zeros_like(out))


class FiniteOnly(nn.Module):
    """Replace bad pixels by 0 and do nothing else."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images, same shape."""
        return _finite(x).to(_output_dtype(x))


def build_normalization(spec: dict[str, Any], bands: list[str] | None = None) -> nn.Module:
    """Module for a card's ``normalization`` dict (``{"name": ..., **params}``); ``bands`` resolve ``colour_residuals``."""
    params = {k: v for k, v in spec.items() if k != "name"}
    name = spec.get("name")
    reference = params.get("colour_residuals")
    if reference is not None:
        if name != "asinh_mad":
            raise ConfigError(f"normalization {spec!r}: colour_residuals is a parameter of asinh_mad only")
        if not isinstance(reference, str) or bands is None or reference not in bands:
            raise ConfigError(f"normalization {spec!r}: colour_residuals must name one of the model's bands"
                              f" ({''.join(bands or [])}), e.g. 'i'")
        params["colour_residuals"] = bands.index(reference)
    try:
        if name == "per_image":
            return PerImageStandardize(**params)
        if name == "asinh_mad":
            return AsinhMAD(**params)
        if name == "none":
            return FiniteOnly(**params)
    except TypeError as exc:
        raise ConfigError(f"normalization {spec!r}: bad parameters ({exc})") from None
    raise ConfigError(f"unknown normalization {name!r}; expected one of {', '.join(NORMALIZATIONS)}")
