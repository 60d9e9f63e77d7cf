"""Each band's rotation read from the trace its resampling left in the noise: the interpolation's moiré.

A band rotated by ``θ`` about the stamp centre was resampled: every output pixel is a weighted
sum of the input pixels around the point it came from, and the weights follow that point's
sub-pixel position, which runs through the output grid as a periodic pattern (a moiré) whose
wave vectors are ``(cos θ − 1, −sin θ)`` and ``(sin θ, cos θ − 1)`` (folded into the grid's
band). White noise comes out with its variance modulated by that pattern — a bilinear kernel
halves it where a point falls between four pixels and keeps it where it falls on one — so the
squared noise carries each band's own ``θ`` mod 90°, whatever the object looks like: the
forensic signature of resampling (A. C. Popescu and H. Farid, "Exposing digital forgeries by
detecting traces of resampling", IEEE Trans. Signal Processing 53, 2005). It is what the image
estimate (:mod:`brahmasifier.survey.registration`) cannot have on an object whose bands differ
in colour structure: the same estimate reads the bands of clean copies several degrees apart
(``docs/survey-pixels.md`` §3, "Where the per-band form still loses").

Method (:func:`trace_angles`, per band): the band minus a Gaussian of :data:`HIGHPASS_SIGMA`
pixels (the object's light, most of it), squared, divided by its own local mean (a Gaussian of
:data:`VARIANCE_SIGMA` pixels: the object's Poisson noise and what the high-pass left of it),
clipped at its :data:`CLIP_QUANTILE` quantile, on the annulus ``RING`` about the centre (the
core left out); its power at the two wave vectors of every angle in ``[−45°, 45°)`` every
:data:`STEP` degrees (one BLAS product with a fixed bank), the best angle refined by a parabola.
A band's angle counts (``reliable``) where its peak is :data:`MIN_POWER` times the bank's median
power and :data:`MIN_RATIO` times the best peak more than :data:`PEAK_SEPARATION` degrees away;
angles within :data:`MIN_TURN` of 0 are never read (a slow moiré looks like the object's own
structure there: of 2,500 bands with a peak read at 2–4°, a quarter were right).

:func:`with_traces` then refines the angles of the objects whose bands are to be repaired, the
traces saying each band's angle mod 90° and the image estimate which of ``θ − 90°, θ, θ + 90°``
it is. Interpolation kernels closer to the ideal one leave weaker traces: fewer bands reach the
thresholds and keep the image estimate. Unrotated bands leave none.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from brahmasifier.survey.alignment import peak
from brahmasifier.survey.polar import median
from brahmasifier.survey.registration import BandAngles

__all__ = ["AGREE", "CLIP_QUANTILE", "HIGHPASS_SIGMA", "MIN_POWER", "MIN_RATIO", "MIN_TURN", "OBJECT_SIGMA",
           "PEAK_SEPARATION", "RING", "STEP", "VARIANCE_SIGMA", "Traces", "refined_angles", "trace_angles", "with_traces"]

#: σ (pixels) of the Gaussian whose output is subtracted: what is left is mostly noise.
HIGHPASS_SIGMA: float = 0.5
#: σ (pixels) of the Gaussian local mean the squared residual is divided by.
VARIANCE_SIGMA: float = 4.0
#: Inner and outer radius (pixels from the stamp centre) of the pixels read.
RING: tuple[float, float] = (4.0, 19.0)
#: The squared residual is clipped at this quantile of each band's (a bright arc's remains).
CLIP_QUANTILE: float = 0.99
#: Angular step of the bank of wave vectors, degrees (refined by a parabola between steps).
STEP: float = 0.5
#: Angles within this of 0° (mod 90°) are not read.
MIN_TURN: float = 3.0
#: A reliable peak: at least this many times the median power over the bank ...
MIN_POWER: float = 12.0
#: ... and this many times the highest power more than :data:`PEAK_SEPARATION` degrees away.
MIN_RATIO: float = 1.2
#: Degrees between the peak and the second peak :data:`MIN_RATIO` compares it with.
PEAK_SEPARATION: float = 2.0
#: Pixels within 2 px of light this many noise σ above the sky (smoothed over 1 px) are not read.
OBJECT_SIGMA: float = 4.0
#: Bands whose traces and image angles agree within this (degrees, mod 90°) fix the object's offset between the two.
AGREE: float = 10.0


@dataclass(frozen=True)
class Traces:
    """Per band ``(k, bands)``: the rotation its trace says (degrees in ``[−45, 45)``, scipy's sense), and whether it counts."""

    angle: np.ndarray
    reliable: np.ndarray


@lru_cache(maxsize=2)
def _bank(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ring's flat pixel indices, the angles read and the ``(pixels, 4 · angles)`` cos/sin bank of both wave vectors."""
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size] - centre
    radius = np.hypot(yy, xx)
    ring = np.flatnonzero(((radius >= RING[0]) & (radius < RING[1])).ravel())
    angles = np.arange(-45.0, 45.0, STEP)
    theta = np.deg2rad(angles)
    points = np.stack([xx.ravel()[ring], yy.ravel()[ring]], axis=1)
    columns = []
    for wave in (np.stack([np.cos(theta), -np.sin(theta)], 1), np.stack([np.sin(theta), np.cos(theta)], 1)):
        phase = 2.0 * np.pi * points @ (wave - np.round(wave)).T  # the moiré, folded into the grid's band
        columns += [np.cos(phase), np.sin(phase)]
    return ring, angles, np.ascontiguousarray(np.concatenate(columns, axis=1), dtype=np.float32)


def trace_angles(images: np.ndarray, invalid: np.ndarray | None = None) -> Traces:
    """Each band's rotation mod 90° from its resampling trace, for a batch ``(k, bands, H, W)`` (module docstring)."""
    images = np.asarray(images)
    k, nb, h, w = images.shape
    ring, angles, bank = _bank(h)
    if k == 0:
        return Traces(np.zeros((0, nb)), np.zeros((0, nb), dtype=bool))
    planes = images.reshape(k * nb, h, w).astype(np.float32)
    bad = ~np.isfinite(planes)
    if invalid is not None:
        bad |= np.asarray(invalid, dtype=bool).reshape(k * nb, h, w)
    planes = np.where(bad, np.float32(0.0), planes)
    highpass, local_mean, reach, smooth = _filters(h)
    residual = planes - _separable(planes, highpass)
    # The sky's pixels alone: the noise's level from the residual's MAD on the ring, and every pixel within
    # 2 px of one where the light smoothed over 1 px stands OBJECT_SIGMA noise σ above the ring's median
    # (a bright core or arc leaves more in the residual than the moiré), or of an invalid pixel, left out.
    sample = ring[::3]  # every third pixel of the ring: ample for a level and a scale
    noise = 1.4826 * median(np.abs(residual.reshape(k * nb, -1)[:, sample])) / _residual_gain(highpass)
    level = median(planes.reshape(k * nb, -1)[:, sample])
    light = _separable(planes, smooth) - level[:, :, None] > OBJECT_SIGMA * noise[:, :, None]
    keep = _separable((bad | light).astype(np.float32), reach) < 0.5
    inside = np.zeros(h * w, dtype=np.float32)
    inside[ring] = 1.0
    weight = keep * inside.reshape(1, h, w)
    power = residual**2 * weight
    local = _separable(power, local_mean) / np.maximum(_separable(weight, local_mean), 1e-6)
    ratio = (power / np.maximum(local, 1e-30)).reshape(k * nb, -1)[:, ring]
    used = weight.reshape(k * nb, -1)[:, ring] > 0
    cut = max(int(CLIP_QUANTILE * ring.size) - 1, 0)
    ceiling = np.partition(ratio, cut, axis=1)[:, cut:cut + 1]
    ratio = np.minimum(ratio, ceiling)
    mean = ratio.sum(axis=1, keepdims=True, dtype=np.float64) / np.maximum(used.sum(axis=1, keepdims=True), 1)
    signal = (ratio * (1.0 / np.maximum(mean, 1e-30)).astype(np.float32) - np.float32(1.0)) * used
    # one product per object: a 2-D product over the batch rounds by the batch's size, and an object's
    # angles must not depend on its batch (survey.registration does the same)
    proj = (signal.reshape(k, nb, -1) @ bank).reshape(k * nb, -1)
    n = len(angles)
    spectrum = sum(proj[:, i * n:(i + 1) * n] ** 2 for i in range(4))  # (k · bands, angles)
    readable = np.abs(angles) >= MIN_TURN
    masked = np.where(readable, spectrum, 0.0)
    position, top = peak(masked)  # the best bank index refined by a parabola, in [−n/2, n/2), and its power
    best = masked.argmax(axis=1)
    gap = np.abs((np.arange(n)[None, :] - best[:, None] + n // 2) % n - n // 2) * STEP
    second = np.where(gap > PEAK_SEPARATION, masked, 0.0).max(axis=1)
    reliable = (top >= MIN_POWER * np.median(spectrum, axis=1)) & (top >= MIN_RATIO * second) & used.any(axis=1)
    found = _wrap(angles[0] + position * STEP)
    return Traces(found.reshape(k, nb), reliable.reshape(k, nb))


@lru_cache(maxsize=2)
def _filters(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1-D operators as ``(size, size)`` matrices, each scipy's ``gaussian_filter1d`` of the identity.

    The high-pass's Gaussian (edges repeated), the local mean's (zeros beyond the edge), a box of 5
    pixels and the light's Gaussian (σ 1 px, edges repeated): a product is the filter, two BLAS
    products per stack of planes (:func:`_separable`).
    """
    from scipy import ndimage

    eye = np.eye(size)
    highpass = ndimage.gaussian_filter1d(eye, HIGHPASS_SIGMA, axis=0, mode="nearest")
    local_mean = ndimage.gaussian_filter1d(eye, VARIANCE_SIGMA, axis=0, mode="constant")
    reach = (np.abs(np.subtract.outer(np.arange(size), np.arange(size))) <= 2).astype(np.float64)
    smooth = ndimage.gaussian_filter1d(eye, 1.0, axis=0, mode="nearest")
    return tuple(np.ascontiguousarray(m, dtype=np.float32) for m in (highpass, local_mean, reach, smooth))  # type: ignore[return-value]


def _residual_gain(highpass: np.ndarray) -> float:
    """White noise's σ after the high-pass, per unit σ: ``√Σ (δ − K)²`` for the 2-D kernel ``K = g gᵀ`` at the centre."""
    g = highpass[len(highpass) // 2].astype(np.float64)
    centre = len(g) // 2
    return float(np.sqrt(1.0 - 2.0 * g[centre] ** 2 + np.sum(g**2) ** 2))


def _separable(planes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix`` applied along both axes of every plane ``(n, H, W)`` (square planes): ``M · P · Mᵀ``."""
    return np.asarray(matrix @ planes @ matrix.T)


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + 45.0) % 90.0 - 45.0


def _circular_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of angles mod 90° along the last axis (degrees), each with its weight."""
    z = (np.exp(1j * np.deg2rad(4.0 * values)) * weights).sum(axis=-1)
    return np.asarray(np.rad2deg(np.angle(z)) / 4.0)


def refined_angles(image: np.ndarray, traces: Traces) -> np.ndarray:
    """The image estimate's relative angles ``(k, bands)`` with each reliable band's angle from its trace.

    Where two or more bands are reliable: the offset between the traces (absolute, mod 90°)
    and the image angles (relative) is the one most reliable bands agree on within
    :data:`AGREE`; each reliable band takes its trace minus that offset, on the branch (± 90°)
    nearest its image angle where it is one of those that agree, in ``[−45°, 45°)`` otherwise.
    Where fewer than half of the reliable bands agree (a faint or round object: its image angles
    say nothing), the traces alone: each relative to their
    circular mean, in ``[−45°, 45°)``. Other bands keep the image angle; the result is centred on
    its median band, as the image estimate is.
    """
    trace, good = traces.angle, traces.reliable
    k = len(image)
    offsets = _wrap(trace - image)
    agree = (np.abs(_wrap(offsets[:, :, None] - offsets[:, None, :])) < AGREE) & good[:, None, :] & good[:, :, None]
    pick = agree.sum(axis=2).argmax(axis=1)
    members = agree[np.arange(k), pick]
    base = offsets[np.arange(k), pick]
    offset = base + _circular_mean(_wrap(offsets - base[:, None]), members)
    relative = _wrap(trace - offset[:, None])
    # bands that agree take the image's branch (a band may sit 60° from the others); the rest the nearest one
    anchored = np.where(members, image + _wrap(relative - image), relative)
    alone = _wrap(trace - _circular_mean(trace, good)[:, None])
    count, agreeing = good.sum(axis=1), members.sum(axis=1)
    by_image = (agreeing >= 2) & (2 * agreeing >= count)
    chosen = np.where(by_image[:, None], anchored, alone)
    out = np.where(good & (count >= 2)[:, None], chosen, image)
    return np.asarray(out - np.median(out, axis=1, keepdims=True))


def with_traces(angles: BandAngles, images: np.ndarray, invalid: np.ndarray | None = None) -> BandAngles:
    """``angles`` with the objects to repair (bands in ``band_flags``) re-read from their bands' traces.

    Objects the footprints decided (``footprint_flag``) keep theirs. The others' angles are
    :func:`refined_angles`; their bands to repair follow (those at least ``repair_angle`` from 0).
    The flags do not change.
    """
    rows = np.flatnonzero(angles.band_flags.any(axis=1) & ~angles.footprint_flag)
    if rows.size == 0:
        return angles
    traces = trace_angles(np.asarray(images)[rows], None if invalid is None else np.asarray(invalid)[rows])
    out = copy.copy(angles)
    out.angles = angles.angles.copy()
    out.angles[rows] = refined_angles(angles.angles[rows], traces)
    out.band_flags = angles.band_flags.copy()
    out.band_flags[rows] = np.abs(out.angles[rows]) >= angles.repair_angle
    return out
