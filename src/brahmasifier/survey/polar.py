"""The polar grid and Fourier arithmetic of the band-registration estimate (:mod:`brahmasifier.survey.registration`).

Resampling onto a polar grid about the stamp centre (one sparse bilinear matrix), robust level
and noise per band, the real DFT along the angle as BLAS products, and the fill of holes every
band shares (:func:`fill_shared_holes`, before the resampling): the pieces
:func:`~brahmasifier.survey.registration.estimate_band_angles` is built from, each measured
there (its module docstring, "Speed").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["HOLE_MIN_WEIGHT", "HOLE_RADIUS", "HOLE_SIGMA", "central_pixels", "dft_matrices", "fill_shared_holes",
           "level_and_noise", "lower_median", "median", "median_and_mad", "polar_matrix", "polar_support", "rfft_weights"]


#: Gaussian σ (pixels) of the normalised convolution :func:`fill_shared_holes` fills with.
HOLE_SIGMA: float = 1.0
#: Pixels whose valid neighbours weigh less than this (of the kernel's 1) stay invalid.
HOLE_MIN_WEIGHT: float = 0.05
#: An object's shared holes are filled only where one comes this close to the centre (pixels; see :func:`fill_shared_holes`).
HOLE_RADIUS: float = 10.0


def rfft_weights(n: int) -> np.ndarray:
    """Parseval weights of a real FFT of length ``n`` (bins other than 0 and Nyquist count twice)."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


@lru_cache(maxsize=4)
def polar_matrix(size: int, step: float, radii: tuple[float, ...]) -> Any:
    """Sparse ``(size², len(radii) · n_angles)`` bilinear resampling onto the polar grid (images @ it)."""
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
    weights = np.concatenate(data).astype(np.float32)  # float32 images stay float32 (half the memory traffic)
    matrix = sparse.csr_matrix((weights, (np.concatenate(ii), np.concatenate(jj))), shape=(rr.size, size * size))
    return matrix.T  # CSC: ``images @ matrix`` needs no transposed copy of the images (half the time)


@lru_cache(maxsize=4)
def polar_support(size: int, step: float, radii: tuple[float, ...]) -> tuple[np.ndarray, Any]:
    """The flat indices of the pixels the polar grid reads (r < 20.5 px at 41 × 41) and its matrix on them alone.

    A rotated footprint's filled corners lie outside: the level, the noise and the resampling
    never see them (:mod:`brahmasifier.survey.registration`, "Speed").
    """
    matrix = polar_matrix(size, step, radii)
    support = np.flatnonzero(np.diff(matrix.tocsr().indptr) > 0)
    return support, matrix.tocsr()[support].tocsc()


def lower_median(sample: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Lower median of the valid values along the last axis (0 where none): one sort, invalid values last."""
    ordered = np.sort(np.where(valid, sample, np.inf), axis=-1)
    k = np.maximum((valid.sum(axis=-1, keepdims=True) + 1) // 2 - 1, 0)
    out = np.take_along_axis(ordered, k, axis=-1)
    return np.where(np.isfinite(out), out, 0.0)


def median(sample: np.ndarray) -> np.ndarray:
    """``np.median(sample, axis=-1, keepdims=True)`` by one sort (exactly).

    numpy's vectorised float sort beats ``np.partition`` on rows of a few hundred values (14 vs
    17 µs per object here) and ``np.median`` by 2x.
    """
    n = sample.shape[-1]
    lo, hi = (n - 1) // 2, n // 2
    part = np.sort(sample, axis=-1)
    return 0.5 * (part[..., lo:lo + 1] + part[..., hi:hi + 1])


def median_and_mad(sample: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD along the last axis: exact over every value, or the lower ones over the ``valid`` values."""
    if valid is None:
        med = median(sample)
        return med, median(np.abs(sample - med))
    med = lower_median(sample, valid)
    return med, lower_median(np.abs(np.where(valid, sample, 0.0) - med), valid)


def level_and_noise(flat: np.ndarray, bad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per band: median and ``1.4826 × MAD`` of every third pixel (a third of the work; ample for a scale).

    Bands with an invalid sampled pixel take the valid-only sort; the others the exact median of all.
    """
    sample = flat[..., ::3]
    holed = np.zeros(sample.shape[:-1], dtype=bool) if bad is None else bad[..., ::3].any(axis=-1)
    if not holed.any():
        med, mad = median_and_mad(sample)
    else:
        med, mad = np.empty((*sample.shape[:-1], 1), sample.dtype), np.empty((*sample.shape[:-1], 1), sample.dtype)
        med[holed], mad[holed] = median_and_mad(sample[holed], ~bad[..., ::3][holed])  # type: ignore[index]
        med[~holed], mad[~holed] = median_and_mad(sample[~holed])
    return med, 1.4826 * mad + 1e-12 * (1.0 + np.abs(med))


@lru_cache(maxsize=4)
def dft_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real-input DFT of length ``n`` as one real ``(n, 2 (n//2 + 1))`` matrix, and the inverse ``(2 (n//2 + 1), n)`` one.

    ``(x @ F).view(np.complex64)`` is ``np.fft.rfft(x)`` (real and imaginary parts interleaved
    in the columns, so a float32 product is the complex spectrum without a complex matmul);
    ``X.view(np.float32) @ G`` is ``np.fft.irfft(X, n)`` for a Hermitian spectrum ``X`` (complex64). At n = 90 on batches
    of 256 objects one BLAS call beats pocketfft on 50 short rows per object
    (:mod:`brahmasifier.survey.registration`, "Speed").
    """
    m = np.arange(n // 2 + 1)
    t = np.arange(n)
    spectrum = np.exp(-2j * np.pi * np.outer(t, m) / n)
    forward = np.empty((n, 2 * len(m)), dtype=np.float32)
    forward[:, 0::2], forward[:, 1::2] = spectrum.real, spectrum.imag
    inverse_c = np.exp(2j * np.pi * np.outer(m, t) / n) * (rfft_weights(n)[:, None] / n)
    inverse = np.empty((2 * len(m), n), dtype=np.float32)  # Re(X G) = Re X · Re G − Im X · Im G, interleaved rows
    inverse[0::2], inverse[1::2] = inverse_c.real, -inverse_c.imag
    return forward, inverse


def central_pixels(size: int, pixels: np.ndarray) -> np.ndarray:
    """Which of ``pixels`` (flat indices into a ``size × size`` stamp) lie within :data:`HOLE_RADIUS` of its centre."""
    yy, xx = np.divmod(pixels, size)
    centre = (size - 1) / 2.0
    return np.hypot(yy - centre, xx - centre) < HOLE_RADIUS


def fill_shared_holes(images: np.ndarray, bad: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``images`` and ``bad`` with the holes all bands of an object share (in ``inside``) filled from each band's neighbours.

    A normalised convolution per band: ``G * (I · valid) / G * valid`` with a Gaussian ``G`` of
    :data:`HOLE_SIGMA` pixels truncated at 3σ — ``astropy.convolution.interpolate_replace_nans``
    with a ``Gaussian2DKernel`` (a test checks the two agree), by two separable scipy filters
    for a whole batch. Pixels whose valid neighbours weigh less than :data:`HOLE_MIN_WEIGHT`
    stay as they were, and bad. The estimate calls it for the objects whose shared holes come
    within :data:`HOLE_RADIUS` of the centre (measured: the same detection as filling every
    object's, at 10 px against the whole grid; a third of the objects left out at 6 px lost
    nothing either, but more clean objects were flagged), ~130 µs per such object.

    Why (``docs/survey-pixels.md`` §3, "Holes every band shares"): a chip gap or an edge strip
    lies on the same pixels of every band; left out of the correlations it still took the same
    samples from every band, and a gap through the centre took the core: 44% of such objects
    with bands turned ≥ 10° were found. Each band filled from its own pixels keeps its own turn.

    Args:
        images: ``(k, bands, H, W)`` pixels.
        bad: boolean, the same shape: the invalid pixels.
        inside: boolean ``(H, W)``: the pixels that may be filled.

    Returns:
        New arrays: ``images`` (float32) filled, ``bad`` without the filled pixels.
    """
    from scipy import ndimage

    k, nb, h, w = images.shape
    holes = np.repeat(bad.all(axis=1) & inside, nb, axis=0)  # (k · bands, H, W): bad in every band
    lacking = bad.reshape(k * nb, h, w)
    planes = np.array(images, dtype=np.float32).reshape(k * nb, h, w)
    weight = ndimage.gaussian_filter((~lacking).astype(np.float32), (0.0, HOLE_SIGMA, HOLE_SIGMA), mode="constant",
                                     truncate=3.0)
    total = ndimage.gaussian_filter(np.where(lacking, np.float32(0.0), planes), (0.0, HOLE_SIGMA, HOLE_SIGMA),
                                    mode="constant", truncate=3.0)
    fill = holes & (weight >= HOLE_MIN_WEIGHT)
    planes[fill] = total[fill] / weight[fill]  # other bad pixels stay as they were
    return planes.reshape(k, nb, h, w), (lacking & ~fill).reshape(k, nb, h, w)
