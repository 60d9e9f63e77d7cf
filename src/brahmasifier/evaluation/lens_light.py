"""Lens-light subtraction: a smooth model of the central galaxy fitted per band and removed.

The model is an elliptical **multi-Gaussian expansion** (MGE, Emsellem et al. 1994; Cappellari
2002): :data:`N_GAUSSIANS` concentric Gaussians of fixed widths (0.8 to 12 px, log-spaced) that
share one centre, axis ratio and position angle in all five bands, with non-negative amplitudes
fitted per band, plus a constant sky per band. The four shape parameters are fitted by
``scipy.optimize.least_squares`` with the amplitudes solved inside each evaluation by NNLS
(variable projection). A non-negative sum of concentric Gaussians decreases monotonically from
the centre, so it cannot absorb a ring or an arc; pixels that stay significantly *above* the
model (arcs, neighbours) outside the central 1.5 px are masked and the fit is repeated
(:data:`CLIP_ITERATIONS` times), so they do not pull the model up. The fit works on the observed
(PSF-convolved) image directly: the PSF's core and Moffat wings are absorbed by the widths.

Measured (``experiments/inspect_panels.py``, 40 simulated lenses per domain of our engine, seeds 7
and 11; the metric is defined there): the arc's contrast in the g+r+i residual is a median
5.8× / 6.9× (slsim) and 4.7× / 11.7× (hsc) its contrast in the plain image, and at least 2× for
70–85% of the lenses; the alternative that subtracts the colour-scaled i band from g and r
reaches 4.5× / 5.4× and 4.3× / 9.9× (the i band's noise and the arc's own i-band light go in
with it). On the same galaxies drawn without their lensed source, the residual's χ² per pixel
in the central 10 px disc is a median 1.05 (slsim, both seeds; 84th percentile 1.7–2.2, the
brightest galaxies, whose profile the eight Gaussians do not follow to the noise). 0.43 s per
object (40 demo cutouts, on the shared 2-core machine under load).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_dilation, uniform_filter
from scipy.optimize import least_squares, nnls

from brahmasifier.sky import sky_stats

__all__ = ["CLIP_ITERATIONS", "CLIP_SNR", "N_GAUSSIANS", "WIDTHS_PX", "LensLightFit", "fit_lens_light"]

#: Widths (σ, pixels) of the Gaussians: from below the PSF's σ (≈1.5 px) to the stamp's scale.
N_GAUSSIANS = 8
WIDTHS_PX: np.ndarray = np.geomspace(0.8, 12.0, N_GAUSSIANS)
#: Refits after masking pixels whose 3×3-smoothed combined S/N above the model exceeds :data:`CLIP_SNR`.
CLIP_ITERATIONS = 2
CLIP_SNR = 2.0
#: Pixels closer than this to the fitted centre are never masked (the model must fit the core).
CORE_RADIUS_PX = 1.5


@dataclass(frozen=True)
class LensLightFit:
    """The fitted lens light of one cutout (all arrays ``(5, H, W)`` in the image's raw units)."""

    model: np.ndarray  # the smooth galaxy model, sky excluded
    residual: np.ndarray  # image − sky − model
    sky_level: np.ndarray  # (5,) the fitted constant per band
    sky_sigma: np.ndarray  # (5,) robust sky noise per band (brahmasifier.sky.sky_stats)
    masked: np.ndarray  # (H, W) bool: pixels left out of the last fit (arcs, neighbours)
    centre: tuple[float, float]  # (x, y) pixels, 0-based column / row
    axis_ratio: float
    angle: float  # radians, of the major axis from +x


def _coordinates(n: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return x.ravel(), y.ravel()


def _basis(params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(n_pixels, N_GAUSSIANS + 1)``: unit-peak elliptical Gaussians and a constant."""
    x0, y0, q, phi = params
    c, s = math.cos(phi), math.sin(phi)
    dx, dy = x - x0, y - y0
    u = dx * c + dy * s
    v = -dx * s + dy * c
    r2 = u * u * q + v * v / q  # area-preserving ellipse: circularised radius squared
    columns = [np.exp(-0.5 * r2 / (w * w)) for w in WIDTHS_PX]
    columns.append(np.ones_like(x))
    return np.stack(columns, axis=1)


def _solve(design: np.ndarray, data: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per band: non-negative Gaussian amplitudes and a free-signed constant (weighted least squares)."""
    k = design.shape[1]
    augmented = np.concatenate([design, -design[:, -1:]], axis=1)  # constant = c⁺ − c⁻, both ≥ 0
    coefficients = np.empty((data.shape[0], k))
    for b in range(data.shape[0]):
        solution, _ = nnls(augmented * weights[b], data[b] * weights[b], maxiter=20 * k)
        coefficients[b] = solution[:k]
        coefficients[b, -1] -= solution[k]
    return coefficients


def _initial_shape(light: np.ndarray) -> np.ndarray:
    """Centre, axis ratio and angle from the second moments of the central light."""
    n = light.shape[0]
    c = n // 2
    half = 6
    patch = np.clip(light[c - half : c + half + 1, c - half : c + half + 1], 0.0, None)
    total = patch.sum()
    if not np.isfinite(total) or total <= 0:
        return np.array([c, c, 1.0, 0.0])
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    mx, my = (patch * x).sum() / total, (patch * y).sum() / total
    xx = (patch * (x - mx) ** 2).sum() / total
    yy = (patch * (y - my) ** 2).sum() / total
    xy = (patch * (x - mx) * (y - my)).sum() / total
    root = math.sqrt(max((xx - yy) ** 2 / 4 + xy * xy, 0.0))
    major, minor = (xx + yy) / 2 + root, max((xx + yy) / 2 - root, 1e-6)
    q = float(np.clip(math.sqrt(minor / major), 0.3, 1.0)) if major > 0 else 1.0
    return np.array([c + np.clip(mx, -2, 2), c + np.clip(my, -2, 2), q, 0.5 * math.atan2(2 * xy, xx - yy)])


def fit_lens_light(image: np.ndarray, sky_sigma: np.ndarray | None = None) -> LensLightFit:
    """Fit and remove the central galaxy's light from a ``(5, H, W)`` cutout (raw units, square).

    Args:
        image: the cutout; non-finite pixels count as 0.
        sky_sigma: per-band noise σ (default: :func:`brahmasifier.sky.sky_stats`), the fit's weights.

    Returns:
        The model, the residual and the fitted shape (:class:`LensLightFit`).
    """
    data = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n_bands, n, _ = data.shape
    if sky_sigma is None:
        level, sigma = sky_stats(data)
        data_for_shape = data - level[:, None, None]
    else:
        sigma = np.asarray(sky_sigma, dtype=np.float64)
        data_for_shape = data - np.median(data, axis=(1, 2))[:, None, None]
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, max(float(np.nanmax(np.abs(data))), 1.0) * 1e-3)
    weights = 1.0 / sigma
    x, y = _coordinates(n)
    flat = data.reshape(n_bands, -1)
    params = _initial_shape((data_for_shape / sigma[:, None, None]).sum(axis=0))
    lower, upper = [n / 2 - 4, n / 2 - 4, 0.2, -10.0], [n / 2 + 3, n / 2 + 3, 1.0, 10.0]
    params = np.clip(params, np.array(lower) + 1e-6, np.array(upper) - 1e-6)
    keep = np.ones(n * n, dtype=bool)

    def residuals(p: np.ndarray) -> np.ndarray:
        design = _basis(p, x[keep], y[keep])
        coefficients = _solve(design, flat[:, keep], weights)
        return ((flat[:, keep] - coefficients @ design.T) * weights[:, None]).ravel()

    masked = np.zeros((n, n), dtype=bool)
    for iteration in range(CLIP_ITERATIONS + 1):
        params = least_squares(residuals, params, bounds=(lower, upper), x_scale=[1.0, 1.0, 0.1, 0.3],
                               xtol=1e-4, ftol=1e-5, max_nfev=60).x
        design = _basis(params, x[keep], y[keep])
        coefficients = _solve(design, flat[:, keep], weights)
        full = _basis(params, x, y)
        fitted = (coefficients @ full.T).reshape(n_bands, n, n)
        if iteration == CLIP_ITERATIONS:
            break
        snr = ((data - fitted) / sigma[:, None, None]).sum(axis=0) / math.sqrt(n_bands)
        smooth = uniform_filter(snr, size=3, mode="nearest") * 3.0  # the mean of 9 unit-σ pixels has σ 1/3
        r2 = (x - params[0]) ** 2 + (y - params[1]) ** 2
        masked = binary_dilation(smooth > CLIP_SNR) & (r2.reshape(n, n) > CORE_RADIUS_PX**2)
        if masked.mean() > 0.5:  # never let the mask take over the stamp
            break
        keep = ~masked.ravel()
    sky_level = coefficients[:, -1]
    model = fitted - sky_level[:, None, None]
    residual = data - fitted
    return LensLightFit(model=model, residual=residual, sky_level=sky_level, sky_sigma=sigma, masked=masked,
                        centre=(float(params[0]), float(params[1])), axis_ratio=float(params[2]),
                        angle=float(params[3]))
