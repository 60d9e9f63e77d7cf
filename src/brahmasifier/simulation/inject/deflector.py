"""The deflector an injection puts into a host: its redshift, magnitudes, velocity dispersion and θ_E.

Redshift and magnitudes come from the host's catalogue (the store's joined ``parameters.fits``
columns ``z_central`` and ``mag_lens_<b>``, or ``--catalog``); where they are absent (NaN or
``-999``) the **photometric fall-back** is used: magnitudes measured in a 3″ aperture
(:mod:`.measure`) and the redshift of an early-type galaxy of that r − i on our colour track
(:func:`brahmasifier.simulation.colours.etg_redshift_from_colour`); a host without a usable
r − i gets z = 0.5. Which one was used is recorded (``sim_host_z_origin``).

θ_E, ``theta_e="relation"``: the velocity dispersion from the host's absolute r magnitude
through the Faber–Jackson relation of our deflector population (its inverse,
:func:`brahmasifier.simulation.galaxies.faber_jackson_sigma`, with the relation's 0.35 mag
scatter drawn once per host), then θ_E = 4π (σ/c)² D_ls/D_s for each drawn source redshift.
``"distribution"``: θ_E log-normal (median and σ_ln of
:class:`~brahmasifier.simulation.inject.config.InjectConfig`) per source, and the σ that gives it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.simulation.colours import etg_redshift_from_colour
from brahmasifier.simulation.cosmology import einstein_radius
from brahmasifier.simulation.galaxies import (
    FJ_SCATTER_MAG,
    FJ_SIGMA,
    faber_jackson_abs_r,
    faber_jackson_sigma,
    observed_r_offset,
)

__all__ = ["DEFAULT_REDSHIFT", "Z_RANGE", "host_magnitudes", "host_redshift", "known", "sigma_for_rein",
           "velocity_dispersion"]

#: Redshift of a host with neither a catalogue redshift nor a usable r − i.
DEFAULT_REDSHIFT = 0.5
#: Deflector redshifts are kept in this range (the colour track's and the cosmology table's).
Z_RANGE = (0.02, 1.5)


def known(value: object) -> bool:
    """True for a finite number other than the challenge's ``-999``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and v != MISSING_VALUE


def host_magnitudes(row: Mapping[str, object], aperture_mags: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-band AB magnitudes of the host: the catalogue's ``mag_lens_<b>`` where known, else the aperture's.

    Returns:
        ``(mags, origin)`` with ``origin`` ``catalog``, ``aperture`` or ``mixed``.
    """
    mags = np.array([float(row[f"mag_lens_{b}"]) if known(row.get(f"mag_lens_{b}")) else float(aperture_mags[k])  # type: ignore[arg-type]
                     for k, b in enumerate(BANDS)])
    from_catalog = [known(row.get(f"mag_lens_{b}")) for b in BANDS]
    origin = "catalog" if all(from_catalog) else ("aperture" if not any(from_catalog) else "mixed")
    return mags, origin


def host_redshift(row: Mapping[str, object], mags: np.ndarray) -> tuple[float, str]:
    """Redshift of the host: catalogue ``z_central`` if known and positive, else the photometric fall-back.

    Returns:
        ``(z, origin)``, ``origin`` one of ``catalog``, ``photo-z``, ``default``.
    """
    z = row.get("z_central")
    if known(z) and float(z) > 0:  # type: ignore[arg-type]
        return float(np.clip(float(z), *Z_RANGE)), "catalog"  # type: ignore[arg-type]
    r, i = float(mags[BANDS.index("r")]), float(mags[BANDS.index("i")])
    if r != MISSING_VALUE and i != MISSING_VALUE:
        return float(np.clip(etg_redshift_from_colour(r - i), *Z_RANGE)), "photo-z"
    return DEFAULT_REDSHIFT, "default"


def velocity_dispersion(rng: np.random.Generator, mag_r: float, z: float, lo: float, hi: float) -> float:
    """σ (km/s) of an elliptical of apparent r magnitude ``mag_r`` at ``z`` (inverse Faber–Jackson, with scatter).

    A host without a usable magnitude gets the relation's σ* (225 km/s) scattered the same way.
    """
    scatter = float(rng.normal(0.0, FJ_SCATTER_MAG))
    abs_r = mag_r - observed_r_offset(z) if mag_r != MISSING_VALUE else faber_jackson_abs_r(FJ_SIGMA, z)
    return float(np.clip(faber_jackson_sigma(abs_r + scatter, z), lo, hi))


def sigma_for_rein(rein: float, z_lens: float, z_source: float) -> float:
    """σ (km/s) of the singular isothermal sphere with Einstein radius ``rein`` for these redshifts."""
    reference = einstein_radius(225.0, z_lens, z_source)
    return 225.0 * math.sqrt(rein / reference) if reference > 0 else float("nan")
