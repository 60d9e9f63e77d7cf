"""Per-object measurements that every engine records, so that engines can be compared.

**Matched-filter arc S/N** (``sim_arc_snr_i``): the signal-to-noise ratio of the optimal
linear filter for a *known* template in Gaussian noise with a diagonal covariance,

    S/N = sqrt( Σ_pixels  s_p² / σ_p² ),

where ``s`` is the noiseless, PSF-convolved image of the lensed source alone (all its
images, no deflector or other light) on the 41×41 stamp and ``σ_p²`` the per-pixel noise
variance of the simulated data: the background variance (sky + read noise) plus the
shot-noise variance of the *whole* noiseless model in that pixel (deflector, source and any
other light). It is the S/N an ideal detector of exactly that arc would reach; it ignores
the confusion with the deflector's light (use a selection statistic for that). Both
quantities are in the same pixel unit (nJy here).

**Image multiplicity and separation** (``sim_n_images``, ``sim_image_sep``): images of the
source *centre* found with lenstronomy's ``LensEquationSolver`` (analytical solver where
lenstronomy supports the model, search window 6 θ_E, minimum distance 6 θ_E/200, images
demagnified below 0.01 dropped — SLSim's own settings; the numerical solver where the
analytical one finds nothing, e.g. an exactly round unsheared lens), and the largest distance
between two of them. A source exactly on a symmetry axis is a degenerate case for both
solvers; simulated sources never are.

**Extended-source magnification** (``sim_magnification`` of both engines' SLSim-like lenses):
SLSim's ``Lens._extended_integrated_source_magnification`` — the source's surface brightness
summed over a 200 × 200 grid 4 θ_E wide centred on the *source*, ray-shot through the lens,
divided by the same sum without the lens. Images farther than 2 θ_E from the source centre
fall outside the grid, so for sources far off axis it is below the total magnification; it is
the quantity SLSim's arc-magnitude cut uses, so our selection uses it too.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

__all__ = ["extended_magnification", "image_multiplicity", "matched_filter_snr", "noise_variance"]


def noise_variance(model: np.ndarray, background_rms: float, shot_variance_per_flux: float) -> np.ndarray:
    """Per-pixel noise variance: background plus Gaussian-approximated shot noise of ``model``.

    Args:
        model: noiseless image (all light), in pixel units.
        background_rms: background noise per pixel (sky + read), same unit.
        shot_variance_per_flux: variance added per unit of flux (``var = model × this``).

    Returns:
        ``background_rms² + max(model, 0) × shot_variance_per_flux``.
    """
    return background_rms**2 + np.clip(model, 0.0, None) * shot_variance_per_flux


def matched_filter_snr(template: np.ndarray, variance: np.ndarray) -> float:
    """Optimal matched-filter S/N of ``template`` against independent pixel noise of ``variance``.

    Args:
        template: noiseless signal image (the lensed source alone).
        variance: per-pixel noise variance, same shape, strictly positive.

    Returns:
        ``sqrt(Σ template² / variance)``.

    Raises:
        ValueError: shapes differ or a variance is not positive.
    """
    template = np.asarray(template, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if template.shape != variance.shape:
        raise ValueError(f"template {template.shape} and variance {variance.shape} differ in shape")
    if not np.all(variance > 0):
        raise ValueError("noise variance must be positive in every pixel")
    return float(math.sqrt(float(np.sum(template**2 / variance))))


def image_multiplicity(lens_model: object, kwargs_lens: list[dict[str, float]], x_source: float, y_source: float,
                       theta_e: float, centre: tuple[float, float] = (0.0, 0.0)) -> tuple[int, float]:
    """Number of images of a point at the source centre and their largest separation.

    Args:
        lens_model: a lenstronomy ``LensModel``.
        kwargs_lens: its keyword arguments.
        x_source: source-plane x of the source centre, arcsec.
        y_source: source-plane y, arcsec.
        theta_e: Einstein radius (sets the search window), arcsec.
        centre: centre of the numerical solver's search window, arcsec (the lens's scene offset).

    Returns:
        ``(n_images, separation)``; separation 0 for fewer than two images.
    """
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver, analytical_lens_model_support

    solver = LensEquationSolver(lens_model)
    window = 6.0 * max(theta_e, 0.05)
    options = {"search_window": window, "min_distance": window / 200.0, "magnification_limit": 0.01}
    if centre != (0.0, 0.0):  # only for moved scenes: centred ones keep their bytes
        options.update({"x_center": float(centre[0]), "y_center": float(centre[1])})
    xs: np.ndarray = np.array([])
    if analytical_lens_model_support(lens_model.lens_model_list):  # type: ignore[attr-defined]
        # The analytical EPL+shear solver is singular for an exactly round, unsheared lens (NaN, a
        # RuntimeWarning, no images): then the numerical solver decides.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            xs, ys = solver.image_position_from_source(x_source, y_source, kwargs_lens, solver="analytical", **options)
        if not np.all(np.isfinite(xs)) or not np.all(np.isfinite(ys)):
            xs = np.array([])
    if len(np.atleast_1d(xs)) == 0:
        xs, ys = solver.image_position_from_source(x_source, y_source, kwargs_lens, solver="lenstronomy", **options)
    points = list(zip(np.atleast_1d(xs), np.atleast_1d(ys), strict=True))
    separation = max((math.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.combinations(points, 2)), default=0.0)
    return len(points), float(separation)


def extended_magnification(lens_model: object, kwargs_lens: list[dict[str, float]], light_model: object,
                           kwargs_source: dict[str, float], theta_e: float, num_pix: int = 200) -> float:
    """SLSim's integrated magnification of an extended source (see the module docstring).

    Args:
        lens_model: a lenstronomy ``LensModel``.
        kwargs_lens: its keyword arguments.
        light_model: a lenstronomy ``LightModel`` of one profile.
        kwargs_source: that profile's keyword arguments without ``amp`` (the ratio does not depend on it).
        theta_e: Einstein radius, arcsec (sets the grid).
        num_pix: grid points per side (SLSim: 200).

    Returns:
        Lensed over unlensed flux on the grid (0 if the source has no flux there).
    """
    step = 4.0 * theta_e / num_pix
    c = (np.arange(num_pix) - (num_pix - 1) / 2.0) * step
    x, y = np.meshgrid(c + kwargs_source["center_x"], c + kwargs_source["center_y"])
    x, y = x.ravel(), y.ravel()
    bx, by = lens_model.ray_shooting(x, y, kwargs_lens)  # type: ignore[attr-defined]
    kwargs = [{"amp": 1.0, **kwargs_source}]
    unlensed = float(np.sum(light_model.surface_brightness(x, y, kwargs)))  # type: ignore[attr-defined]
    if unlensed <= 0:
        return 0.0
    return float(np.sum(light_model.surface_brightness(bx, by, kwargs))) / unlensed  # type: ignore[attr-defined]
