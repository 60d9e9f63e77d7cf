"""Per-object pixel statistics of cutouts, and their compact summary: what "the data the model learned" looks like.

:func:`object_statistics` measures, for every object of a raw ``(k, 5, 41, 41)`` batch, the
columns of :data:`STAT_COLUMNS`:

- ``sigma_<b>``: the sky noise σ of band ``b`` (:func:`brahmasifier.sky.sky_stats`, the one estimator);
- ``corr_<b>``: the correlation between horizontally and vertically neighbouring pixels of the
  3 × 3-high-passed sky (:func:`brahmasifier.sky.highpass`, outside the central disc, pixels within
  4 σ). White noise gives about −0.17 after the high-pass (the box filter's own imprint), correlated
  noise more: the statistic compares data sets, it is not the correlation of the raw noise;
- ``fwhm_<b>``: the PSF size proxy, ``2.355 √((I_xx + I_yy)/2)`` of the background-subtracted
  positive light within :data:`CORE_RADIUS` px of the centroid (the core of the central object,
  seeing-dominated for the compact deflectors of a lens search);
- ``flux_<b>``: the central object's background-subtracted flux within :data:`APERTURE_RADIUS` px;
- ``size``: the second-moment radius (px) of the r+i+z light within :data:`APERTURE_RADIUS` px;
- ``misalign``: the largest distance (px) between a band's core centroid and the r+i+z core
  centroid, over the bands whose core peaks above 5 σ (misregistered bands);
- ``masked``: the fraction of invalid pixels (:func:`brahmasifier.pixels.invalid_mask`: NaN/Inf,
  huge values, constant fills touching the border such as rotated-footprint corners).

Invalid pixels are left out of every statistic. :class:`PixelHistogram` accumulates the
histogram of ``asinh((x − level)/σ)`` over the valid pixels of all bands (fixed edges, so two
data sets compare bin by bin). :func:`summarise` reduces a sample of per-object statistics to
:data:`QUANTILE_LEVELS` quantiles and means per column: ~1,200 numbers, small enough for the
model card, and enough for a KS distance at 2% resolution (:mod:`brahmasifier.shift.compare`).

Cost (measured on the shared 2-core machine, under a load of ~6): ``check`` measures 2,000
objects in 50–85 s including the embedding (``experiments/data_shift.py``), dominated by
``sky_stats``' medians (run once per batch in float32, shared by every statistic).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from brahmasifier.bands import BANDS
from brahmasifier.pixels import invalid_mask, masked_fraction
from brahmasifier.sky import highpass, outer_mask, sky_stats

__all__ = ["APERTURE_RADIUS", "CORE_RADIUS", "HIST_EDGES", "QUANTILE_LEVELS", "STAT_COLUMNS", "PixelHistogram",
           "RandomSample", "object_statistics", "sky_of", "summarise"]

#: Radius (px) of the central object's aperture (flux, size).
APERTURE_RADIUS: float = 8.0
#: Radius (px) of the core whose second moment is the PSF size proxy.
CORE_RADIUS: float = 4.0
#: Quantile levels kept in a summary (2% steps).
QUANTILE_LEVELS: np.ndarray = np.linspace(0.0, 1.0, 51)
#: Bin edges of the normalised-pixel histogram, in ``asinh((x - level)/σ)`` (outer bins take the rest).
HIST_EDGES: np.ndarray = np.linspace(-3.0, 7.0, 41)
#: The per-object statistics, in column order.
STAT_COLUMNS: tuple[str, ...] = (
    *(f"sigma_{b}" for b in BANDS), *(f"corr_{b}" for b in BANDS), *(f"fwhm_{b}" for b in BANDS),
    *(f"flux_{b}" for b in BANDS), "size", "misalign", "masked")


def _radius(height: int, width: int) -> np.ndarray:
    y = np.arange(height) - (height - 1) / 2.0
    x = np.arange(width) - (width - 1) / 2.0
    return np.hypot(y[:, None], x[None, :])


def _centroid(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted centroid ``(y, x)`` (px) of non-negative ``weights`` ``(..., H, W)``; NaN without light."""
    height, width = weights.shape[-2:]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    total = weights.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights * yy).sum(axis=(-2, -1)) / total, (weights * xx).sum(axis=(-2, -1)) / total


def _second_moment(weights: np.ndarray) -> np.ndarray:
    """``√((I_xx + I_yy)/2)`` (px) of non-negative ``weights`` ``(..., H, W)`` about their centroid; NaN without light."""
    height, width = weights.shape[-2:]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    total = weights.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        cy = (weights * yy).sum(axis=(-2, -1)) / total
        cx = (weights * xx).sum(axis=(-2, -1)) / total
        dy2 = (yy - cy[..., None, None]) ** 2
        dx2 = (xx - cx[..., None, None]) ** 2
        m2 = (weights * (dy2 + dx2)).sum(axis=(-2, -1)) / total
    return np.where(total > 0, np.sqrt(0.5 * m2), np.nan)


def sky_of(images: np.ndarray, invalid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sky level and σ ``(k, 5)`` of raw ``images`` with the ``invalid`` pixels left out (float32: ~3× faster)."""
    x = torch.from_numpy(np.where(invalid, np.float32(np.nan), np.asarray(images, dtype=np.float32)))
    level, sigma = sky_stats(x)
    return level.double().numpy(), sigma.double().numpy()


def object_statistics(images: np.ndarray, invalid: np.ndarray | None = None,
                      sky: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The :data:`STAT_COLUMNS` of each object of raw ``images`` ``(k, 5, H, W)``, as float64 ``(k,)`` arrays.

    Args:
        images: raw pixels (any float dtype); not modified.
        invalid: their :func:`~brahmasifier.pixels.invalid_mask`, if already computed.
        sky: their :func:`sky_of`, if already computed.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[1] != len(BANDS):
        raise ValueError(f"object_statistics needs (k, {len(BANDS)}, H, W) images, got {x.shape}")
    bad = invalid_mask(np.asarray(images)) if invalid is None else invalid
    x = np.where(bad, np.nan, x)
    level, sigma = sky_of(images, bad) if sky is None else sky
    valid = ~bad
    height, width = x.shape[-2:]
    filled = np.where(valid, x, level[..., None, None])
    filled = np.nan_to_num(filled, nan=0.0)
    z = highpass(torch.from_numpy(filled)).numpy()
    outer = outer_mask(height, width).numpy()
    noise = valid & outer & (np.abs(z) <= 4.0 * sigma[..., None, None] * 0.947)
    zm = np.where(noise, z, 0.0)
    pairs = ((noise[..., :, 1:] & noise[..., :, :-1]).sum(axis=(-2, -1))
             + (noise[..., 1:, :] & noise[..., :-1, :]).sum(axis=(-2, -1)))
    cross = (zm[..., :, 1:] * zm[..., :, :-1]).sum(axis=(-2, -1)) + (zm[..., 1:, :] * zm[..., :-1, :]).sum(axis=(-2, -1))
    n_noise = noise.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (cross / pairs) / ((zm**2).sum(axis=(-2, -1)) / n_noise)

    radius = _radius(height, width)
    light = np.where(valid, filled - level[..., None, None], 0.0)
    aperture = radius <= APERTURE_RADIUS
    flux = np.where(aperture, light, 0.0).sum(axis=(-2, -1))
    core = np.where(radius <= CORE_RADIUS, np.clip(light, 0.0, None), 0.0)
    fwhm = 2.3548 * _second_moment(core)
    central = [BANDS.index(b) for b in ("r", "i", "z")]
    size = _second_moment(np.where(aperture, np.clip(light[:, central].sum(axis=1), 0.0, None), 0.0))
    # band misalignment: the largest offset of a band's core centroid from the r+i+z core centroid, in bands whose
    # core is detected (peak above 5 sky σ); a misregistered band moves its own centroid, a real colour gradient barely.
    cy, cx = _centroid(core)
    ref_y, ref_x = _centroid(core[:, central].sum(axis=1))
    detected = np.where(radius <= CORE_RADIUS, light, -np.inf).max(axis=(-2, -1)) > 5.0 * sigma
    offset = np.hypot(cy - ref_y[:, None], cx - ref_x[:, None])
    misalign = np.where(detected & np.isfinite(offset), offset, -np.inf).max(axis=1)
    misalign = np.where(np.isfinite(misalign), misalign, np.nan)

    out: dict[str, np.ndarray] = {}
    for family, values in (("sigma", sigma), ("corr", corr), ("fwhm", fwhm), ("flux", flux)):
        for j, band in enumerate(BANDS):
            out[f"{family}_{band}"] = np.asarray(values[:, j], dtype=np.float64)
    out["size"] = np.asarray(size, dtype=np.float64)
    out["misalign"] = np.asarray(misalign, dtype=np.float64)
    out["masked"] = masked_fraction(bad)
    return out


class PixelHistogram:
    """Running histogram of ``asinh((x − level)/σ)`` over valid pixels (all bands), on :data:`HIST_EDGES`."""

    def __init__(self) -> None:
        self.counts = np.zeros(len(HIST_EDGES) + 1, dtype=np.int64)

    def add(self, images: np.ndarray, invalid: np.ndarray, sky: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Add the valid pixels of raw ``images`` ``(k, 5, H, W)`` (``invalid``: their invalid mask; ``sky``: :func:`sky_of`)."""
        x = np.where(invalid, np.nan, np.asarray(images, dtype=np.float64))
        level, sigma = sky_of(images, invalid) if sky is None else sky
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.arcsinh((x - level[..., None, None]) / sigma[..., None, None])
        z = z[np.isfinite(z)]
        self.counts += np.bincount(np.searchsorted(HIST_EDGES, z), minlength=len(self.counts))

    def fractions(self) -> np.ndarray:
        """The histogram normalised to sum 1 (zeros when empty)."""
        total = self.counts.sum()
        return self.counts / total if total else self.counts.astype(np.float64)


class RandomSample:
    """A uniform random sample of at most ``size`` rows of per-object statistics, kept while streaming.

    Each row gets a uniform random key from ``rng``; the ``size`` smallest keys are kept (a
    bottom-k sketch: a uniform sample of everything seen, in bounded memory).
    """

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size, self.rng = int(size), rng
        self.keys = np.empty(0)
        self.rows: dict[str, np.ndarray] = {}

    def add(self, stats: dict[str, np.ndarray]) -> None:
        """Offer one batch's statistics."""
        n = len(next(iter(stats.values())))
        keys = np.concatenate([self.keys, self.rng.random(n)])
        rows = {c: np.concatenate([self.rows.get(c, np.empty(0)), v]) for c, v in stats.items()}
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keys, rows = keys[keep], {c: v[keep] for c, v in rows.items()}
        self.keys, self.rows = keys, rows

    def __len__(self) -> int:
        return len(self.keys)


def summarise(stats: dict[str, np.ndarray], histogram: PixelHistogram, n_objects: int) -> dict[str, Any]:
    """The JSON-ready summary of a sample of per-object statistics (quantiles, means) and the pixel histogram."""
    columns: dict[str, Any] = {}
    for name in STAT_COLUMNS:
        values = np.asarray(stats.get(name, np.empty(0)), dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            columns[name] = {"mean": None, "quantiles": None}
            continue
        columns[name] = {"mean": float(values.mean()),
                         "quantiles": [float(f"{q:.6g}") for q in np.quantile(values, QUANTILE_LEVELS)]}
    return {
        "n_objects": int(n_objects), "n_sampled": len(next(iter(stats.values()), [])),
        "quantile_levels": [round(float(p), 4) for p in QUANTILE_LEVELS],
        "columns": columns,
        "pixel_histogram": {"edges_asinh": [round(float(e), 4) for e in HIST_EDGES],
                            "fractions": [float(f"{f:.6g}") for f in histogram.fractions()]},
    }
