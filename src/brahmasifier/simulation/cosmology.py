"""Distances in a flat ΛCDM cosmology (H0=70, Ωm=0.3, from astropy) and the SIS Einstein radius.

Distances come from one astropy comoving-distance table on a redshift grid (``np.interp``
between grid points), so the millions of look-ups of a simulation cost no integration.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = [
    "ARCSEC_PER_RAD", "H0", "OMEGA_M", "SPEED_OF_LIGHT_KMS", "angular_diameter_distance", "comoving_distance",
    "comoving_distances", "comoving_volume_element", "distance_modulus", "einstein_radius", "kpc_per_arcsec",
]

SPEED_OF_LIGHT_KMS = 299_792.458
ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
H0, OMEGA_M = 70.0, 0.3


@functools.lru_cache(maxsize=1)
def _distance_table() -> tuple[np.ndarray, np.ndarray]:
    """Comoving distance (Mpc) on a redshift grid, flat ΛCDM H0=70, Ωm=0.3 (astropy)."""
    from astropy.cosmology import FlatLambdaCDM

    z = np.linspace(0.0, 6.0, 1201)
    dc = FlatLambdaCDM(H0=H0, Om0=OMEGA_M).comoving_distance(z).value
    return z, np.asarray(dc, dtype=np.float64)


def comoving_distance(z: float) -> float:
    """Comoving distance to redshift ``z`` in Mpc."""
    zg, dc = _distance_table()
    return float(np.interp(z, zg, dc))


def comoving_distances(z: np.ndarray) -> np.ndarray:
    """Comoving distances (Mpc) of an array of redshifts."""
    zg, dc = _distance_table()
    return np.interp(np.asarray(z, dtype=np.float64), zg, dc)


def comoving_volume_element(z: np.ndarray) -> np.ndarray:
    """Comoving volume per unit redshift and steradian, dV/dz = D_C² c/H(z), in Mpc³."""
    z = np.asarray(z, dtype=np.float64)
    hubble = H0 * np.sqrt(OMEGA_M * (1.0 + z) ** 3 + 1.0 - OMEGA_M)
    return comoving_distances(z) ** 2 * SPEED_OF_LIGHT_KMS / hubble


def angular_diameter_distance(z1: float, z2: float | None = None) -> float:
    """D_A(z1) or, with z2, D_A(z1, z2) in Mpc (flat universe)."""
    if z2 is None:
        return comoving_distance(z1) / (1.0 + z1)
    return (comoving_distance(z2) - comoving_distance(z1)) / (1.0 + z2)


def distance_modulus(z: float) -> float:
    """Distance modulus ``5 log10(D_L / 10 pc)`` at redshift ``z``."""
    dl = comoving_distance(z) * (1.0 + z)
    return 5.0 * math.log10(dl * 1e5)


def kpc_per_arcsec(z: float) -> float:
    """Proper kpc per arcsec at redshift ``z``."""
    return angular_diameter_distance(z) * 1e3 / ARCSEC_PER_RAD


def einstein_radius(sigma_kms: float, z_lens: float, z_source: float) -> float:
    """SIS Einstein radius in arcsec: θ_E = 4π (σ/c)² D_ls / D_s."""
    ratio = angular_diameter_distance(z_lens, z_source) / angular_diameter_distance(z_source)
    return 4.0 * math.pi * (sigma_kms / SPEED_OF_LIGHT_KMS) ** 2 * ratio * ARCSEC_PER_RAD
