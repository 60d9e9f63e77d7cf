"""What a cutout holds before any pixel is drawn: light components, the scene, their shapes.

A draw (:mod:`.lenses`, :mod:`.nonlenses`) returns a :class:`Scene`: the mass model (lenses
only), a list of :class:`LightComponent` (each with a flux per band in nJy and a flag saying
whether it is seen through the lens) and the catalogue row with the challenge's column names.
Pixels are made by :mod:`brahmasifier.simulation.render`; nothing here depends on lenstronomy.

Conventions: ellipticities are ``(1-q)/(1+q)``, position angles are in radians
counter-clockwise from the +x axis, positions in arcsec from the stamp centre, sizes are
Sérsic half-light radii along the intermediate axis (lenstronomy).

Scene offsets (``simulate --scene-offset PIX``, both engines): :func:`draw_scene_offset` is the
one draw of the shift (uniform in ±PIX pixels per axis, from the object's generator; nothing
drawn at 0, so a centred run keeps its bytes), and :func:`offset_scene` moves every profile
centre of our engine's scene, its mass model and ``srcx``/``srcy`` by it — an exact translation
(no resampling: the external shear and convergence move with the deflector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE, PIXEL_SCALE

__all__ = ["MAX_SCENE_OFFSET", "N_BANDS", "LightComponent", "Scene", "draw_centre", "draw_psf", "draw_scene_offset",
           "ellipticity", "offset_scene", "sersic"]

N_BANDS = len(BANDS)
#: Largest scene offset (pixels): beyond a quarter of the 41-pixel stamp the object is no longer "the central one".
MAX_SCENE_OFFSET: float = 10.0
#: Position keys of light-profile and mass-model keyword dicts, as (x, y) pairs.
_POSITION_KEYS: tuple[tuple[str, str], ...] = (("center_x", "center_y"), ("ra_0", "dec_0"))


@dataclass
class LightComponent:
    """One light profile; ``flux`` is per band in nJy (unlensed flux for lensed components).

    ``profile`` is ``sersic`` (lenstronomy ``SERSIC_ELLIPSE`` keys), ``gaussian``, ``point``,
    ``ring`` (elliptical Gaussian ring, optionally limited in azimuth: a tidal arc) or
    ``spiral`` (a Sérsic disc modulated by logarithmic arms).
    """

    role: str
    profile: str
    params: dict[str, float]
    flux: np.ndarray
    lensed: bool = False


@dataclass
class Scene:
    """Everything needed to draw one cutout and to describe it in the catalogue."""

    label: int  # 1 lens, 0 non-lens
    subtype: str
    lens_kwargs: list[dict[str, float]] | None  # lenstronomy kwargs (SIE + shear; lens_systems.lens_model_list)
    components: list[LightComponent]
    psf_scale: np.ndarray  # (5,) multiplies the instrument's nominal seeing FWHM
    psf_beta: float  # Moffat β; math.inf for a Gaussian PSF
    row: dict[str, object]  # catalogue row (challenge column names), without the ID

    @property
    def rein(self) -> float:
        """Einstein radius in arcsec (``MISSING_VALUE`` for a non-lens)."""
        value = self.row.get("Rein", MISSING_VALUE)
        assert isinstance(value, (int, float)), f"Rein must be a number, got {value!r}"
        return float(value)


def ellipticity(q: float, phi: float) -> tuple[float, float, float]:
    """(e1, e2, ``|e|``) of lenstronomy from axis ratio q and angle phi."""
    e = (1.0 - q) / (1.0 + q)
    return e * math.cos(2 * phi), e * math.sin(2 * phi), e


def sersic(role: str, x: float, y: float, r_eff: float, n: float, q: float, phi: float, flux: np.ndarray,
           lensed: bool = False) -> LightComponent:
    """An elliptical Sérsic component at ``(x, y)`` arcsec."""
    e1, e2, _ = ellipticity(q, phi)
    params = {"R_sersic": r_eff, "n_sersic": n, "e1": e1, "e2": e2, "center_x": x, "center_y": y}
    return LightComponent(role, "sersic", params, flux, lensed)


def draw_psf(rng: np.random.Generator, scatter: float = 0.10, gaussian_fraction: float = 0.0) -> tuple[np.ndarray, float]:
    """Per-object seeing: a common factor (the night/coadd, log-normal ``scatter``) and a small per-band jitter.

    The PSF is a Moffat with β uniform in [2.5, 4.5], or, with probability ``gaussian_fraction``,
    a Gaussian (β = ∞, the Moffat's limit; SLSim's LSST images use a Gaussian at the median seeing).
    """
    common = math.exp(rng.normal(0.0, scatter))
    scale = common * np.exp(rng.normal(0.0, 0.03, N_BANDS))
    beta = float(rng.uniform(2.5, 4.5))
    if gaussian_fraction > 0 and rng.uniform() < gaussian_fraction:
        beta = math.inf
    return scale, beta


def draw_centre(rng: np.random.Generator, max_offset: float) -> tuple[float, float]:
    """A random offset (arcsec) of the central object, uniform in a disc of radius ``max_offset``."""
    r = max_offset * math.sqrt(rng.uniform())
    a = rng.uniform(0, 2 * math.pi)
    return r * math.cos(a), r * math.sin(a)


def draw_scene_offset(rng: np.random.Generator, max_pixels: float) -> tuple[float, float]:
    """A scene offset ``(dx, dy)`` in arcsec, uniform in ``[−max_pixels, max_pixels]`` LSST pixels per axis.

    Nothing is drawn when ``max_pixels`` is 0 (the generator's stream, hence every later draw, is
    unchanged): ``(0.0, 0.0)``.
    """
    if not max_pixels > 0:
        return 0.0, 0.0
    dx, dy = rng.uniform(-max_pixels, max_pixels, 2) * PIXEL_SCALE
    return float(dx), float(dy)


def offset_scene(scene: Scene, dx: float, dy: float) -> Scene:
    """Move the whole scene by ``(dx, dy)`` arcsec, in place, and record the shift.

    Every light component's centre, the mass model's centres (deflector, shear and convergence
    origins) and the source position ``srcx``/``srcy`` move; ``sim_offset_x``/``sim_offset_y``
    are set. Lensed light moves with the lens, so the image is the centred one translated.

    Returns:
        ``scene``.
    """
    for params in [c.params for c in scene.components] + list(scene.lens_kwargs or []):
        for kx, ky in _POSITION_KEYS:
            if kx in params and ky in params:
                params[kx] = float(params[kx]) + dx
                params[ky] = float(params[ky]) + dy
    for key, shift in (("srcx", dx), ("srcy", dy)):
        if key in scene.row:
            scene.row[key] = float(scene.row[key]) + shift  # type: ignore[arg-type]
    scene.row.update({"sim_offset_x": dx, "sim_offset_y": dy})
    return scene
