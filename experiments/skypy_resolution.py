"""How accurate SkyPy's apparent magnitudes are on a coarser redshift grid, and how much faster.

Usage: python experiments/skypy_resolution.py [--n 5000] [--resolutions 100,200,1000]

``skypy.galaxies.spectrum.kcorrect.apparent_magnitudes`` integrates the kcorrect templates
through the filters on ``resolution`` redshifts and interpolates. On ``--n`` galaxies with
redshifts uniform in [0, 5] and blue-galaxy Dirichlet coefficients (Herbel et al. 2017) it prints
the time per resolution and the magnitude differences from the finest one (LSST grizy). This is
the measurement behind ``kcorrect_resolution=200`` in the SLSim engine's SkyPy configuration.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--resolutions", default="100,200,1000")
    args = parser.parse_args()
    from astropy.cosmology import FlatLambdaCDM
    from skypy.galaxies.spectrum import dirichlet_coefficients, kcorrect

    from brahmasifier.simulation.slsim_engine.catalogue import quiet_slsim
    from brahmasifier.simulation.slsim_engine.skypy_config import LSST_FILTERS

    rng = np.random.default_rng(0)
    np.random.seed(0)  # noqa: NPY002 (SkyPy draws from NumPy's global generator only)
    z = rng.uniform(0.0, 5.0, args.n)
    coefficients = dirichlet_coefficients(z, [2.079, 3.524, 1.917, 1.992, 2.536], [2.265, 3.862, 1.921, 1.685, 2.480],
                                          [3.47e09, 3.31e06, 2.13e09, 1.64e10, 1.01e09])
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    resolutions = sorted(int(r) for r in args.resolutions.split(","))
    mags, seconds = {}, {}
    with quiet_slsim():
        for r in resolutions:
            start = time.perf_counter()
            mags[r] = kcorrect.apparent_magnitudes(coefficients, z, list(LSST_FILTERS), cosmo, stellar_mass=np.full(args.n, 1e10),
                                                   resolution=r)
            seconds[r] = time.perf_counter() - start
    finest = resolutions[-1]
    for r in resolutions:
        d = np.abs(mags[r] - mags[finest])
        print(f"resolution {r:5d}: {seconds[r]:6.2f} s ({seconds[finest] / seconds[r]:.1f}x faster than {finest}); "
              f"|dm| median {np.median(d):.1e}, 99% {np.percentile(d, 99):.3f}, max {d.max():.3f} mag")


if __name__ == "__main__":
    main()
