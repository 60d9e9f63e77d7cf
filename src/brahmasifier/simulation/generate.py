"""One simulated object from (seed, domain, label, index): the unit every worker computes.

Every object has its own ``numpy.random.Generator`` seeded from
``SeedSequence([seed, domain code, label, index])``; the output of an object therefore does
not depend on how objects are spread over processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brahmasifier.bands import CODE_BY_DOMAIN, PIXEL_SCALE, STAMP_SIZE
from brahmasifier.errors import ConfigError
from brahmasifier.simulation.field import add_field
from brahmasifier.simulation.lenses import draw_lens, redraw_source
from brahmasifier.simulation.nonlenses import draw_nonlens
from brahmasifier.simulation.population import PopulationConfig, sky_position
from brahmasifier.simulation.render import Renderer, RenderResult
from brahmasifier.simulation.scene import Scene

__all__ = [
    "MAX_LENS_SYSTEMS", "SOURCES_PER_SYSTEM", "SimulatedObject", "draw_detectable_lens", "make_object", "object_rng",
]

#: Lens systems tried before giving up (each with a few sources); never reached in practice.
MAX_LENS_SYSTEMS = 200
SOURCES_PER_SYSTEM = 4


@dataclass
class SimulatedObject:
    """A finished cutout with its catalogue row."""

    domain: str
    label: int
    index: int
    object_id: str | int  # GG-LENS_<ra>_<dec> (slsim) or a 17-digit integer (hsc)
    image: np.ndarray  # float32 (5, 41, 41) nJy
    scene: Scene
    render: RenderResult
    attempts: int

    @property
    def subtype(self) -> str:
        """The scene's kind (``lens`` or a non-lens kind)."""
        return self.scene.subtype


def object_rng(seed: int, domain: str, label: int, index: int) -> np.random.Generator:
    """The generator of one object, independent of worker count and order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(CODE_BY_DOMAIN[domain]), int(label), int(index)]))


def draw_detectable_lens(renderer: Renderer, rng: np.random.Generator, cfg: PopulationConfig) -> tuple[Scene, int]:
    """Draw lens systems until the lensed source is detectable; returns (scene, attempts)."""
    seeing_i = renderer.lsst[2].seeing_fwhm
    attempts = 0
    for _ in range(MAX_LENS_SYSTEMS):
        scene = draw_lens(rng, renderer.domain, cfg, seeing_i)
        for k in range(SOURCES_PER_SYSTEM):
            if k:
                scene = redraw_source(rng, scene)
            attempts += 1
            snr, magnification = renderer.arc_statistics(scene)
            if snr >= cfg.min_arc_snr and magnification >= cfg.min_magnification:
                scene.row["_arc_snr"] = snr
                scene.row["_magnification"] = magnification
                return scene, attempts
    raise ConfigError(f"no detectable lens after {attempts} draws; loosen PopulationConfig (min_arc_snr={cfg.min_arc_snr})")


def make_object(renderer: Renderer, label: int, index: int, seed: int, cfg: PopulationConfig | None = None,
                noise: bool = True) -> SimulatedObject:
    """Simulate object ``index`` of class ``label`` in the renderer's domain."""
    cfg = cfg or PopulationConfig()
    domain = renderer.domain
    rng = object_rng(seed, domain, label, index)
    renderer.new_object()
    ra, dec = sky_position(rng, domain)
    object_id: str | int
    if domain == "slsim":
        object_id = f"GG-LENS_{ra:.6f}_{dec:.6f}"
    else:
        object_id = int(rng.integers(10**16, 10**17))
    if label == 1:
        scene, attempts = draw_detectable_lens(renderer, rng, cfg)
    else:
        scene, attempts = draw_nonlens(rng, domain, cfg), 1
    add_field(rng, scene, cfg, half_size=STAMP_SIZE * PIXEL_SCALE / 2.0)
    render = renderer.render(scene, rng if noise else None, noise=noise)
    scene.row = {"RA": ra, "Dec": dec, **scene.row}
    return SimulatedObject(domain, label, index, object_id, render.image, scene, render, attempts)

