"""Lens systems drawn and selected the way SLSim's ``LensPop.draw_population`` does, from SkyPy's models.

SLSim tests every deflector of a catalogue against a Poisson number of catalogue sources placed
uniformly within ``π (1.5 θ_E∞)²`` of it and keeps a pair that passes ``Lens.validity_test``.
In the linear regime (≪ 1 source per test area, as at LSST depth) that is rejection sampling
of triples (deflector ∝ θ_E∞², source, position uniform in the test area) — what
:func:`draw_lens_system` does, with the deflectors and sources of
:mod:`brahmasifier.simulation.skypy_galaxies`. The validity test, as SLSim 0.1.1's:

1. ``z_s > z_d``; 2. ``min_sep ≤ 2 θ_E ≤ max_sep``; 3. source centre within ``√2 θ_E`` of the
deflector; 4. at least two images of the source centre; 5. their largest separation in
``[min_sep, max_sep]``; 6. the lensed arc brighter than ``mag_arc_limit`` in one band, with
SLSim's extended-source magnification (:func:`~brahmasifier.simulation.measures.extended_magnification`).

Deflectors: SIE with θ_E from the velocity dispersion (SIS, as SLSim's default ``EPL`` with
γ = 2), centre uniform in 0.01 arcsec², light a Sérsic n = 4 of the galaxy's size and axis
ratio, mass eccentricity = light's + N(0, 0.1) and angle + N(0, 0.1 rad) (SLSim's
``elliptical_projected_eccentricity``). Sources: single Sérsic n = 1. External shear (SLSim:
zero without a line-of-sight table) is an option, ``shear_sigma`` per component.

Mass options (off by default, the defaults' draws unchanged): ``epl_gamma`` (mean, sd) makes the
deflector an EPL of Gaussian slope (lenstronomy ``EPL``; SLSim's ``gamma_pl``), kept in
[:data:`GAMMA_RANGE`] by redrawing; ``kappa_sigma`` adds an external convergence N(0, σ)
(lenstronomy ``CONVERGENCE``; SLSim's line-of-sight κ, whose v0.1.1 table gives σ ≈ 0.04 on
SLSim-own-configuration lenses, median ≈ 0). The validity test uses the full mass model, as
SLSim's does. :func:`lens_model_list` names the lenstronomy models of any such kwargs list, so
renderer and measures need no other flag.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError
from brahmasifier.simulation.cosmology import comoving_distances
from brahmasifier.simulation.measures import extended_magnification, image_multiplicity
from brahmasifier.simulation.scene import ellipticity
from brahmasifier.simulation.skypy_galaxies import (
    Galaxies,
    draw_deflector_candidates,
    draw_sources,
    n_sigma_curves,
    theta_e_infinity,
)

__all__ = ["DEFLECTOR_AREA", "GAMMA_RANGE", "LensCuts", "LensSystem", "check_mass_options", "draw_lens_system",
           "draw_mass_options",
           "lens_model", "lens_model_list", "mass_kwargs", "source_area_radius"]

#: Area (arcsec²) within which SLSim dithers the deflector centre (``LensPop``: ``deflector_area=0.01``).
DEFLECTOR_AREA = 0.01
_BATCH = 512
#: EPL slopes are redrawn until inside this range (SLSim engine: draws kept inside (1, 3)).
GAMMA_RANGE = (1.5, 2.5)


@dataclass(frozen=True)
class LensCuts:
    """SLSim's ``kwargs_lens_cuts`` (the SLSim engine's defaults: its galaxy-galaxy tutorial)."""

    min_image_separation: float = 0.8
    max_image_separation: float = 10.0
    mag_arc_limit: tuple[tuple[str, float], ...] = (("i", 24.0),)


@dataclass
class LensSystem:
    """A selected deflector–source pair and what the selection measured."""

    deflector: Galaxies  # one galaxy
    sigma: float
    centre: tuple[float, float]
    q_mass: float
    phi_mass: float
    gamma: tuple[float, float]
    theta_e: float
    theta_e_inf: float
    source: Galaxies  # one galaxy
    source_xy: tuple[float, float]
    magnification: float
    n_images: int
    image_separation: float
    gamma_pl: float | None = None  # EPL slope; None: SIE
    kappa_ext: float = 0.0  # external convergence

    def lens_kwargs(self) -> list[dict[str, float]]:
        """Lenstronomy keyword arguments of :func:`lens_model_list` (default ``['SIE', 'SHEAR']``)."""
        return mass_kwargs(_lens_kwargs(self.theta_e, self.q_mass, self.phi_mass, self.centre, self.gamma),
                           self.gamma_pl, self.kappa_ext)


def source_area_radius(theta_e_inf: np.ndarray | float) -> np.ndarray | float:
    """Radius (arcsec) of the area in which SLSim places test sources and false-positive companions."""
    return 1.5 * theta_e_inf


def _disc(rng: np.random.Generator, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in discs of the given radii (one per radius), centred on 0."""
    r = radius * np.sqrt(rng.uniform(size=len(radius)))
    a = rng.uniform(0.0, 2.0 * math.pi, len(radius))
    return r * np.cos(a), r * np.sin(a)


def _lens_kwargs(theta_e: float, q: float, phi: float, centre: tuple[float, float],
                 gamma: tuple[float, float]) -> list[dict[str, float]]:
    e1, e2, _ = ellipticity(q, phi)
    return [{"theta_E": theta_e, "e1": e1, "e2": e2, "center_x": centre[0], "center_y": centre[1]},
            {"gamma1": gamma[0], "gamma2": gamma[1], "ra_0": centre[0], "dec_0": centre[1]}]


def lens_model_list(lens_kwargs: list[dict[str, float]]) -> tuple[str, ...]:
    """Lenstronomy models of a lens's kwargs: ``SIE`` or ``EPL`` (a ``gamma`` key), ``SHEAR``, ``CONVERGENCE`` (3rd entry)."""
    models = ["EPL" if "gamma" in lens_kwargs[0] else "SIE", "SHEAR"]
    if len(lens_kwargs) > 2:
        models.append("CONVERGENCE")
    return tuple(models)


@functools.lru_cache(maxsize=8)
def lens_model(models: tuple[str, ...]) -> object:
    """A lenstronomy ``LensModel`` of ``models`` (one per process and list)."""
    from lenstronomy.LensModel.lens_model import LensModel

    return LensModel(list(models))


def mass_kwargs(kwargs: list[dict[str, float]], gamma_pl: float | None, kappa_ext: float) -> list[dict[str, float]]:
    """SIE + shear kwargs made EPL (slope ``gamma_pl``) and given an external convergence (when not 0)."""
    if gamma_pl is None and kappa_ext == 0.0:
        return kwargs
    out = [dict(k) for k in kwargs]
    if gamma_pl is not None:
        out[0]["gamma"] = float(gamma_pl)
    if kappa_ext != 0.0:
        out.append({"kappa": float(kappa_ext), "ra_0": out[1]["ra_0"], "dec_0": out[1]["dec_0"]})
    return out


def check_mass_options(epl_gamma: tuple[float, float] | None, kappa_sigma: float) -> None:
    """Refuse mass options that cannot be drawn.

    Raises:
        ConfigError: a slope distribution whose mean is outside :data:`GAMMA_RANGE` or whose
            spread is negative, non-finite or over 0.5, or a ``kappa_sigma`` outside [0, 0.3].
    """
    if epl_gamma is not None:
        values = [float(v) for v in epl_gamma]
        if not (len(values) == 2 and GAMMA_RANGE[0] < values[0] < GAMMA_RANGE[1] and math.isfinite(values[1])
                and 0.0 <= values[1] <= 0.5):
            raise ConfigError(f"EPL slope {tuple(epl_gamma)!r}: a (mean, sd) with mean inside {GAMMA_RANGE} and 0 <= sd <= 0.5")
    if not (math.isfinite(kappa_sigma) and 0.0 <= kappa_sigma <= 0.3):
        raise ConfigError(f"external convergence spread {kappa_sigma!r}: 0 (off) to 0.3")


def draw_mass_options(rng: np.random.Generator, epl_gamma: tuple[float, float] | None,
                      kappa_sigma: float) -> tuple[float | None, float]:
    """``(slope or None, κ_ext)`` of one lens; draws nothing for an option that is off (:func:`check_mass_options` first)."""
    check_mass_options(epl_gamma, kappa_sigma)
    gamma = None
    if epl_gamma is not None:
        mean, sd = (float(v) for v in epl_gamma)
        while True:
            gamma = float(rng.normal(mean, sd))
            if GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
                break
    kappa = float(rng.normal(0.0, kappa_sigma)) if kappa_sigma > 0 else 0.0
    return gamma, kappa


@functools.lru_cache(maxsize=1)
def _light_model() -> object:
    from lenstronomy.LightModel.light_model import LightModel

    return LightModel(["SERSIC_ELLIPSE"])


def _mass_shape(rng: np.random.Generator, q_light: float, phi_light: float) -> tuple[float, float]:
    """SLSim's mass eccentricity: e_mass = e_light + N(0, 0.1), angle + N(0, 0.1); as (q, φ)."""
    e = (1.0 - q_light) / (1.0 + q_light) + rng.normal(0.0, 0.1)
    phi = phi_light + rng.normal(0.0, 0.1)
    if e < 0:
        e, phi = -e, phi + math.pi / 2.0
    e = min(e, 0.9)
    return (1.0 - e) / (1.0 + e), phi % math.pi


def draw_lens_system(rng: np.random.Generator, cuts: LensCuts | None = None, shear_sigma: float = 0.0,
                     max_batches: int = 10_000, epl_gamma: tuple[float, float] | None = None,
                     kappa_sigma: float = 0.0) -> LensSystem:
    """One lens system that passes SLSim's validity test (see the module docstring).

    Args:
        rng: the generator (every draw comes from it).
        cuts: the lens cuts (default :class:`LensCuts`).
        shear_sigma: standard deviation of each external shear component (0: SLSim without line of sight).
        max_batches: batches of candidate triples before giving up.
        epl_gamma: EPL slope (mean, sd) of the deflectors; None: SIE.
        kappa_sigma: spread of the external convergence (0: none).

    Returns:
        The selected system.

    Raises:
        RuntimeError: no candidate passed in ``max_batches`` batches (impossible cuts).
    """
    cuts = cuts or LensCuts()
    light_model = _light_model()
    theta_min = cuts.min_image_separation / 2.0
    curve = int(rng.integers(n_sigma_curves()))  # one SLSim realisation's σ(M*) per system
    for _ in range(max_batches):
        deflectors, sigmas = draw_deflector_candidates(rng, _BATCH, theta_min, curve)
        sources = draw_sources(rng, max(len(deflectors), 1))
        n = min(len(deflectors), len(sources))
        if n == 0:
            continue
        deflectors, sources, sigmas = deflectors.take(np.arange(n)), sources.take(np.arange(n)), sigmas[:n]
        theta_inf = theta_e_infinity(sigmas)
        centre = _disc(rng, np.full(n, math.sqrt(DEFLECTOR_AREA / math.pi)))
        offset = _disc(rng, np.asarray(source_area_radius(theta_inf)))
        # Criteria 1-3, vectorised: z_s > z_d, image separation of 2 θ_E, source within √2 θ_E.
        behind = sources.z > deflectors.z
        ratio = np.where(behind, 1.0 - comoving_distances(deflectors.z) / comoving_distances(sources.z), 0.0)
        theta_e = theta_inf * ratio
        ok = behind & (cuts.min_image_separation <= 2.0 * theta_e) & (2.0 * theta_e <= cuts.max_image_separation)
        ok &= offset[0] ** 2 + offset[1] ** 2 <= 2.0 * theta_e**2
        for k in np.flatnonzero(ok):
            d, s = deflectors.take(np.array([k])), sources.take(np.array([k]))
            q_m, phi_m = _mass_shape(rng, float(d.q[0]), float(d.phi[0]))
            gamma = (float(rng.normal(0.0, shear_sigma)), float(rng.normal(0.0, shear_sigma))) if shear_sigma > 0 else (0.0, 0.0)
            c = (float(centre[0][k]), float(centre[1][k]))
            gamma_pl, kappa = draw_mass_options(rng, epl_gamma, kappa_sigma)
            kwargs = mass_kwargs(_lens_kwargs(float(theta_e[k]), q_m, phi_m, c, gamma), gamma_pl, kappa)
            model = lens_model(lens_model_list(kwargs))
            xs, ys = c[0] + float(offset[0][k]), c[1] + float(offset[1][k])
            n_images, separation = image_multiplicity(model, kwargs, xs, ys, float(theta_e[k]))
            if n_images < 2 or not (cuts.min_image_separation <= separation <= cuts.max_image_separation):
                continue
            e1, e2, _ = ellipticity(float(s.q[0]), float(s.phi[0]))
            source_kwargs = {"R_sersic": float(s.r_eff[0]), "n_sersic": 1.0, "e1": e1, "e2": e2, "center_x": xs, "center_y": ys}
            mu = extended_magnification(model, kwargs, light_model, source_kwargs, float(theta_e[k]))
            if mu <= 0 or not any(float(s.mags[0, BANDS.index(b)]) - 2.5 * math.log10(mu) < limit
                                  for b, limit in cuts.mag_arc_limit):
                continue
            return LensSystem(d, float(sigmas[k]), c, q_m, phi_m, gamma, float(theta_e[k]), float(theta_inf[k]), s, (xs, ys),
                              mu, n_images, separation, gamma_pl, kappa)
    raise RuntimeError(f"no lens system passed the cuts {cuts} in {max_batches} batches")
