"""One injection: a lensed background source painted into one host cutout, or the reason it was not.

Steps (the contract of :func:`inject_into_host`):

1. measure the host (:mod:`.measure`): sky noise per band, the centre and shape of its light;
2. the deflector (:mod:`.deflector`): redshift and magnitudes (catalogue, else photometric),
   σ from the Faber–Jackson relation (or θ_E from the stated distribution), an SIE + shear
   whose mass follows the measured light (:func:`brahmasifier.simulation.lenses.mass_model`),
   centred on the measured centre (or the catalogue's ``center_x``/``center_y``);
3. up to ``attempts_per_host`` sources (:mod:`~brahmasifier.simulation.inject.sources`): each is ray-traced, rendered and
   convolved with the band's Moffat PSF by our lenstronomy renderer
   (:class:`brahmasifier.simulation.render.Renderer`, 3× supersampled, 0.2″ pixels; the test
   suite checks the arc against lenstronomy's own ``ImageModel``), and kept when θ_E, the
   magnification and the arc's matched-filter S/N against the host's noise pass the cut;
4. the kept arc's Poisson noise in the instrument's electrons (:data:`LSST_1YR`: total exposure
   time and nJy per e⁻/s of each band) is added with the arc to the host's real pixels.
   Pixels where the arc adds less than :data:`ARC_FLOOR` of the band's sky σ are left exactly
   as they were (the model is set to 0 there, and Poisson(0) = 0).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.simulation.cosmology import einstein_radius
from brahmasifier.simulation.inject.config import InjectConfig
from brahmasifier.simulation.inject.deflector import (
    host_magnitudes,
    host_redshift,
    known,
    sigma_for_rein,
    velocity_dispersion,
)
from brahmasifier.simulation.inject.measure import HostMeasurement, measure_host
from brahmasifier.simulation.inject.sources import SourcePopulation
from brahmasifier.simulation.instrument import LSST_1YR
from brahmasifier.simulation.lenses import MIN_REDSHIFT_GAP, mass_model
from brahmasifier.simulation.measures import image_multiplicity, matched_filter_snr, noise_variance
from brahmasifier.simulation.render import Renderer
from brahmasifier.simulation.scene import Scene
from brahmasifier.simulation.truth import lensed_magnitude, position_angle, shear_from_gamma

__all__ = ["ARC_FLOOR", "Host", "Injection", "host_psf_fwhm", "inject_into_host"]

#: Arc pixels below this fraction of the band's sky σ are not added (the host pixel stays as it was).
ARC_FLOOR = 1e-4


@dataclass
class Host:
    """One host cutout and its catalogue columns (``z_central``, ``mag_lens_<b>``, ``psf_fwhm_<b>``, ...)."""

    id: str
    stem: str
    domain: str
    image: np.ndarray  # float32 (5, 41, 41) raw pixels (nJy)
    params: dict[str, object] = field(default_factory=dict)


@dataclass
class Injection:
    """A finished injection: the new cutout, the noiseless arc that went in, and the truth."""

    image: np.ndarray  # float32 (5, 41, 41): host + arc + the arc's Poisson noise
    arc: np.ndarray  # float64 (5, 41, 41): the noiseless arc as added (zero where below the floor)
    scene: Scene  # lens model and source components, for checks
    row: dict[str, object]  # challenge columns + sim_* + host_id
    measurement: HostMeasurement
    attempts: int


def host_psf_fwhm(params: dict[str, object], mode: str) -> np.ndarray:
    """PSF FWHM per band (arcsec): catalogue ``psf_fwhm_<b>`` / ``sim_psf_fwhm_<b>`` (``mode="auto"``), else LSST's."""
    out = np.array([LSST_1YR[b].seeing_fwhm for b in BANDS])
    if mode == "auto":
        for k, b in enumerate(BANDS):
            for name in (f"psf_fwhm_{b}", f"sim_psf_fwhm_{b}"):
                value = params.get(name)
                if known(value) and float(value) > 0:  # type: ignore[arg-type]
                    out[k] = float(value)  # type: ignore[arg-type]
                    break
    return out


def _magnification(renderer: Renderer, scene: Scene) -> float:
    """Lensed over unlensed i-band flux of the source (on the render grid, stamp + margin)."""
    units, fluxes, _ = renderer.component_images(scene, lensed_only=True)
    i = BANDS.index("i")
    return float((units.sum(axis=(1, 2)) * fluxes[:, i]).sum() / fluxes[:, i].sum())


def inject_into_host(host: Host, renderer: Renderer, sources: SourcePopulation, rng: np.random.Generator,
                     cfg: InjectConfig) -> Injection | str:
    """Paint one lensed source into ``host`` (see the module docstring); a reason string if none passes the cut."""
    image = np.asarray(host.image, dtype=np.float64)
    fwhm = host_psf_fwhm(host.params, cfg.psf)
    i = BANDS.index("i")
    m = measure_host(image, float(fwhm[i]), cfg.centre_radius)
    if not np.all(np.isfinite(m.sky_sigma)) or not np.all(m.sky_sigma > 0):
        bad = [b for b, s in zip(BANDS, m.sky_sigma, strict=True) if not (np.isfinite(s) and s > 0)]
        return f"no measurable sky noise in band(s) {','.join(bad)}"
    mags, mag_origin = host_magnitudes(host.params, m.aperture_mags)
    z_lens, z_origin = host_redshift(host.params, mags)
    x0 = float(host.params["center_x"]) if known(host.params.get("center_x")) else m.x  # type: ignore[arg-type]
    y0 = float(host.params["center_y"]) if known(host.params.get("center_y")) else m.y  # type: ignore[arg-type]
    sigma_host = velocity_dispersion(rng, float(mags[BANDS.index("r")]), z_lens, cfg.min_sigma, cfg.max_sigma)
    lens_kwargs, q_m, phi_m = mass_model(rng, 1.0, x0, y0, m.q, m.phi)
    nominal = np.array([LSST_1YR[b].seeing_fwhm for b in BANDS])
    light = np.clip(image - m.sky_level[:, None, None], 0.0, None)
    shot = np.array([LSST_1YR[b].poisson_njy_per_count for b in BANDS])
    best, reasons = 0.0, set()
    for attempt in range(1, cfg.attempts_per_host + 1):
        drawn_rein = None if cfg.theta_e == "relation" else float(
            cfg.theta_e_median * math.exp(cfg.theta_e_sigma_ln * rng.standard_normal()))
        drawn = sources.draw(rng, z_lens + MIN_REDSHIFT_GAP, x0, y0, functools.partial(_rein, sigma_host, z_lens, drawn_rein))
        if drawn is None:
            reasons.add("no source beyond the deflector")
            continue
        components, source_columns, rein = drawn
        if not cfg.min_rein_over_seeing * fwhm[i] <= rein <= cfg.max_rein:
            reasons.add(f"θ_E outside [{cfg.min_rein_over_seeing} FWHM_i, {cfg.max_rein}″]")
            continue
        kwargs = [{**lens_kwargs[0], "theta_E": rein}, dict(lens_kwargs[1])]
        scene = Scene(1, "lens", kwargs, components, fwhm / nominal, cfg.psf_beta, {})
        renderer.new_object()
        magnification = _magnification(renderer, scene)
        arc = renderer.render(scene, None, noise=False, lensed_only=True).image.astype(np.float64)
        arc[arc < ARC_FLOOR * m.sky_sigma[:, None, None]] = 0.0
        variance = np.stack([noise_variance(light[b] + arc[b], float(m.sky_sigma[b]), float(shot[b])) for b in range(len(BANDS))])
        snr_band = np.array([matched_filter_snr(arc[b], variance[b]) for b in range(len(BANDS))])
        snr = float(math.sqrt(sum(snr_band[BANDS.index(b)] ** 2 for b in cfg.snr_bands)))
        best = max(best, snr)
        if magnification < cfg.min_magnification:
            reasons.add(f"magnification below {cfg.min_magnification}")
            continue
        if snr < cfg.min_arc_snr:
            reasons.add(f"arc S/N below {cfg.min_arc_snr}")
            continue
        sigma = sigma_host if cfg.theta_e == "relation" else sigma_for_rein(rein, z_lens, float(source_columns["zsrc"]))  # type: ignore[arg-type]
        noisy = image + arc + _poisson_noise(rng, arc, shot)
        row = _truth_row(host, m, fwhm, mags, z_lens, z_origin, mag_origin, kwargs, q_m, phi_m, sigma, source_columns,
                         magnification, snr, float(snr_band[i]), renderer)
        scene.row = row
        return Injection(noisy.astype(np.float32), arc, scene, row, m, attempt)
    return f"no detectable injection in {cfg.attempts_per_host} source draws (best arc S/N {best:.1f}; " + \
        "; ".join(sorted(reasons)) + ")"


def _rein(sigma: float, z_lens: float, fixed: float | None, z_source: float) -> float:
    """θ_E for a source at ``z_source``: ``fixed`` (drawn from the distribution) or the SIS value of ``sigma``."""
    return fixed if fixed is not None else einstein_radius(sigma, z_lens, z_source)


def _poisson_noise(rng: np.random.Generator, arc: np.ndarray, shot: np.ndarray) -> np.ndarray:
    """Zero-mean Poisson noise of ``arc`` in electrons (``var[nJy²] = flux × shot``), back in pixel units."""
    per_electron = shot[:, None, None]  # nJy per electron of the coadd: (nJy per e-/s) / exposure time
    electrons = np.clip(arc, 0.0, None) / per_electron
    return (rng.poisson(electrons) - electrons) * per_electron


def _truth_row(host: Host, m: HostMeasurement, fwhm: np.ndarray, mags: np.ndarray, z_lens: float, z_origin: str,
               mag_origin: str, kwargs: list[dict[str, float]], q_m: float, phi_m: float, sigma: float,
               source: dict[str, object], magnification: float, snr: float, snr_i: float,
               renderer: Renderer) -> dict[str, object]:
    """The challenge columns and ``sim_*`` columns of an injected lens (truth conventions of ``truth.py``)."""
    sh, sh_pa = shear_from_gamma(kwargs[1]["gamma1"], kwargs[1]["gamma2"])
    rein = float(kwargs[0]["theta_E"])
    n_images, separation = image_multiplicity(renderer._lens, kwargs, float(source["srcx"]), float(source["srcy"]), rein)  # type: ignore[arg-type]
    ra, dec = (host.params.get(k, MISSING_VALUE) for k in ("RA", "Dec"))
    return {
        "RA": float(ra) if known(ra) else MISSING_VALUE, "Dec": float(dec) if known(dec) else MISSING_VALUE,  # type: ignore[arg-type]
        "Rein": rein, "zlens": z_lens, "vel_disp": sigma, "ell_m": q_m, "ell_m_PA": position_angle(phi_m), "sh": sh,
        "sh_PA": sh_pa, "ell_l": m.q, "ell_l_PA": position_angle(m.phi), "Reff_l": m.r_half, "n_l_sers": MISSING_VALUE,
        **{f"mag_lens_{b}": float(v) for b, v in zip(BANDS, mags, strict=True)},
        **source,
        "sim_arc_snr": snr, "sim_magnification": magnification,
        "sim_arc_mag_i": lensed_magnitude(float(source["mag_src_i"]), magnification),  # type: ignore[arg-type]
        "sim_arc_snr_i": snr_i, "sim_n_images": float(n_images), "sim_image_sep": separation,
        **{f"sim_psf_fwhm_{b}": float(f) for b, f in zip(BANDS, fwhm, strict=True)},
        "sim_lens_x": float(kwargs[0]["center_x"]), "sim_lens_y": float(kwargs[0]["center_y"]),
        "sim_host_z_origin": z_origin, "sim_host_mag_origin": mag_origin,
        **{f"sim_sky_sigma_{b}": float(s) for b, s in zip(BANDS, m.sky_sigma, strict=True)},
    }
