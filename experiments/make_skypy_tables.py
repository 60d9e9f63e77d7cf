"""Build ``simulation/data/skypy_tables.npz``: the tables our engine needs to draw SkyPy's galaxies without SkyPy.

Usage: python experiments/make_skypy_tables.py [--realisations 32] [--out PATH]

Needs the ``[slsim]`` extra (SkyPy, speclite, SLSim). Writes, from SkyPy's and SLSim's own code:

- ``z``, ``maggies`` (nz, 5 templates, 5 bands): the AB maggies of each kcorrect template
  (Blanton & Roweis 2007, the file SkyPy ships) through the ``lsst2016-{g,r,i,z,y}`` speclite
  filters shifted to redshift ``z`` — exactly what ``skypy.utils.photometry.mag_ab`` computes
  before it combines the templates with a galaxy's coefficients; ``rest_b`` (5): the rest-frame
  ``bessell-B`` maggies of each template (SkyPy's stellar mass: ``10^(0.4 (M_t − M_B))``);
- ``log_mstar``, ``log_sigma``: SLSim's velocity dispersion of a deflector as a function of its
  stellar mass — ``vel_disp_abundance_matching`` (SDSS velocity dispersion function of Bernardi
  et al. 2010 matched to the red galaxies below z = 0.5, then the Auger et al. 2010 relation at
  the catalogue's largest mass) run on ``--realisations`` SkyPy red catalogues of the SLSim
  engine's default area (``SlsimConfig.catalogue_area_deg2``), as the engine does per
  realisation: one curve of log10 σ per realisation. The high-mass end differs a lot between
  realisations (the matching runs out of z < 0.5 galaxies there), and coherently within one,
  so the curves are kept apart and our engine draws each lens with one of them.

The table is a model constant: the engine's own draws all come from the generator it is given.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "brahmasifier" / "simulation" / "data" / "skypy_tables.npz"
Z_GRID = np.round(np.arange(0.0, 5.0001, 0.01), 2)
LOG_MSTAR = np.round(np.arange(8.0, 12.81, 0.05), 2)


def template_tables() -> tuple[np.ndarray, np.ndarray]:
    """(maggies (nz, 5, 5) of every template in every LSST band at every grid redshift, rest-frame B maggies (5,))."""
    from skypy.galaxies.spectrum import kcorrect
    from speclite.filters import load_filters

    from brahmasifier.simulation.slsim_engine.skypy_config import LSST_FILTERS

    filters = load_filters(*LSST_FILTERS)
    maggies = np.empty((len(Z_GRID), kcorrect.templates.shape[0], len(filters)))
    for i, z in enumerate(Z_GRID):
        for j, f in enumerate(filters):
            maggies[i, :, j] = f.create_shifted(z).get_ab_maggies(kcorrect.templates, kcorrect.wavelength)
    rest_b = load_filters("bessell-B")[0].get_ab_maggies(kcorrect.templates, kcorrect.wavelength)
    return maggies, np.asarray(rest_b, dtype=np.float64)


def velocity_dispersion_tables(realisations: int, area_deg2: float) -> np.ndarray:
    """log10 σ(M*) of SLSim's abundance matching on each of ``realisations`` SkyPy red catalogues."""
    from astropy.cosmology import FlatLambdaCDM
    from astropy.units import Quantity
    from slsim.Deflectors.MassLightConnection.velocity_dispersion import vel_disp_abundance_matching
    from slsim.Pipelines.skypy_pipeline import SkyPyPipeline

    from brahmasifier.simulation.slsim_engine.catalogue import quiet_slsim, seeded
    from brahmasifier.simulation.slsim_engine.skypy_config import write_skypy_config

    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    curves = []
    for r in range(realisations):
        with seeded(np.random.SeedSequence([2025, r])), quiet_slsim(), tempfile.TemporaryDirectory() as tmp:
            path = write_skypy_config(Path(tmp) / "skypy.yml", sky_area_deg2=area_deg2)
            red = SkyPyPipeline(skypy_config=str(path)).red_galaxies
            f = vel_disp_abundance_matching(red, z_max=0.5, sky_area=Quantity(area_deg2, "deg2"), cosmo=cosmo)
            curves.append(np.log10(np.clip(f(LOG_MSTAR), 1.0, None)))
            sigma_11 = 10 ** np.interp(11.0, LOG_MSTAR, curves[-1])
            print(f"realisation {r}: {len(red)} red galaxies, sigma(10^11) = {sigma_11:.0f} km/s")
    return np.array(curves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realisations", type=int, default=32)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    from brahmasifier._atomic import atomic_path
    from brahmasifier.simulation.slsim_engine.config import SlsimConfig

    maggies, rest_b = template_tables()
    curves = velocity_dispersion_tables(args.realisations, SlsimConfig().catalogue_area_deg2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, z=Z_GRID, maggies=maggies, rest_b=rest_b, log_mstar=LOG_MSTAR, log_sigma=curves)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
