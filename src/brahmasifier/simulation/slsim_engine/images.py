"""Five-band LSST cutouts of SLSim objects, in nJy, with their truth rows.

Pixels are SLSim's own LSST image simulation: ``slsim.ImageSimulation.simulate_image`` builds a
lenstronomy ``SimAPI`` from ``Lens.lenstronomy_kwargs(band)`` and lenstronomy's ``LSST``
observation settings (``coadd_years``; Gaussian PSF at the median seeing; 0.2″ pixels),
renders with 3× supersampling and adds ``SimAPI.noise_for_model`` (sky + read noise and
Gaussian-approximated shot noise). We make the same calls but keep the deflector light and
the lensed source apart (the arc alone is needed for its S/N; the sum equals
``simulate_image``'s image, a test checks it) and give the noise an explicit seed. Counts/s
at lenstronomy's zero point ``zp`` become nJy by ``10^((31.4 − zp)/2.5)``.

What is rendered per form (a non-lens kind's SLSim draw says which,
:mod:`brahmasifier.simulation.nonlens_kinds`): ``lens`` — deflector + lensed source;
``deflector`` — an object's lens light alone (the deflector of a lens system without its
source; ``FalsePositive``: deflector and its unlensed companions, all lens light in
lenstronomy's terms); ``source`` — a lone ``Source``, unlensed. A ``FalsePositive``'s truth row
records its companions (number, separations from the deflector, brightest i magnitude).

A scene offset (``SlsimConfig.scene_offset``) is rendered exactly: :func:`shift_scene` moves
every profile centre of a copy of the lenstronomy keywords (SLSim caches its own), and the
constant external shear and convergence are translation-invariant, so the image is the
centred scene translated, with no resampling.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE, STAMP_SIZE
from brahmasifier.simulation.instrument import NJY_ZERO_POINT
from brahmasifier.simulation.measures import image_multiplicity, matched_filter_snr
from brahmasifier.simulation.truth import companion_row, ellipticity_from_e1e2, lensed_magnitude, shear_from_gamma

__all__ = ["FORMS", "RenderedObject", "band_settings", "render_object", "shift_scene", "truth_row"]

#: How an SLSim-engine object is rendered: a lens, an object's lens light alone, or a lone source.
FORMS: tuple[str, ...] = ("lens", "deflector", "source")
#: ``simulate_image``'s default numerics.
NUMERICS: dict[str, int] = {"point_source_supersampling_factor": 1, "supersampling_factor": 3}


@functools.lru_cache(maxsize=64)
def band_settings(band: str, coadd_years: float) -> dict[str, object]:
    """Lenstronomy's LSST ``kwargs_single_band`` for ``band`` at ``coadd_years`` (SLSim's helper)."""
    from slsim.ImageSimulation.image_quality_lenstronomy import kwargs_single_band

    return dict(kwargs_single_band(band=band, observatory="LSST", coadd_years=coadd_years))


@dataclass
class RenderedObject:
    """One cutout: noisy image and the noiseless parts, all ``(5, 41, 41)`` nJy."""

    image: np.ndarray
    model: np.ndarray  # all light, noiseless
    arc: np.ndarray  # lensed source alone (zeros for non-lenses)
    variance: np.ndarray  # per-pixel noise variance of ``image``, nJy²
    psf_fwhm: np.ndarray  # (5,) arcsec
    offset: tuple[float, float] = (0.0, 0.0)  # scene offset from the stamp centre (x, y), arcsec


def _lenstronomy_kwargs(obj: object, form: str, band: str) -> tuple[dict[str, object], dict[str, object]]:
    if form == "source":
        models, kwargs = obj.kwargs_extended_light(band=band)  # type: ignore[attr-defined]
        return {"lens_light_model_list": list(models)}, {"kwargs_lens_light": kwargs}
    return obj.lenstronomy_kwargs(band)  # type: ignore[attr-defined]


#: Position keys of lenstronomy's keyword dicts, as (x, y) pairs; values are numbers or arrays.
_POSITION_KEYS: tuple[tuple[str, str], ...] = (("center_x", "center_y"), ("ra_0", "dec_0"), ("ra_source", "dec_source"),
                                               ("ra_image", "dec_image"))


def shift_scene(params: dict[str, object], dx: float, dy: float) -> dict[str, object]:
    """A deep copy of lenstronomy ``kwargs_*`` lists with every position moved by ``(dx, dy)`` arcsec.

    Args:
        params: ``{"kwargs_lens": [...], "kwargs_source": [...], ...}`` (``None`` entries kept).
        dx: shift along x (columns), arcsec.
        dy: shift along y (rows), arcsec.

    Returns:
        The shifted copy; ``params`` is not changed.
    """
    shifted = copy.deepcopy(params)
    if dx == 0.0 and dy == 0.0:
        return shifted
    for entries in shifted.values():
        for entry in entries or []:  # type: ignore[attr-defined]
            for kx, ky in _POSITION_KEYS:
                if kx in entry and ky in entry:
                    entry[kx] = np.asarray(entry[kx]) + dx if np.ndim(entry[kx]) else float(entry[kx]) + dx
                    entry[ky] = np.asarray(entry[ky]) + dy if np.ndim(entry[ky]) else float(entry[ky]) + dy
    return shifted


def render_object(obj: object, form: str, coadd_years: float, noise_seeds: np.ndarray,
                  offset: tuple[float, float] = (0.0, 0.0)) -> RenderedObject:
    """Render ``obj`` (an SLSim ``Lens``, ``FalsePositive`` or ``Source``) in the five bands.

    Args:
        obj: the SLSim object.
        form: one of :data:`FORMS`.
        coadd_years: LSST coadd depth.
        noise_seeds: one integer seed per band for ``SimAPI.noise_for_model``.
        offset: ``(dx, dy)`` of the whole scene from the stamp centre, arcsec (x along columns).

    Returns:
        The noisy image and its noiseless parts.
    """
    from lenstronomy.SimulationAPI.sim_api import SimAPI

    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; expected one of {', '.join(FORMS)}")
    shape = (len(BANDS), STAMP_SIZE, STAMP_SIZE)
    image, model, arc, variance = (np.zeros(shape) for _ in range(4))
    fwhm = np.empty(len(BANDS))
    for b, band in enumerate(BANDS):
        settings = band_settings(band, coadd_years)
        kwargs_model, params = _lenstronomy_kwargs(obj, form, band)
        params = shift_scene(params, *offset)
        sim = SimAPI(numpix=STAMP_SIZE, kwargs_single_band=settings, kwargs_model=kwargs_model)
        lens_light, source, ps = sim.magnitude2amplitude(kwargs_lens_light_mag=params.get("kwargs_lens_light"),
                                                         kwargs_source_mag=params.get("kwargs_source"),
                                                         kwargs_ps_mag=params.get("kwargs_ps"))
        image_model = sim.image_model_class(dict(NUMERICS))
        kwargs = {"kwargs_lens": params.get("kwargs_lens"), "kwargs_source": source, "kwargs_lens_light": lens_light,
                  "kwargs_ps": ps}
        light = image_model.image(**kwargs, source_add=False)  # deflector (+ unlensed companions) or lone galaxy
        lensed = image_model.image(**kwargs, lens_light_add=False) if form == "lens" else np.zeros_like(light)
        total = light + lensed
        noise = sim.noise_for_model(model=total, seed=int(noise_seeds[b]))
        to_njy = 10.0 ** ((NJY_ZERO_POINT - float(settings["magnitude_zero_point"])) / 2.5)  # type: ignore[arg-type]
        model[b], arc[b] = total * to_njy, lensed * to_njy
        image[b] = (total + noise) * to_njy
        variance[b] = (sim.background_noise**2 + sim.flux_noise(total) ** 2) * to_njy**2
        fwhm[b] = float(settings["seeing"])  # type: ignore[arg-type]
    return RenderedObject(image.astype(np.float32), model, arc, variance, fwhm, (float(offset[0]), float(offset[1])))


def _shape(kwargs: dict[str, float]) -> tuple[float, float]:
    q, pa = ellipticity_from_e1e2(float(kwargs["e1"]), float(kwargs["e2"]))
    return float(q), float(pa)


def _companions(obj: object) -> dict[str, float]:
    """A ``FalsePositive``'s companion columns (:func:`~brahmasifier.simulation.truth.companion_row`); else none.

    Its sources are the unlensed companions, placed by SLSim around the stamp centre; the
    separations are from the deflector's own (dithered) centre.
    """
    from slsim.FalsePositives.false_positive import FalsePositive

    if not isinstance(obj, FalsePositive):
        return {}
    sources = [obj.source(k) for k in range(obj.source_number)]
    centre = tuple(float(v) for v in obj.deflector.deflector_center)
    positions = [(float(s.extended_source_position[0]), float(s.extended_source_position[1])) for s in sources]
    return companion_row((centre[0], centre[1]), positions, [float(s.extended_source_magnitude("i")) for s in sources])


def truth_row(obj: object, form: str, rendered: RenderedObject) -> dict[str, object]:
    """Catalogue row (challenge columns + ``sim_*``) of an object in :mod:`~brahmasifier.simulation.truth` conventions.

    Args:
        obj: the SLSim object that was rendered.
        form: how it was rendered (:data:`FORMS`).
        rendered: its rendering (for the PSF and the arc S/N).

    Returns:
        The row, without ID/RA/Dec.
    """
    dx, dy = rendered.offset
    row: dict[str, object] = {f"sim_psf_fwhm_{b}": float(f) for b, f in zip(BANDS, rendered.psf_fwhm, strict=True)}
    row.update({"sim_offset_x": dx, "sim_offset_y": dy})
    if form == "source":
        return {"z_central": float(obj.redshift),  # type: ignore[attr-defined]
                **{f"mag_lens_{b}": float(obj.extended_source_magnitude(b)) for b in BANDS}, **row}  # type: ignore[attr-defined]
    deflector = obj.deflector  # type: ignore[attr-defined]
    mags = {f"mag_lens_{b}": float(deflector.magnitude(b)) for b in BANDS}
    if form != "lens":
        return {"z_central": float(deflector.redshift), **mags, **row, **_companions(obj)}
    _, params = obj.lenstronomy_kwargs("i")  # type: ignore[attr-defined]
    mass, shear = params["kwargs_lens"][0], params["kwargs_lens"][1]
    kappa_ext = float(params["kwargs_lens"][2]["kappa"]) if len(params["kwargs_lens"]) > 2 else 0.0
    light, source = params["kwargs_lens_light"][0], params["kwargs_source"][0]
    q_m, pa_m = _shape(mass)
    q_l, pa_l = _shape(light)
    q_s, pa_s = _shape(source)
    sh, sh_pa = shear_from_gamma(float(shear["gamma1"]), float(shear["gamma2"]))
    rein = float(obj.einstein_radius[0])  # type: ignore[attr-defined]
    magnification = float(obj.extended_source_magnification[0])  # type: ignore[attr-defined]
    lens_model, kwargs_lens = obj.deflector_mass_model_lenstronomy(source_index=0)  # type: ignore[attr-defined]
    n_images, separation = image_multiplicity(lens_model, kwargs_lens, float(source["center_x"]), float(source["center_y"]), rein)
    mag_src = {f"mag_src_{b}": float(obj.extended_source_magnitude(b, lensed=False)[0]) for b in BANDS}  # type: ignore[attr-defined]
    i = BANDS.index("i")
    row.update({
        "Rein": rein, "zlens": float(deflector.redshift), "vel_disp": float(obj.deflector_velocity_dispersion()),  # type: ignore[attr-defined]
        "ell_m": q_m, "ell_m_PA": pa_m, "sh": sh, "sh_PA": sh_pa, "ell_l": q_l, "ell_l_PA": pa_l,
        "Reff_l": float(light["R_sersic"]), "n_l_sers": float(light["n_sersic"]), **mags,
        "zsrc": float(obj.source_redshift_list[0]),  # type: ignore[attr-defined]
        "srcx": float(source["center_x"]) + dx, "srcy": float(source["center_y"]) + dy,
        **mag_src, "ell_s": q_s, "ell_s_PA": pa_s, "Reff_s": float(source["R_sersic"]), "n_s_sers": float(source["n_sersic"]),
        "sim_arc_snr": MISSING_VALUE, "sim_magnification": magnification,
        "sim_arc_mag_i": lensed_magnitude(mag_src["mag_src_i"], magnification),
        "sim_arc_snr_i": matched_filter_snr(rendered.arc[i], rendered.variance[i]),
        "sim_n_images": float(n_images), "sim_image_sep": separation,
        "sim_gamma_pl": float(mass.get("gamma", 2.0)), "sim_kappa_ext": kappa_ext,  # EPL slope (2: the SIE), LOS κ
    })
    return row
