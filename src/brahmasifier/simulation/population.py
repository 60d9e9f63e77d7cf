"""Population settings and catalogue columns: what a simulated data set contains, as data.

The draws live by job: :mod:`.cosmology` (distances, Einstein radius), :mod:`.colours`
(colour tracks, magnitudes ↔ nJy), :mod:`.galaxies` (ellipticals, discs, random galaxies),
:mod:`.skypy_galaxies` (SkyPy's red and blue galaxy models), :mod:`.lens_systems` (SLSim-like
lens selection), :mod:`.lenses` (deflector + source), :mod:`.nonlenses` (the non-lens kinds, registered in :mod:`.nonlens_kinds`),
:mod:`.field` (neighbours and stars) and :mod:`.scene` (what a draw returns). Here are the
knobs (:class:`PopulationConfig`) and the non-lens mix of each domain; the ``parameters.fits``
column names and their conventions live in :mod:`.truth` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from brahmasifier.settings import Problems
from brahmasifier.simulation.lens_systems import LensCuts
from brahmasifier.simulation.nonlens_kinds import check_mix
from brahmasifier.simulation.scene import MAX_SCENE_OFFSET
from brahmasifier.simulation.truth import LENS_COLUMNS, NONLENS_COLUMNS

__all__ = ["LENS_COLUMNS", "LENS_POPULATIONS", "NONLENS_COLUMNS", "NONLENS_MIX", "LensCuts", "PopulationConfig", "sky_position"]

#: Default non-lens mixes per domain (fractions of kinds of :data:`~.nonlens_kinds.NONLENS_KINDS`;
#: normalised when used). The HSC mix follows the data-release note (33% spirals, 30% LRGs incl.
#: blue companions, 5% rings/mergers/features, 32% random galaxies). The SLSim mix is mostly the
#: SLSim engine's three hard kinds (lone lens deflectors, deflectors with 1–3 unlensed blue
#: companions, lone blue galaxies as bright as lens deflectors) with a few of the other kinds.
NONLENS_MIX: dict[str, dict[str, float]] = {
    "slsim": {
        "deflector": 0.26, "false_positive": 0.28, "blue": 0.26,
        "elliptical_companion": 0.04, "spiral": 0.05, "ring": 0.03, "edge_on": 0.03, "merger": 0.03, "random": 0.02,
    },
    "hsc": {
        "elliptical": 0.15, "elliptical_companion": 0.15, "spiral": 0.33, "ring": 0.02,
        "edge_on": 0.03, "merger": 0.02, "random": 0.30,
    },
}


#: Lens populations: ``skypy`` — SkyPy's galaxies selected like SLSim's ``LensPop``
#: (:mod:`.lens_systems`); ``bright`` — our Faber–Jackson deflectors with clumpy sources, kept
#: when the arc's S/N ≥ ``min_arc_snr`` (lenses found by eye in HSC imaging: SuGOHI-like).
LENS_POPULATIONS: tuple[str, ...] = ("skypy", "bright")


@dataclass(frozen=True)
class PopulationConfig:
    """Knobs of the populations and the lens selection, as data."""

    lens_population: dict[str, str] = field(default_factory=lambda: {"slsim": "skypy", "hsc": "bright"})
    lens_cuts: LensCuts = field(default_factory=LensCuts)  # the skypy population's cuts (SLSim's)
    skypy_shear_sigma: float = 0.02  # external shear per component of the skypy population (SLSim without LOS: 0)
    seeing_scatter: dict[str, float] = field(default_factory=lambda: {"slsim": 0.07, "hsc": 0.10})
    gaussian_psf_fraction: dict[str, float] = field(default_factory=lambda: {"slsim": 0.5, "hsc": 0.0})
    # The bright population's selection:
    min_arc_snr: float = 40.0  # S/N of the lensed light over sky + deflector residuals (render.arc_statistics), g+r+i
    min_magnification: float = 2.5  # total magnification: multiple images / arcs, not weak lensing
    min_rein_over_seeing: float = 0.5  # θ_E ≥ this × i-band FWHM
    max_rein: float = 3.0  # arcsec; larger rings do not fit a 41×41 cutout
    mean_neighbours: float = 1.0  # Poisson mean of unrelated field galaxies per cutout
    star_probability: float = 0.12
    max_centre_offset: float = 0.15  # arcsec, random offset of the central object
    nonlens_mix: dict[str, dict[str, float]] = field(default_factory=lambda: {k: dict(v) for k, v in NONLENS_MIX.items()})
    # Mass profile options of every lens (both populations), off by default (see :mod:`.lens_systems`):
    epl_gamma: tuple[float, float] | None = None  # EPL slope (mean, sd), Gaussian; None: SIE (γ = 2)
    kappa_ext_sigma: float = 0.0  # external convergence N(0, σ) per lens (SLSim's LOS table: σ ≈ 0.04); 0: none
    # Scene offset (both engines' ``--scene-offset``; :func:`~.scene.draw_scene_offset`), off by default:
    scene_offset: float = 0.0  # largest shift of the whole scene per axis, LSST pixels (uniform); 0: none drawn

    def __post_init__(self) -> None:
        problems = Problems("PopulationConfig: bad ")
        bad = {d: p for d, p in self.lens_population.items() if p not in LENS_POPULATIONS}
        if bad:
            problems.add(f"unknown lens populations {bad}; known: {', '.join(LENS_POPULATIONS)}")
        for domain, mix in self.nonlens_mix.items():
            problem = check_mix(mix, "ours")
            if problem:
                problems.add(f"non-lens mix of {domain!r} {problem}")
        for name in ("min_arc_snr", "min_magnification", "min_rein_over_seeing", "max_rein", "mean_neighbours",
                     "skypy_shear_sigma", "max_centre_offset"):
            problems.within(name, getattr(self, name), 0.0)
        problems.within("star_probability", self.star_probability, 0.0, 1.0)
        problems.within("scene_offset", self.scene_offset, 0.0, MAX_SCENE_OFFSET, unit="pixels")
        problems.check()


def sky_position(rng: np.random.Generator, domain: str) -> tuple[float, float]:
    """RA/Dec (deg) of a cutout centre in a DP0-like field (slsim) or HSC-SSP-like patches (hsc)."""
    if domain == "slsim":
        return float(rng.uniform(50.0, 75.0)), float(rng.uniform(-44.0, -27.0))
    patches = ((150.1, 2.2, 1.0), (34.5, -5.0, 2.0), (214.0, 52.5, 1.0), (180.0, 0.0, 6.0))
    ra0, dec0, size = patches[int(rng.integers(len(patches)))]
    return float(ra0 + rng.uniform(-size, size)), float(dec0 + rng.uniform(-size, size))
