"""One catalogue realisation: a SkyPy draw and SLSim's populations and selections built on it.

SLSim and SkyPy draw every random number from NumPy's *global* state (``np.random.*``) and
``FalsePositivePop`` from Python's ``random``; there is no generator to pass in. A
realisation therefore seeds both global generators from its own ``SeedSequence`` when it is
made and is used, start to finish, by one process (:func:`seeded`); the caller's global
states are restored afterwards. Everything this engine draws itself (sky positions, mixes,
noise seeds, brightness targets) comes from a ``numpy.random.Generator`` passed in.

Objects handed out (all SLSim classes):

- lens systems: ``Lens`` from ``LensPop.draw_population`` (or ``select_lens_at_random``) with
  the configured cuts, pooled and handed out in draw order;
- false positives: ``FalsePositive`` = a deflector (of a selected lens, or any from
  ``FalsePositivePop``) with sources from ``FalsePositivePop.draw_sources``;
- blue galaxies: ``Source`` objects of the ``Galaxies`` population.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from brahmasifier.errors import ConfigError
from brahmasifier.simulation.slsim_engine.config import SlsimConfig
from brahmasifier.simulation.slsim_engine.skypy_config import check_skypy_file, write_skypy_config

__all__ = ["Realisation", "fast_lens_pop_class", "quiet_slsim", "seeded", "use_lenstronomy_profiles_without_jaxtronomy"]

#: Warnings of SLSim 0.1.1 and its stack that say nothing about the result (matched by message start):
#: SLSim's notes on catalogue units, SkyPy's import of astropy's deprecated test runner,
#: lenstronomy 1.13 passing ``z=`` to astropy 7, SLSim's ``np.trapz``, and astropy's notice when
#: SLSim tests a source in front of its deflector (the validity test then rejects the pair).
_BENIGN_WARNINGS: tuple[str, ...] = (
    "Angular size is converted to arcsec",
    "You provided angular size in arcsec",
    "The TestRunner",
    "Passing 'z' as keyword is deprecated",
    "`trapz` is deprecated",
    r"Second redshift\(s\) z2",
)


@contextlib.contextmanager
def quiet_slsim() -> Iterator[None]:
    """Silence SLSim's known informational warnings (only those), e.g. under ``-W error``."""
    with warnings.catch_warnings():
        for message in _BENIGN_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        # lenstronomy's EPL profile and its EPL lens-equation solver divide 0/0 when SLSim's validity test
        # of EPL deflectors evaluates them at the profile's centre; the images stay finite (checked on EPL
        # lenses at zero and random scene offsets), so only those two modules' RuntimeWarnings go.
        warnings.filterwarnings("ignore", category=RuntimeWarning,
                                module=r"lenstronomy\.LensModel\.(Profiles\.epl|Solver\.epl_shear_solver)")
        yield


@contextlib.contextmanager
def seeded(seed_sequence: np.random.SeedSequence) -> Iterator[None]:
    """Seed NumPy's and Python's global generators from ``seed_sequence``; restore them on exit."""
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002 (restored below)
    np.random.seed(seed_sequence.generate_state(8))  # noqa: NPY002 (SLSim and SkyPy draw from the global state only)
    random.seed(int(seed_sequence.generate_state(2, dtype=np.uint64)[0]))
    try:
        yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)


def fast_lens_pop_class() -> type:
    """``LensPop`` with its per-deflector source-count mean computed without re-parsing units.

    ``LensPop.get_num_sources_tested_mean`` converts the source area with ``to_value("deg2")``
    for every deflector drawn, and astropy parses the unit string each time: half the time of
    ``draw_population`` at our settings (measured with cProfile, 6.1 of 12.4 s). The subclass
    evaluates the same expression with the area converted once, so the result is the same
    float (a test compares the two) and the lenses drawn are the same.
    """
    from slsim.Lenses.lens_pop import LensPop

    class FastLensPop(LensPop):
        def get_num_sources_tested_mean(self, testarea: float) -> float:
            if not hasattr(self, "_source_area_deg2"):
                self._source_area_deg2 = self._sources.sky_area.to_value("deg2")
            return (testarea * self.source_number) / (12960000 * self._factor_source * self._source_area_deg2)

    return FastLensPop


def use_lenstronomy_profiles_without_jaxtronomy() -> None:
    """Make SLSim evaluate its "JAX" mass profiles (EPL, NFW, ...) with lenstronomy when jaxtronomy is absent.

    SLSim 0.1.1 asks lenstronomy for jaxtronomy's port of these profiles (``use_jax``, "for
    significant speedup") and fails without it; jaxtronomy (and JAX) is not among SLSim's needs
    we install. lenstronomy's own profiles are the same functions, so the list SLSim reads is
    emptied in place (both modules share it). Only EPL deflectors with γ ≠ 2 (``gamma_pl``) need it.
    """
    import importlib.util

    if importlib.util.find_spec("jaxtronomy") is None:
        from slsim.Deflectors.deflector import JAX_PROFILES

        JAX_PROFILES.clear()


class Realisation:
    """SLSim populations on one SkyPy catalogue (use inside :func:`seeded` and :func:`quiet_slsim`)."""

    def __init__(self, config: SlsimConfig) -> None:
        from astropy.cosmology import FlatLambdaCDM
        from astropy.units import Quantity
        from slsim.Deflectors.DeflectorPopulation.elliptical_lens_galaxies import EllipticalLensGalaxies
        from slsim.FalsePositives.false_positive_pop import FalsePositivePop
        from slsim.Lenses.selection import object_cut
        from slsim.LOS.los_pop import LOSPop
        from slsim.Pipelines.skypy_pipeline import SkyPyPipeline
        from slsim.Sources.SourcePopulation.galaxies import Galaxies

        self.config = config
        if config.gamma_pl is not None:
            use_lenstronomy_profiles_without_jaxtronomy()
        self.cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
        area = Quantity(config.catalogue_area_deg2, "deg2")
        if config.skypy_config is not None:  # the user's file (checked by SlsimConfig); SLSim sets area and cosmology
            pipeline = SkyPyPipeline(skypy_config=str(check_skypy_file(config.skypy_config)), sky_area=area, cosmo=self.cosmo)
        else:
            with tempfile.TemporaryDirectory(prefix="brahmasifier-skypy-") as tmp:
                path = write_skypy_config(Path(tmp) / "skypy.yml", sky_area_deg2=config.catalogue_area_deg2,
                                          blue_model=config.blue_model, resolution=config.kcorrect_resolution)
                pipeline = SkyPyPipeline(skypy_config=str(path))
        red, blue = pipeline.red_galaxies, pipeline.blue_galaxies
        gamma_pl = dict(config.gamma_pl) if isinstance(config.gamma_pl, dict) else config.gamma_pl
        self.deflectors = EllipticalLensGalaxies(galaxy_list=red, kwargs_cut=dict(config.deflector_cut), kwargs_mass2light=None,
                                                 cosmo=self.cosmo, sky_area=area, gamma_pl=gamma_pl)
        self.sources = Galaxies(galaxy_list=blue, kwargs_cut=dict(config.source_cut), cosmo=self.cosmo, sky_area=area,
                                catalog_type="skypy", extended_source_type="single_sersic")
        if self.deflectors.deflector_number() < 1 or self.sources.source_number_selected < 1:
            raise ConfigError(f"SkyPy catalogue of {config.catalogue_area_deg2} deg2 holds no deflector or no source "
                               "within the cuts; use a larger catalogue_area_deg2")
        los = LOSPop(los_bool=False) if config.los_file is None else LOSPop(no_correction_path=config.los_file)
        lens_area = Quantity(config.catalogue_area_deg2 * config.lens_area_factor, "deg2")
        self.lens_pop = fast_lens_pop_class()(deflector_population=self.deflectors, source_population=self.sources,
                                              cosmo=self.cosmo, sky_area=lens_area, los_pop=los)
        self.fp_pop = FalsePositivePop(elliptical_galaxy_population=self.deflectors, blue_galaxy_population=self.sources,
                                       cosmo=self.cosmo, los_pop=los, source_number_choice=list(config.false_positive_sources))
        # Catalogue rows a lone blue galaxy may be drawn from (Galaxies keeps the catalogue's order).
        blue = blue.copy()
        blue["_row"] = np.arange(len(blue))
        chosen = object_cut(blue, **dict(config.source_cut))
        self._blue_rows = np.asarray(chosen["_row"], dtype=np.int64)
        self._blue_mag_i = np.asarray(chosen["mag_i"], dtype=np.float64)
        self._source_z = np.asarray(chosen["z"], dtype=np.float64)
        self._pool: list[object] = []
        self.population_draws = 0

    @property
    def n_deflectors(self) -> int:
        """Deflectors of the catalogue within the cuts."""
        return int(self.deflectors.deflector_number())

    def lenses(self, n: int) -> list[object]:
        """The next ``n`` selected lens systems (``slsim.Lenses.lens.Lens``) of this realisation.

        Raises:
            ConfigError: ``max_population_draws`` calls of ``draw_population`` did not yield ``n``.
        """
        cfg = self.config
        while len(self._pool) < n:
            if cfg.sampling == "random":
                self._pool.append(self.lens_pop.select_lens_at_random(**cfg.lens_cuts))
                continue
            if self.population_draws >= cfg.max_population_draws:
                raise ConfigError(f"{self.population_draws} draws of the lens population gave {len(self._pool)} of {n} lenses; "
                                   "raise catalogue_area_deg2 or lens_area_factor, or relax the lens cuts")
            self.population_draws += 1
            self._pool.extend(self.lens_pop.draw_population(kwargs_lens_cuts=cfg.lens_cuts))
        taken, self._pool = self._pool[:n], self._pool[n:]
        return taken

    def false_positive(self) -> object:
        """One ``FalsePositive``: a deflector with unlensed blue galaxies inside its lensing test area.

        The steps of ``FalsePositivePop.draw_false_positive`` (deflector, sources below its
        redshift within its test area), with the deflector of a selected lens if configured, and
        one guard: SLSim 0.1.1's ``draw_sources`` fails (``None.update_center``) when no source
        lies below the deflector's redshift, so such a deflector is skipped beforehand.
        """
        from slsim.FalsePositives.false_positive import FalsePositive
        from slsim.Lenses.lens_pop import area_theta_e_infinity

        for _ in range(100):
            if self.config.lens_selected_nonlenses:
                deflector = self.lenses(1)[0].deflector  # type: ignore[attr-defined]
                z_max = deflector.redshift + 0.002  # FalsePositivePop's tolerance
            else:
                deflector, z_max = self.fp_pop.draw_deflector()
            if not np.any(self._source_z < z_max):
                continue
            area = area_theta_e_infinity(theta_e_infinity=deflector.theta_e_infinity(cosmo=self.cosmo))
            sources = self.fp_pop.draw_sources(z_max, area=area)
            if sources is not None:
                return FalsePositive(source_class=sources, deflector_class=deflector, cosmo=self.cosmo)
        raise ConfigError("no source in front of 100 deflectors for a false positive; widen the source redshift cut")

    def blue_galaxy(self, rng: np.random.Generator) -> object:
        """One ``Source`` of the blue population, brightness-matched to a lens deflector if configured."""
        if not self.config.match_blue_brightness:
            source = self.sources.draw_source()
        else:
            target = float(self.lenses(1)[0].deflector.magnitude("i")) + float(rng.normal(0.0, 0.1))  # type: ignore[attr-defined]
            row = int(self._blue_rows[int(np.argmin(np.abs(self._blue_mag_i - target)))])
            source = self.sources.draw_source(galaxy_index=row)
        source.update_center(area=0.01)  # the deflectors' centring (LensPop: deflector_area=0.01)
        return source
