"""One simulated object from (seed, domain, label, index): the unit every worker computes.

Every object has its own ``numpy.random.Generator`` seeded from
``SeedSequence([seed, domain code, label, index])``; the output of an object therefore does
not depend on how objects are spread over processes. A scene offset
(``PopulationConfig.scene_offset``) is drawn after the object and before the unrelated field,
and moves the object alone (:func:`~brahmasifier.simulation.scene.offset_scene`). :func:`draw_object` is our engine's
draw in the engine registry (:mod:`brahmasifier.simulation.engines`), with one
:class:`~brahmasifier.simulation.render.Renderer` per domain per process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from brahmasifier.bands import BANDS, CODE_BY_DOMAIN, PIXEL_SCALE, STAMP_SIZE
from brahmasifier.errors import ConfigError
from brahmasifier.simulation.engines import DrawnObject
from brahmasifier.simulation.field import add_field
from brahmasifier.simulation.lenses import draw_lens, redraw_source
from brahmasifier.simulation.measures import image_multiplicity, matched_filter_snr, noise_variance
from brahmasifier.simulation.nonlenses import draw_nonlens
from brahmasifier.simulation.population import PopulationConfig, sky_position
from brahmasifier.simulation.render import Renderer, RenderResult
from brahmasifier.simulation.scene import Scene, draw_scene_offset, offset_scene
from brahmasifier.simulation.truth import lensed_magnitude

__all__ = [
    "MAX_LENS_SYSTEMS", "SOURCES_PER_SYSTEM", "SimulatedObject", "draw_detectable_lens", "draw_object", "make_object",
    "object_rng", "population_settings", "slsim_object_id",
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


def slsim_object_id(ra: float, dec: float) -> str:
    """ID of an SLSim-domain object at (RA, Dec) in degrees: ``GG-LENS_<ra>_<dec>`` (both engines)."""
    return f"GG-LENS_{ra:.6f}_{dec:.6f}"


def object_rng(seed: int, domain: str, label: int, index: int) -> np.random.Generator:
    """The generator of one object, independent of worker count and order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(CODE_BY_DOMAIN[domain]), int(label), int(index)]))


def draw_detectable_lens(renderer: Renderer, rng: np.random.Generator, cfg: PopulationConfig) -> tuple[Scene, int]:
    """A lens of the domain's population that passes its selection; returns (scene, attempts).

    The ``skypy`` population is selected when drawn (SLSim's cuts, one attempt); the ``bright``
    one is redrawn (source, then system) until the arc's S/N and magnification pass.
    """
    seeing_i = renderer.lsst[2].seeing_fwhm
    if cfg.lens_population[renderer.domain] == "skypy":
        return draw_lens(rng, renderer.domain, cfg, seeing_i), 1
    attempts = 0
    for _ in range(MAX_LENS_SYSTEMS):
        scene = draw_lens(rng, renderer.domain, cfg, seeing_i)
        for k in range(SOURCES_PER_SYSTEM):
            if k:
                scene = redraw_source(rng, scene)
            attempts += 1
            snr, magnification = renderer.arc_statistics(scene)
            if snr >= cfg.min_arc_snr and magnification >= cfg.min_magnification:
                scene.row["sim_arc_snr"] = snr
                scene.row["sim_magnification"] = magnification
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
        object_id = slsim_object_id(ra, dec)
    else:
        object_id = int(rng.integers(10**16, 10**17))
    if label == 1:
        scene, attempts = draw_detectable_lens(renderer, rng, cfg)
    else:
        scene, attempts = draw_nonlens(rng, domain, cfg), 1
    if cfg.scene_offset > 0:  # drawn only when asked: a centred run keeps its bytes
        offset_scene(scene, *draw_scene_offset(rng, cfg.scene_offset))
    add_field(rng, scene, cfg, half_size=STAMP_SIZE * PIXEL_SCALE / 2.0)
    render = renderer.render(scene, rng if noise else None, noise=noise)
    scene.row = {"RA": ra, "Dec": dec, **scene.row, **_measures(renderer, scene, render)}
    return SimulatedObject(domain, label, index, object_id, render.image, scene, render, attempts)


_RENDERERS: dict[str, Renderer] = {}


def draw_object(domain: str, label: int, index: int, seed: int, config: PopulationConfig | None) -> DrawnObject:
    """Our engine's draw: object ``index`` of class ``label`` in ``domain`` (one Renderer per domain per process)."""
    if domain not in _RENDERERS:  # lenstronomy objects are built once per process
        _RENDERERS[domain] = Renderer(domain)
    obj = make_object(_RENDERERS[domain], label, index, seed, config or PopulationConfig())
    return DrawnObject(obj.object_id, obj.image, obj.subtype, dict(obj.scene.row))


def population_settings(config: PopulationConfig | None) -> dict[str, object]:
    """Our engine's entry in a run's settings (``simulation.json``): the population, as data."""
    return {"population": asdict(config or PopulationConfig())}


def _measures(renderer: Renderer, scene: Scene, render: RenderResult) -> dict[str, float]:
    """The ``sim_*`` measurements of :mod:`brahmasifier.simulation.measures` (no random draws)."""
    out = {f"sim_psf_fwhm_{b}": float(f) for b, f in zip(BANDS, render.psf_fwhm, strict=True)}
    if scene.lens_kwargs is None:
        return out
    i = BANDS.index("i")
    arc = renderer.render(scene, None, noise=False, lensed_only=True).image[i].astype(np.float64)
    model = renderer.render(scene, None, noise=False).image[i].astype(np.float64)
    band = renderer.lsst[i]
    variance = noise_variance(model, band.background_rms, band.poisson_njy_per_count)
    if "sim_n_images" in scene.row:  # measured by the selection
        n_images, separation = int(scene.row["sim_n_images"]), float(scene.row["sim_image_sep"])  # type: ignore[call-overload, arg-type]
    else:
        centre = (float(scene.row.get("sim_offset_x", 0.0)), float(scene.row.get("sim_offset_y", 0.0)))  # type: ignore[arg-type]
        n_images, separation = image_multiplicity(renderer.lens_model(scene.lens_kwargs), scene.lens_kwargs,
                                                  float(scene.row["srcx"]),  # type: ignore[arg-type]
                                                  float(scene.row["srcy"]), scene.rein, centre)  # type: ignore[arg-type]
    magnification = float(scene.row.get("sim_magnification", -1.0))  # type: ignore[arg-type]
    out.update({"sim_arc_snr_i": matched_filter_snr(arc, variance), "sim_n_images": float(n_images),
                "sim_image_sep": separation,
                "sim_arc_mag_i": lensed_magnitude(float(scene.row["mag_src_i"]), magnification)})  # type: ignore[arg-type]
    return out

