"""Galaxy colours and magnitudes, per band (g, r, i, z, y).

An early-type colour track with K-correction, blue star-forming colours, and conversions
between AB magnitudes and fluxes in nJy.
"""

from __future__ import annotations

import numpy as np

from brahmasifier.bands import MISSING_VALUE
from brahmasifier.simulation.instrument import mag_to_njy, njy_to_mag

__all__ = [
    "ETG_KCORR_R", "ETG_Z", "blue_colours", "etg_colours", "etg_redshift_from_colour", "fluxes", "intermediate_colours",
    "mags_from_i_and_colours", "mags_of",
]

#: Observed-frame early-type colours (g-r, r-i, i-z, z-y) and r-band K-correction vs z
#: (approximate passive elliptical SED; the 4000 Å break crosses g-r near z≈0.4, r-i near 0.7).
ETG_Z = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.2])
_ETG_COLOURS = np.array(
    [
        [0.75, 0.38, 0.25, 0.12],
        [0.95, 0.42, 0.28, 0.14],
        [1.45, 0.58, 0.36, 0.20],
        [1.75, 0.90, 0.46, 0.26],
        [1.90, 1.22, 0.62, 0.32],
        [1.98, 1.38, 0.85, 0.42],
        [2.00, 1.45, 1.05, 0.60],
    ]
)
ETG_KCORR_R = np.array([0.0, 0.12, 0.45, 0.98, 1.48, 1.90, 2.30])


def mags_from_i_and_colours(mag_i: float, colours: np.ndarray) -> np.ndarray:
    """Band magnitudes (g,r,i,z,y) from i and the 4 adjacent colours."""
    gr, ri, iz, zy = colours
    mag_r = mag_i + ri
    return np.array([mag_r + gr, mag_r, mag_i, mag_i - iz, mag_i - iz - zy])


def etg_colours(rng: np.random.Generator, z: float, scatter: float = 0.06) -> np.ndarray:
    """Observed colours of an early-type galaxy at redshift z, with scatter."""
    base = np.array([np.interp(z, ETG_Z, _ETG_COLOURS[:, k]) for k in range(4)])
    return base + rng.normal(0.0, scatter, 4)


def blue_colours(rng: np.random.Generator, extra_blue: float = 0.0) -> np.ndarray:
    """Star-forming colours (g-r, r-i, i-z, z-y), g-i < 1.5 (as the HSC lens sources)."""
    colours = np.array(
        [rng.uniform(-0.05, 0.55), rng.uniform(-0.1, 0.45), rng.uniform(-0.1, 0.35), rng.uniform(-0.1, 0.3)]
    )
    colours[:2] -= extra_blue
    return colours


def intermediate_colours(rng: np.random.Generator, z: float) -> np.ndarray:
    """Colours between blue and early-type (discs, bulge+disc mixtures)."""
    w = rng.uniform(0.2, 0.8)
    return w * etg_colours(rng, z) + (1.0 - w) * blue_colours(rng)


def fluxes(mags: np.ndarray) -> np.ndarray:
    """Fluxes in nJy of AB magnitudes, per band."""
    return np.array([mag_to_njy(float(m)) for m in mags])


def mags_of(flux: np.ndarray) -> np.ndarray:
    """AB magnitudes of fluxes in nJy, per band (``MISSING_VALUE`` where the flux is not positive)."""
    return np.array([njy_to_mag(float(f)) if f > 0 else MISSING_VALUE for f in flux])


def etg_redshift_from_colour(r_minus_i: float) -> float:
    """Photometric redshift of an early-type galaxy from its observed r − i on the colour track above.

    r − i rises monotonically along the track (0.38 at z = 0 to 1.45 at z = 1.2), so it is inverted
    by interpolation; colours beyond the track's ends give its end redshifts. A rough estimate
    (the track has ~0.06 mag scatter, ≈ 0.03–0.1 in z), for hosts whose catalogue has no redshift.
    """
    return float(np.interp(r_minus_i, _ETG_COLOURS[:, 1], ETG_Z))
