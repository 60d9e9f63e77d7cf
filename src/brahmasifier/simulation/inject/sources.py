"""Background sources for injections, from our engine's population or SLSim's (``--source-engine``).

Both populations answer :meth:`SourcePopulation.draw`: a source beyond a minimum redshift, placed behind the
deflector by its engine's rule (θ_E given by the caller for the source's redshift), as lensed
:class:`~brahmasifier.simulation.scene.LightComponent` s and its truth columns.

- ``ours``: :func:`~brahmasifier.simulation.lenses.draw_source_redshift` and
  :func:`~brahmasifier.simulation.lenses.draw_source` — blue Sérsic sources with star-forming
  clumps, the sources of our engine's lenses, placed as our engine places them
  (:func:`~brahmasifier.simulation.lenses.source_position`: uniform within 0.6 θ_E).
- ``slsim``: SLSim's ``Galaxies`` population (single Sérsic, SkyPy's blue galaxies; the
  catalogue of :class:`brahmasifier.simulation.slsim_engine.catalogue.Realisation`), drawn
  with ``Galaxies.draw_source(z_min=...)`` and placed as SLSim's ``LensPop`` places sources:
  uniform within 1.5 θ_E (``area_theta_e_infinity``; we use θ_E for θ_E∞, which it slightly
  exceeds), most of them outside the caustic (the detectability cut then decides, as SLSim's
  lens cuts do). SLSim draws from Python's global ``random``; the
  caller seeds it per chunk (:func:`~brahmasifier.simulation.slsim_engine.catalogue.seeded`).
  One catalogue serves ``chunks_per_catalogue`` chunks and is seeded by its own number, so
  every chunk sees the same catalogue whichever process runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from brahmasifier.bands import BANDS
from brahmasifier.simulation.colours import fluxes
from brahmasifier.simulation.lenses import draw_source, draw_source_redshift, source_row
from brahmasifier.simulation.scene import LightComponent
from brahmasifier.simulation.truth import ellipticity_from_e1e2

__all__ = ["SLSIM_SOURCE_RADIUS", "DrawnSource", "OurSources", "SlsimSources", "SourcePopulation"]

#: SLSim's source placement radius in units of θ_E (``slsim.Lenses.lens_pop.area_theta_e_infinity``).
SLSIM_SOURCE_RADIUS = 1.5

#: What :meth:`SourcePopulation.draw` returns: lensed components, truth columns, θ_E.
DrawnSource = tuple[list[LightComponent], dict[str, object], float]
_SEED_CATALOGUE = 0x1A5


class SourcePopulation(Protocol):
    """A population of background sources."""

    def draw(self, rng: np.random.Generator, z_min: float, x0: float, y0: float,
             rein_of_z: Callable[[float], float]) -> DrawnSource | None:
        """One source beyond ``z_min`` behind a lens at ``(x0, y0)``; ``None`` if there is none."""
        ...


class OurSources:
    """Our engine's source population (:mod:`brahmasifier.simulation.lenses`)."""

    def draw(self, rng: np.random.Generator, z_min: float, x0: float, y0: float,
             rein_of_z: Callable[[float], float]) -> DrawnSource | None:
        """See :class:`SourcePopulation`; the redshift is redrawn (up to 100 times) until beyond ``z_min``."""
        for _ in range(100):
            z = draw_source_redshift(rng)
            if z >= z_min:
                break
        else:
            return None
        rein = rein_of_z(z)
        source = draw_source(rng, z, x0, y0, rein)
        return source["components"], {"zsrc": z, "srcx": source["x"], "srcy": source["y"], **source_row(source)}, rein


class SlsimSources:
    """SLSim's blue-galaxy source population on one SkyPy catalogue (needs the ``[slsim]`` extra)."""

    def __init__(self, seed: int, number: int, area_deg2: float = 0.25) -> None:
        from brahmasifier.simulation.slsim_engine import SlsimConfig
        from brahmasifier.simulation.slsim_engine.catalogue import Realisation, quiet_slsim, seeded

        self.number = number
        with seeded(np.random.SeedSequence([seed, _SEED_CATALOGUE, number])), quiet_slsim():
            self.population = Realisation(SlsimConfig(catalogue_area_deg2=area_deg2)).sources

    def draw(self, rng: np.random.Generator, z_min: float, x0: float, y0: float,
             rein_of_z: Callable[[float], float]) -> DrawnSource | None:
        """See :class:`SourcePopulation` (call inside ``seeded`` and ``quiet_slsim``)."""
        source = self.population.draw_source(z_min=z_min)
        if source is None:
            return None
        z = float(source.redshift)
        rein = rein_of_z(z)
        radius, angle = SLSIM_SOURCE_RADIUS * rein * np.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * np.pi)
        xs, ys = x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)
        _, (kwargs,) = source.kwargs_extended_light(band="i")
        mags = np.array([float(source.extended_source_magnitude(b)) for b in BANDS])
        e1, e2 = float(kwargs["e1"]), float(kwargs["e2"])
        params = {"R_sersic": float(kwargs["R_sersic"]), "n_sersic": float(kwargs["n_sersic"]), "e1": e1, "e2": e2,
                  "center_x": float(xs), "center_y": float(ys)}
        q, pa = ellipticity_from_e1e2(e1, e2)
        row: dict[str, object] = {"zsrc": z, "srcx": float(xs), "srcy": float(ys),
                                  **{f"mag_src_{b}": float(m) for b, m in zip(BANDS, mags, strict=True)},
                                  "ell_s": float(q), "ell_s_PA": float(pa), "Reff_s": params["R_sersic"],
                                  "n_s_sers": params["n_sersic"]}
        return [LightComponent("source", "sersic", params, fluxes(mags), lensed=True)], row, rein
