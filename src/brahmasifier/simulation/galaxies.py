"""Galaxy populations shared by lenses and non-lenses: massive ellipticals, discs, random galaxies.

- ellipticals: redshift and velocity dispersion, Faber–Jackson luminosity with passive
  evolution, an early-type colour track and K-correction, a σ–size relation;
- discs: bulge + exponential disc, optionally with blue logarithmic spiral arms;
- random galaxies: red or blue Sérsic profiles with a magnitude–size relation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from brahmasifier.simulation.colours import (
    ETG_KCORR_R,
    ETG_Z,
    blue_colours,
    etg_colours,
    fluxes,
    intermediate_colours,
    mags_from_i_and_colours,
)
from brahmasifier.simulation.cosmology import distance_modulus, kpc_per_arcsec
from brahmasifier.simulation.instrument import mag_to_njy
from brahmasifier.simulation.scene import LightComponent, ellipticity, sersic

__all__ = [
    "FJ_ABS_R", "FJ_EVOLUTION", "FJ_SCATTER_MAG", "FJ_SIGMA", "FJ_SLOPE", "Elliptical", "disc_galaxy", "draw_elliptical",
    "elliptical_component", "faber_jackson_abs_r", "faber_jackson_sigma", "observed_r_offset", "random_galaxy",
]


#: Faber–Jackson relation of the deflector population (L ∝ σ⁴, ~1 mag per unit z of passive
#: brightening): ``M_r = FJ_ABS_R - FJ_SLOPE log10(σ / FJ_SIGMA) - FJ_EVOLUTION z``, scatter in mag.
FJ_ABS_R, FJ_SIGMA, FJ_SLOPE, FJ_EVOLUTION, FJ_SCATTER_MAG = -21.3, 225.0, 10.0, 1.0, 0.35


def faber_jackson_abs_r(sigma: float, z: float) -> float:
    """Mean absolute r magnitude of an elliptical of velocity dispersion ``sigma`` (km/s) at redshift ``z``."""
    return FJ_ABS_R - FJ_SLOPE * math.log10(sigma / FJ_SIGMA) - FJ_EVOLUTION * z


def faber_jackson_sigma(abs_r: float, z: float) -> float:
    """Inverse of :func:`faber_jackson_abs_r`: the velocity dispersion (km/s) of absolute r magnitude ``abs_r``."""
    return FJ_SIGMA * 10.0 ** ((FJ_ABS_R - FJ_EVOLUTION * z - abs_r) / FJ_SLOPE)


def observed_r_offset(z: float) -> float:
    """Apparent minus absolute r magnitude of an elliptical at ``z``: distance modulus plus K-correction."""
    return distance_modulus(z) + float(np.interp(z, ETG_Z, ETG_KCORR_R))


@dataclass
class Elliptical:
    """A massive early-type galaxy: redshift, velocity dispersion (km/s), magnitudes and shape."""

    z: float
    sigma: float
    mags: np.ndarray
    r_eff: float
    n: float
    q: float
    phi: float


def draw_elliptical(rng: np.random.Generator, z: float | None = None, sigma: float | None = None) -> Elliptical:
    """A massive early-type galaxy (the deflector population)."""
    if z is None:
        z = float(np.clip(rng.gamma(4.0, 0.12), 0.1, 1.2))
    if sigma is None:
        sigma = float(np.clip(10 ** rng.normal(math.log10(225.0), 0.08), 140.0, 400.0))
    abs_r = faber_jackson_abs_r(sigma, z) + rng.normal(0.0, FJ_SCATTER_MAG)
    mag_r = abs_r + distance_modulus(z) + float(np.interp(z, ETG_Z, ETG_KCORR_R))  # = abs_r + observed_r_offset(z)
    colours = etg_colours(rng, z)
    mags = mags_from_i_and_colours(mag_r - colours[1], colours)
    r_kpc = 4.5 * (sigma / 225.0) ** 1.6 * 10 ** rng.normal(0.0, 0.12)
    r_eff = float(np.clip(r_kpc / kpc_per_arcsec(z), 0.2, 3.0))
    return Elliptical(z, sigma, mags, r_eff, float(rng.uniform(3.0, 6.0)), float(rng.uniform(0.5, 0.98)),
                      float(rng.uniform(0, math.pi)))


def elliptical_component(role: str, e: Elliptical, x: float, y: float) -> LightComponent:
    """The Sérsic light of elliptical ``e`` at ``(x, y)``."""
    return sersic(role, x, y, e.r_eff, e.n, e.q, e.phi, fluxes(e.mags))


def random_galaxy(rng: np.random.Generator, role: str, x: float, y: float, mag_i: float, z: float) -> LightComponent:
    """A red (40%) or blue Sérsic galaxy of i-band magnitude ``mag_i``."""
    red = rng.uniform() < 0.4
    colours = etg_colours(rng, z) if red else blue_colours(rng)
    n = float(rng.uniform(2.5, 5.0) if red else rng.uniform(0.6, 2.0))
    r_eff = float(np.clip(10 ** rng.normal(math.log10(0.45), 0.2) * 10 ** (-0.1 * (mag_i - 22.0)), 0.1, 2.0))
    return sersic(role, x, y, r_eff, n, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, math.pi)),
                  fluxes(mags_from_i_and_colours(mag_i, colours)))


def disc_galaxy(rng: np.random.Generator, x: float, y: float, z: float, mag_i: float, q: float,
                arms: bool) -> list[LightComponent]:
    """Bulge + exponential disc (+ blue spiral arms)."""
    phi = float(rng.uniform(0, math.pi))
    bulge_frac = rng.uniform(0.1, 0.5)
    total_i = mag_to_njy(mag_i)
    r_disc = float(np.clip(10 ** rng.normal(math.log10(0.9), 0.15) * 10 ** (-0.12 * (mag_i - 20.5)), 0.3, 2.5))
    bulge_flux = fluxes(mags_from_i_and_colours(0.0, etg_colours(rng, z)))
    bulge_flux *= total_i * bulge_frac / bulge_flux[2]
    disc_flux = fluxes(mags_from_i_and_colours(0.0, intermediate_colours(rng, z)))
    arm_frac = rng.uniform(0.25, 0.5) if arms else 0.0
    disc_flux *= total_i * (1 - bulge_frac) * (1 - arm_frac) / disc_flux[2]
    out = [
        sersic("bulge", x, y, r_disc * rng.uniform(0.15, 0.35), float(rng.uniform(2.5, 4.0)), min(1.0, q + 0.3), phi,
               bulge_flux),
        sersic("disc", x, y, r_disc, 1.0, q, phi, disc_flux),
    ]
    if arms:
        arm_flux = fluxes(mags_from_i_and_colours(0.0, blue_colours(rng, extra_blue=0.1)))
        arm_flux *= total_i * (1 - bulge_frac) * arm_frac / arm_flux[2]
        e1, e2, _ = ellipticity(q, phi)
        params = {"R_sersic": r_disc * 1.2, "n_sersic": 1.0, "e1": e1, "e2": e2, "center_x": x, "center_y": y,
                  "n_arms": float(rng.choice([2, 2, 3])), "pitch": float(rng.uniform(0.2, 0.45)),
                  "phase": float(rng.uniform(0, 2 * math.pi)), "sharpness": float(rng.uniform(2.0, 6.0))}
        out.append(LightComponent("spiral_arms", "spiral", params, arm_flux))
    return out
