"""Band registration: each band's rotation against the other bands, the misregistered flag, and the repair.

Method (per object, vectorised over a batch):

1. Each band is put on a common scale: minus its median, over ``1.4826 × MAD`` (its noise),
   through ``asinh(v / 3)`` (the bright core no longer dominates; a soft threshold of
   :data:`THRESHOLD` σ before it measured worse at a 1% false-flag rate); invalid pixels
   (:func:`brahmasifier.pixels.fill_mask`, or NaN) are set to 0.
2. The band is resampled (bilinear, one sparse matrix for every image) onto a polar grid about
   the stamp centre: radii 2–18 px every 1.5 px (inside the inscribed circle that rotated
   footprints keep), every :data:`STEP` degrees (3°: as good as 2° × 1 px at half the cost); each ring's
   mean is removed (the radial profile says nothing about an angle).
3. A rotation about the centre is a circular shift along the angle, so the correlation of
   band ``b`` with the sum of the *other* bands at every shift is one FFT along the angle,
   summed over the radii, normalised into a correlation coefficient ``ρ_b(Δ)``. The band's
   estimated rotation is the best shift (refined by a parabola through the peak), relative to
   the median of the five bands' estimates (so the bands that agree define 0).
4. An object is ``misregistered`` when some band's estimate is at least :data:`MIN_ANGLE` from
   0 **and** that band correlates better rotated than as it is, by at least :data:`MIN_GAIN` in
   ``ρ`` (a round or faint object has no angle to measure: its ``ρ`` barely changes, and it is
   not flagged). Both thresholds were set on clean sets for a false-flag rate ≤ 1%
   (``docs/survey-pixels.md``).
5. :func:`register_bands` rotates each flagged band back (bilinear, about the centre); pixels
   the rotation uncovers (and any touching an invalid pixel) become NaN: invalid.

Angles are degrees in ``scipy.ndimage.rotate``'s sense: a band rotated by ``+θ`` from the
others is estimated at ``+θ``, and rotated by ``−θ`` to repair it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["MIN_ANGLE", "MIN_GAIN", "RADII", "STEP", "BandAngles", "estimate_band_angles", "register_bands"]

#: Angular step of the polar grid, degrees (the estimate is refined between steps).
STEP: float = 3.0
#: Radii of the polar grid, pixels from the stamp centre.
RADII: np.ndarray = np.arange(2.0, 18.5, 1.5)
#: Pixels within this many noise σ of the band's median are set to 0 (soft threshold: pure noise has no angle).
THRESHOLD: float = 0.0
#: Smallest |angle| (degrees) of a band that flags an object.
MIN_ANGLE: float = 6.0
#: Smallest gain in correlation coefficient (rotated against as it is) that flags an object.
MIN_GAIN: float = 0.16


class BandAngles:
    """Per object: each band's estimated rotation (degrees, ``(k, bands)``), its correlation gain, and the flag."""

    def __init__(self, angles: np.ndarray, gain: np.ndarray, min_angle: float = MIN_ANGLE,
                 min_gain: float = MIN_GAIN) -> None:
        self.angles = angles
        self.gain = gain
        self.band_flags = (np.abs(angles) >= min_angle) & (gain >= min_gain)
        self.misregistered = self.band_flags.any(axis=1)

    def columns(self, bands: tuple[str, ...]) -> dict[str, Any]:
        """The probabilities-file columns: ``misregistered`` 0/1 and ``band_angle_<b>``."""
        out: dict[str, Any] = {"misregistered": self.misregistered.astype(np.int8)}
        for j, band in enumerate(bands):
            out[f"band_angle_{band}"] = np.round(self.angles[:, j], 2)
        return out


@lru_cache(maxsize=4)
def _polar_matrix(size: int, step: float, radii: tuple[float, ...]) -> Any:
    """Sparse ``(len(radii) · n_angles, size²)`` bilinear resampling onto the polar grid."""
    from scipy import sparse

    centre = (size - 1) / 2.0
    phi = np.deg2rad(np.arange(0.0, 360.0, step))
    rr, pp = np.meshgrid(np.asarray(radii), phi, indexing="ij")
    y = centre + rr * np.sin(pp)
    x = centre + rr * np.cos(pp)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    rows = np.arange(rr.size)
    data, ii, jj = [], [], []
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        data.append(w.ravel())
        ii.append(rows)
        jj.append(((y0 + dy) * size + (x0 + dx)).ravel())
    return sparse.csr_matrix((np.concatenate(data), (np.concatenate(ii), np.concatenate(jj))), shape=(rr.size, size * size))


def _scaled(images: np.ndarray, invalid: np.ndarray | None) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    k, nb, h, w = x.shape
    flat = x.reshape(k, nb, h * w)
    bad = ~np.isfinite(flat) if invalid is None else (invalid.reshape(k, nb, h * w) | ~np.isfinite(flat))
    work = np.where(bad, np.nan, flat)
    if bad.any():
        med = np.nanmedian(work, axis=2, keepdims=True)
        mad = np.nanmedian(np.abs(work - med), axis=2, keepdims=True)
    else:
        med = np.median(flat, axis=2, keepdims=True)
        mad = np.median(np.abs(flat - med), axis=2, keepdims=True)
    med = np.nan_to_num(med)
    sigma = 1.4826 * np.nan_to_num(mad) + 1e-12 * (1.0 + np.abs(med))
    v = (flat - med) / sigma
    out = np.arcsinh(np.sign(v) * np.maximum(np.abs(v) - THRESHOLD, 0.0) / 3.0)  # noise below the threshold: 0
    out[bad] = 0.0
    return out


def estimate_band_angles(images: np.ndarray, invalid: np.ndarray | None = None, *, min_angle: float = MIN_ANGLE,
                         min_gain: float = MIN_GAIN) -> BandAngles:
    """Each band's rotation against the others for a batch ``(k, bands, H, W)`` (see the module docstring).

    Args:
        images: raw pixels (NaN allowed: invalid).
        invalid: optional boolean mask of the same shape (e.g. :func:`brahmasifier.pixels.fill_mask`).
        min_angle: smallest |angle| that flags a band.
        min_gain: smallest correlation gain that flags a band.
    """
    images = np.asarray(images)
    k, nb, h, w = images.shape
    if k == 0:
        return BandAngles(np.zeros((0, nb)), np.zeros((0, nb)), min_angle, min_gain)
    scaled = _scaled(images, invalid).reshape(k * nb, h * w)
    polar = np.asarray((_polar_matrix(h, STEP, tuple(RADII)) @ scaled.T).T, dtype=np.float32)
    n_phi = round(360.0 / STEP)
    polar = polar.reshape(k, nb, len(RADII), n_phi)
    polar -= polar.mean(axis=3, keepdims=True)
    reference = polar.sum(axis=1, keepdims=True) - polar  # every other band
    fa, fb = np.fft.rfft(polar, axis=3), np.fft.rfft(reference, axis=3)
    corr = np.fft.irfft(fa * np.conj(fb), n=n_phi, axis=3).sum(axis=2)  # (k, nb, n_phi): shift s = band(φ + s) vs ref(φ)
    norm = np.sqrt((polar**2).sum(axis=(2, 3)) * (reference**2).sum(axis=(2, 3))) + 1e-12
    rho = corr / norm[..., None]
    best = rho.argmax(axis=2)
    left = np.take_along_axis(rho, ((best - 1) % n_phi)[..., None], axis=2)[..., 0]
    mid = np.take_along_axis(rho, best[..., None], axis=2)[..., 0]
    right = np.take_along_axis(rho, ((best + 1) % n_phi)[..., None], axis=2)[..., 0]
    denom = left - 2 * mid + right
    refine = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    shift = (best + np.clip(refine, -0.5, 0.5)) * STEP
    shift = (shift + 180.0) % 360.0 - 180.0
    # a band whose structure is shifted by +s along φ was rotated by -s (φ counted from +x towards +row)
    angles = -shift
    median = np.median(angles, axis=1, keepdims=True)
    relative = (angles - median + 180.0) % 360.0 - 180.0
    gain = mid - rho[..., 0]
    return BandAngles(relative, gain, min_angle, min_gain)


def register_bands(images: np.ndarray, angles: BandAngles) -> np.ndarray:
    """A copy of ``images`` with every flagged band rotated back by its estimated angle (uncovered pixels NaN)."""
    from scipy import ndimage

    out = np.array(images, dtype=np.float32, copy=True)
    for obj, band in zip(*np.nonzero(angles.band_flags), strict=True):
        out[obj, band] = ndimage.rotate(out[obj, band].astype(np.float64), -float(angles.angles[obj, band]), reshape=False,
                                        order=1, mode="constant", cval=np.nan, prefilter=False)
    return out
