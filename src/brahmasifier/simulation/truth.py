"""The truth columns every simulation engine writes, and their conventions, in one place.

``parameters.fits`` (challenge layout) and ``truth.csv`` (blind layout) carry the challenge's
columns under the names of the published release (``vel_disp``, not the note's "vel disp")
plus ``sim_*`` columns that only simulations know. Both engines
(:mod:`brahmasifier.simulation.population` and :mod:`brahmasifier.simulation.slsim_engine`)
build their rows through the functions here, so the two are written in one convention.
``docs/conventions.md`` gives the evidence for each choice and what is still unverified.

Frame: positions in arcsec from the stamp centre, ``x`` along image columns (last array
axis), ``y`` along rows — lenstronomy's ``array2image`` order, which both engines render in
(SLSim through lenstronomy's ``SimAPI``, whose default grid has East along ``+x``).

- ``ell_l``, ``ell_m``, ``ell_s``: **axis ratio** ``q = b/a`` in ``(0, 1]`` (1 = round).
- ``*_PA``: **degrees in [0, 180)**, measured from ``+y`` towards ``+x`` — SLSim's own
  position-angle convention ("from North to East", ``slsim.Util.param_util``), i.e.
  ``PA = 90° − φ`` where ``φ = ½ atan2(e2, e1)`` is lenstronomy's angle from ``+x``
  towards ``+y``.
- ``sh``: external shear modulus; ``sh_PA``: its angle in the same convention
  (``MISSING_VALUE`` where the shear is exactly zero and the angle is undefined).
- ``srcx``, ``srcy``: unlensed source centre in arcsec from the stamp centre (``x``, ``y``);
  with a scene offset the moved centre (the offset included).
- ``sim_offset_x``, ``sim_offset_y``: the scene offset (``simulate --scene-offset``, both
  engines): the shift of the whole scene on top of the population's own centring jitter.
- ``Reff_l``, ``Reff_s``: Sérsic half-light radius in arcsec as lenstronomy's
  ``SERSIC_ELLIPSE`` defines it (``R_sersic``, the radius along the intermediate axis
  ``sqrt(a b)``); ``n_l_sers``, ``n_s_sers``: Sérsic indices.
- ``mag_lens_<b>``: total AB magnitude of the deflector (non-lenses: of the central object);
  ``mag_src_<b>``: *unlensed* AB magnitude of the source. ``Rein`` in arcsec, ``vel_disp``
  in km/s.
"""

from __future__ import annotations

import math

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE, TRUTH_CONVENTIONS

__all__ = [
    "COMPANION_COLUMNS",
    "CONVENTIONS",
    "LENS_COLUMNS",
    "NONLENS_COLUMNS",
    "SIM_COLUMNS",
    "companion_row",
    "e1e2_from_ellipticity",
    "ellipticity_from_e1e2",
    "lensed_magnitude",
    "position_angle",
    "shear_from_gamma",
]

#: Lens parameter columns of ``parameters.fits`` (after the ID, RA, Dec), release names.
LENS_COLUMNS: tuple[str, ...] = (
    "Rein", "zlens", "vel_disp", "ell_m", "ell_m_PA", "sh", "sh_PA", "ell_l", "ell_l_PA", "Reff_l", "n_l_sers",
    *(f"mag_lens_{b}" for b in BANDS),
    "zsrc", "srcx", "srcy",
    *(f"mag_src_{b}" for b in BANDS),
    "ell_s", "ell_s_PA", "Reff_s", "n_s_sers",
)
#: Non-lens parameter columns (after the ID, RA, Dec).
NONLENS_COLUMNS: tuple[str, ...] = ("z_central", *(f"mag_lens_{b}" for b in BANDS))

#: Simulation-only columns (``MISSING_VALUE`` where a quantity does not apply), with meaning.
SIM_COLUMNS: dict[str, str] = {
    "sim_subtype": "kind of object: lens, or the non-lens kind of the engine's mix",
    "sim_arc_snr": "the engine's own selection S/N statistic (ours: g+r+i arc S/N against sky and half the "
                   "deflector light; SLSim: none; injection: matched-filter arc S/N in its snr_bands against the host's "
                   "measured noise)",
    "sim_magnification": "flux magnification of the extended source (lensed / unlensed flux)",
    "sim_arc_mag_i": "i-band AB magnitude of the lensed source (all its images)",
    "sim_arc_snr_i": "matched-filter S/N of the noiseless lensed-source image in i (simulation.measures)",
    "sim_n_images": "number of images of the source centre (lens equation)",
    "sim_image_sep": "largest separation between two images of the source centre, arcsec",
    **{f"sim_psf_fwhm_{b}": f"PSF FWHM in {b}, arcsec" for b in BANDS},
    "sim_offset_x": "x (along columns) of the scene's shift from the stamp centre, arcsec (simulate --scene-offset)",
    "sim_offset_y": "y (along rows) of the scene's shift from the stamp centre, arcsec",
    "sim_gamma_pl": "power-law slope of the deflector's mass profile (2: isothermal)",
    "sim_kappa_ext": "external (line-of-sight) convergence at the lens",
    "sim_n_companions": "number of unlensed companions around a non-lens's central galaxy (false_positive, "
                        "elliptical_companion kinds)",
    "sim_companion_sep_min": "smallest separation of a companion's centre from the central galaxy's, arcsec",
    "sim_companion_sep_max": "largest separation of a companion's centre from the central galaxy's, arcsec",
    "sim_companion_mag_i": "i-band AB magnitude of the brightest companion",
}

#: The columns of :func:`companion_row` (absent, i.e. ``MISSING_VALUE``, for objects without companions).
COMPANION_COLUMNS: tuple[str, ...] = ("sim_n_companions", "sim_companion_sep_min", "sim_companion_sep_max",
                                      "sim_companion_mag_i")

#: The conventions above as data (for code that must know them, e.g. target encoders); the dict
#: itself lives in the bottom layer (:data:`brahmasifier.bands.TRUTH_CONVENTIONS`), one home for both.
CONVENTIONS: dict[str, object] = TRUTH_CONVENTIONS


def position_angle(phi: float | np.ndarray) -> float | np.ndarray:
    """Challenge PA (degrees in [0, 180), from +y towards +x) of a lenstronomy angle.

    Args:
        phi: angle in radians counter-clockwise from ``+x`` towards ``+y``
            (lenstronomy's ``½ atan2(e2, e1)``).

    Returns:
        ``(90° − φ) mod 180°``, a float for a float input.
    """
    pa = np.mod(90.0 - np.degrees(phi), 180.0)
    return float(pa) if np.ndim(pa) == 0 else pa


def ellipticity_from_e1e2(e1: float | np.ndarray, e2: float | np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
    """``(ell, PA)`` of the challenge from lenstronomy's eccentricity components.

    Args:
        e1: lenstronomy ``e1 = (1−q)/(1+q) cos 2φ``.
        e2: lenstronomy ``e2 = (1−q)/(1+q) sin 2φ``.

    Returns:
        Axis ratio ``q`` and position angle in degrees (see the module docstring).
    """
    e = np.hypot(e1, e2)
    q = (1.0 - e) / (1.0 + e)
    pa = position_angle(0.5 * np.arctan2(e2, e1))
    return (float(q), pa) if np.ndim(q) == 0 else (q, pa)


def e1e2_from_ellipticity(q: float | np.ndarray, pa_deg: float | np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Inverse of :func:`ellipticity_from_e1e2`: lenstronomy ``(e1, e2)`` of a challenge ``(ell, PA)``.

    Args:
        q: axis ratio ``b/a``.
        pa_deg: position angle in degrees (from ``+y`` towards ``+x``).

    Returns:
        lenstronomy ``(e1, e2)``.
    """
    e = (1.0 - np.asarray(q, dtype=float)) / (1.0 + np.asarray(q, dtype=float))
    phi = np.radians(90.0 - np.asarray(pa_deg, dtype=float))
    e1, e2 = e * np.cos(2 * phi), e * np.sin(2 * phi)
    return (float(e1), float(e2)) if np.ndim(e1) == 0 else (e1, e2)


def shear_from_gamma(gamma1: float, gamma2: float) -> tuple[float, float]:
    """``(sh, sh_PA)`` from lenstronomy's ``SHEAR`` components; PA is ``MISSING_VALUE`` for zero shear.

    Args:
        gamma1: lenstronomy ``gamma1``.
        gamma2: lenstronomy ``gamma2``.

    Returns:
        Shear modulus and its angle in degrees (challenge convention).
    """
    gamma = math.hypot(gamma1, gamma2)
    if gamma == 0.0:
        return 0.0, MISSING_VALUE
    return gamma, float(position_angle(0.5 * math.atan2(gamma2, gamma1)))


def lensed_magnitude(magnitude: float, magnification: float) -> float:
    """AB magnitude of a source magnified by ``magnification`` (``MISSING_VALUE`` if not positive).

    Args:
        magnitude: unlensed AB magnitude.
        magnification: flux magnification.

    Returns:
        ``magnitude − 2.5 log10(magnification)``.
    """
    if not magnification > 0 or magnitude == MISSING_VALUE:
        return MISSING_VALUE
    return magnitude - 2.5 * math.log10(magnification)


def companion_row(centre: tuple[float, float], positions: list[tuple[float, float]],
                  mags_i: list[float]) -> dict[str, float]:
    """The :data:`COMPANION_COLUMNS` of a non-lens with unlensed companions (both engines' false positives).

    Args:
        centre: ``(x, y)`` of the central galaxy, arcsec.
        positions: ``(x, y)`` of each companion's centre, arcsec (same frame).
        mags_i: each companion's i-band AB magnitude.

    Returns:
        Number of companions, smallest and largest separation from the centre (arcsec) and the
        brightest companion's i magnitude; without companions the number (0) alone.
    """
    if not positions:
        return {"sim_n_companions": 0.0}
    seps = [math.hypot(x - centre[0], y - centre[1]) for x, y in positions]
    return {"sim_n_companions": float(len(positions)), "sim_companion_sep_min": float(min(seps)),
            "sim_companion_sep_max": float(max(seps)), "sim_companion_mag_i": float(min(mags_i))}
