"""Non-lenses: a registry of kinds, each a function drawing the light of one kind of cutout.

Kinds: the SLSim engine's three (``deflector``: an SLSim-selected lens deflector alone;
``false_positive``: one with 1–3 unlensed source-population galaxies in front of it;
``blue``: a lone source-population galaxy as bright as a lens deflector), our own lens-like
ellipticals (with or without blue companions where arcs would be), spirals, ring galaxies,
edge-on discs, mergers with tidal arcs, and random faint galaxies. A domain's mix
(:data:`brahmasifier.simulation.population.NONLENS_MIX`) names
kinds of :data:`~brahmasifier.simulation.nonlens_kinds.NONLENS_KINDS` (the one registry of both
engines, :mod:`brahmasifier.simulation.nonlens_kinds`); adding a kind is one decorated function
(here for a built-in one), and a mix that names an unregistered kind is refused when the
:class:`~brahmasifier.simulation.population.PopulationConfig` is made. The three kinds the SLSim
engine draws too (``deflector``, ``false_positive``, ``blue``) declare its draw in the same
decorator (``slsim=``), and are registered after our own kinds, in the order the SLSim engine
has always drawn them. Kinds with unlensed ``companion`` components (``false_positive``,
``elliptical_companion``) record them in the truth row (``sim_n_companions``, their smallest and
largest separation from the central galaxy, the brightest one's i magnitude;
:func:`~brahmasifier.simulation.truth.companion_row`, as the SLSim engine's false positives).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from brahmasifier.bands import BANDS
from brahmasifier.simulation.colours import blue_colours, fluxes, intermediate_colours, mags_from_i_and_colours, mags_of
from brahmasifier.simulation.galaxies import disc_galaxy, draw_elliptical, elliptical_component, random_galaxy
from brahmasifier.simulation.instrument import mag_to_njy
from brahmasifier.simulation.lens_systems import draw_lens_system, source_area_radius
from brahmasifier.simulation.lenses import deflector_component
from brahmasifier.simulation.nonlens_kinds import NONLENS_KINDS, NonlensKind, nonlens_kind
from brahmasifier.simulation.scene import LightComponent, Scene, draw_centre, draw_psf, ellipticity, sersic
from brahmasifier.simulation.skypy_galaxies import BLUE, Galaxies, draw_blue_with_magnitude, draw_sources
from brahmasifier.simulation.truth import companion_row

if TYPE_CHECKING:
    from brahmasifier.simulation.population import PopulationConfig
    from brahmasifier.simulation.slsim_engine.catalogue import Realisation

__all__ = ["NONLENS_KINDS", "NonlensKind", "draw_nonlens", "nonlens_kind"]

#: Roles whose light is the central object's (its magnitudes go into the catalogue row).
_CENTRAL_ROLES = frozenset({"central", "bulge", "disc", "spiral_arms"})
#: Kinds drawn with unlensed companions (their number is recorded even when it is 0).
_COMPANION_KINDS = frozenset({"false_positive", "elliptical_companion"})


def draw_nonlens(rng: np.random.Generator, domain: str, cfg: PopulationConfig) -> Scene:
    """One non-lens of a kind drawn from the domain's mix."""
    mix = cfg.nonlens_mix[domain]
    names = list(mix)
    weights = np.array([mix[n] for n in names], dtype=float)
    subtype = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    x0, y0 = draw_centre(rng, cfg.max_centre_offset)
    z, comps = NONLENS_KINDS[subtype].draws["ours"](rng, x0, y0, cfg)
    central_flux = np.asarray(sum(c.flux for c in comps if c.role in _CENTRAL_ROLES))
    psf_scale, beta = draw_psf(rng, cfg.seeing_scatter[domain], cfg.gaussian_psf_fraction[domain])
    row: dict[str, object] = {"z_central": z,
                              **{f"mag_lens_{b}": float(m) for b, m in zip(BANDS, mags_of(central_flux), strict=True)},
                              **_companion_columns(subtype, comps)}
    return Scene(0, subtype, None, comps, psf_scale, beta, row)


def _companion_columns(subtype: str, comps: list[LightComponent]) -> dict[str, float]:
    """Number, separations and brightest i magnitude of the ``companion`` components.

    None (the columns missing) for a kind without companions; a kind made of companions that
    found none (a ``false_positive`` deflector with no source galaxy in front of it, ~1 in 400)
    records 0.
    """
    companions = [c for c in comps if c.role == "companion"]
    if not companions and subtype not in _COMPANION_KINDS:
        return {}
    central = next((c for c in comps if c.role in _CENTRAL_ROLES), comps[0]).params
    i = BANDS.index("i")
    return companion_row((central["center_x"], central["center_y"]),
                         [(c.params["center_x"], c.params["center_y"]) for c in companions],
                         [float(mags_of(c.flux)[i]) for c in companions])


def _lens_like_elliptical(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig
                          ) -> tuple[float, list[LightComponent]]:
    e = draw_elliptical(rng, sigma=float(np.clip(10 ** rng.normal(math.log10(245.0), 0.08), 150.0, 400.0)))
    return e.z, [elliptical_component("central", e, x0, y0)]


@nonlens_kind("elliptical")
def _elliptical(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A massive elliptical like the deflectors, without a source behind it."""
    return _lens_like_elliptical(rng, x0, y0, cfg)


@nonlens_kind("elliptical_companion")
def _elliptical_companion(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig
                          ) -> tuple[float, list[LightComponent]]:
    """An elliptical with 1–3 blue, mostly tangentially aligned companions where arcs would be."""
    z, comps = _lens_like_elliptical(rng, x0, y0, cfg)
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.7, 2.6)
        a = rng.uniform(0, 2 * math.pi)
        mag_i = rng.uniform(21.5, 25.0)
        flux = fluxes(mags_from_i_and_colours(mag_i, blue_colours(rng)))
        tangential = a + math.pi / 2
        comps.append(sersic("companion", x0 + r * math.cos(a), y0 + r * math.sin(a),
                            float(rng.uniform(0.08, 0.4)), float(rng.uniform(0.5, 1.5)),
                            float(rng.uniform(0.25, 0.9)),
                            tangential + rng.normal(0, 0.4) if rng.uniform() < 0.6 else rng.uniform(0, math.pi),
                            flux))
    return z, comps


def _disc(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig, spiral: bool
          ) -> tuple[float, list[LightComponent]]:
    z = float(np.clip(rng.gamma(3.0, 0.12), 0.05, 1.2))
    mag_i = float(rng.uniform(18.5, 22.5))
    q = float(rng.uniform(0.35, 1.0)) if spiral else float(rng.uniform(0.08, 0.25))
    return z, disc_galaxy(rng, x0, y0, z, mag_i, q, arms=spiral)


@nonlens_kind("spiral")
def _spiral(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A bulge + disc galaxy with blue spiral arms, at any inclination."""
    return _disc(rng, x0, y0, cfg, spiral=True)


@nonlens_kind("edge_on")
def _edge_on(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A nearly edge-on bulge + disc galaxy (axis ratio 0.08–0.25)."""
    return _disc(rng, x0, y0, cfg, spiral=False)


@nonlens_kind("ring")
def _ring(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """An elliptical inside a blue star-forming ring (a collisional ring galaxy)."""
    e = draw_elliptical(rng)
    comps = [elliptical_component("central", e, x0, y0)]
    q = float(rng.uniform(0.5, 1.0))
    e1, e2, _ = ellipticity(q, float(rng.uniform(0, math.pi)))
    ring_i = mag_to_njy(float(rng.uniform(20.5, 23.5)))
    flux = fluxes(mags_from_i_and_colours(0.0, blue_colours(rng)))
    params = {"radius": float(rng.uniform(0.8, 2.2)), "width": float(rng.uniform(0.08, 0.3)), "e1": e1, "e2": e2,
              "center_x": x0, "center_y": y0, "arc_phi": 0.0, "arc_width": 0.0}
    comps.append(LightComponent("ring", "ring", params, flux * ring_i / flux[2]))
    return e.z, comps


@nonlens_kind("merger")
def _merger(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """An elliptical, a merging partner and a curved tidal tail."""
    e = draw_elliptical(rng)
    z = e.z
    comps = [elliptical_component("central", e, x0, y0)]
    sep, a = rng.uniform(0.8, 2.5), rng.uniform(0, 2 * math.pi)
    comps.append(random_galaxy(rng, "merger_partner", x0 + sep * math.cos(a), y0 + sep * math.sin(a),
                               float(e.mags[2] + rng.uniform(0.0, 2.0)), z))
    flux = fluxes(mags_from_i_and_colours(0.0, intermediate_colours(rng, z)))
    tail_i = mag_to_njy(float(e.mags[2] + rng.uniform(1.0, 3.0)))
    params = {"radius": float(rng.uniform(1.0, 2.5)), "width": float(rng.uniform(0.1, 0.35)), "e1": 0.0, "e2": 0.0,
              "center_x": x0, "center_y": y0, "arc_phi": float(rng.uniform(0, 2 * math.pi)),
              "arc_width": float(rng.uniform(0.4, 1.2))}
    comps.append(LightComponent("tidal_tail", "ring", params, flux * tail_i / flux[2]))
    return z, comps


@nonlens_kind("random")
def _random(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A random faint galaxy (red or blue)."""
    z = float(np.clip(rng.gamma(3.0, 0.2), 0.2, 2.0))
    return z, [random_galaxy(rng, "central", x0, y0, float(rng.uniform(19.5, 23.5)), z)]


def _slsim_deflector(realisation: Realisation, rng: np.random.Generator) -> tuple[object, str]:
    return realisation.lenses(1)[0], "deflector"  # a selected lens system, rendered without its source


def _slsim_false_positive(realisation: Realisation, rng: np.random.Generator) -> tuple[object, str]:
    return realisation.false_positive(), "deflector"  # SLSim's FalsePositive: all of it is lens light


def _slsim_blue(realisation: Realisation, rng: np.random.Generator) -> tuple[object, str]:
    return realisation.blue_galaxy(rng), "source"


@nonlens_kind("deflector", slsim=_slsim_deflector)
def _deflector(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """The deflector of an SLSim-selected lens system alone (its source removed): the hardest look-alike."""
    system = draw_lens_system(rng, cfg.lens_cuts, cfg.skypy_shear_sigma)
    return float(system.deflector.z[0]), [deflector_component("central", system)]


@nonlens_kind("false_positive", slsim=_slsim_false_positive)
def _false_positive(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """SLSim's ``FalsePositive``: a lens deflector with 1–3 unlensed source-population galaxies in front of it.

    The companions are drawn from the source population below the deflector's redshift (+0.002,
    SLSim's tolerance) and placed uniformly within SLSim's test area around it (1.5 θ_E∞). A
    deflector with no source population in front of it (z < 0.1) is redrawn, as the SLSim engine does.
    """
    for _ in range(100):
        system = draw_lens_system(rng, cfg.lens_cuts, cfg.skypy_shear_sigma)
        z = float(system.deflector.z[0])
        if z + 0.002 > BLUE.z_min:
            break
    wanted = int(rng.integers(1, 4))
    companions: list[tuple[Galaxies, int]] = []
    for _ in range(25):
        found = draw_sources(rng, 4 * wanted, z_max=z + 0.002)
        companions += [(found, k) for k in range(len(found))]
        if len(companions) >= wanted:
            break
    radius = float(source_area_radius(system.theta_e_inf))
    comps = [deflector_component("central", system)]
    for g, k in companions[:wanted]:
        r, a = radius * math.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * math.pi)
        comps.append(sersic("companion", system.centre[0] + r * math.cos(a), system.centre[1] + r * math.sin(a),
                            float(g.r_eff[k]), 1.0, float(g.q[k]), float(g.phi[k]), fluxes(g.mags[k])))
    return z, comps


@nonlens_kind("blue", slsim=_slsim_blue)
def _blue(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A lone source-population galaxy as bright in i as a lens deflector (SLSim engine's ``blue``, brightness-matched)."""
    system = draw_lens_system(rng, cfg.lens_cuts, cfg.skypy_shear_sigma)
    target = float(system.deflector.mags[0, 2]) + float(rng.normal(0.0, 0.1))
    g = draw_blue_with_magnitude(rng, target)
    x, y = system.centre
    return float(g.z[0]), [sersic("central", x, y, float(g.r_eff[0]), 1.0, float(g.q[0]), float(g.phi[0]), fluxes(g.mags[0]))]
