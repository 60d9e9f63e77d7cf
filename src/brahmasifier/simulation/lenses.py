"""Lens scenes: the ``skypy`` population (SLSim-like, :mod:`.lens_systems`) and the ``bright`` one.

``bright``: an elliptical deflector (SIE + external shear) and a blue, clumpy background source.

Both populations take the mass options of :class:`~.population.PopulationConfig` (``epl_gamma``:
EPL slopes; ``kappa_ext_sigma``: external convergence; off by default, the default draws
unchanged); when on, the slope and κ go into ``sim_gamma_pl`` and ``sim_kappa_ext``.
Sources follow a Schechter luminosity function with flat-f_ν blue colours (g−i < 1.5), a
size–luminosity relation shrinking with (1+z) and optional star-forming clumps that are
bluer still; they are placed where they are multiply imaged most of the time. Whether the
arc is detectable is decided by the caller (:func:`brahmasifier.simulation.generate.draw_detectable_lens`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.simulation.colours import blue_colours, fluxes, mags_from_i_and_colours, mags_of
from brahmasifier.simulation.cosmology import distance_modulus, einstein_radius, kpc_per_arcsec
from brahmasifier.simulation.galaxies import draw_elliptical, elliptical_component
from brahmasifier.simulation.lens_systems import LensSystem, draw_lens_system, draw_mass_options, mass_kwargs
from brahmasifier.simulation.scene import LightComponent, Scene, draw_centre, draw_psf, ellipticity, sersic
from brahmasifier.simulation.truth import position_angle, shear_from_gamma

if TYPE_CHECKING:
    from brahmasifier.simulation.population import PopulationConfig

__all__ = ["MIN_REDSHIFT_GAP", "deflector_component", "draw_lens", "draw_source", "draw_source_redshift", "mass_model",
           "mass_row", "redraw_source", "skypy_lens", "source_position", "source_row"]

#: A source is at least this much further in redshift than its deflector.
MIN_REDSHIFT_GAP = 0.25


def draw_source_redshift(rng: np.random.Generator) -> float:
    """Redshift of a background source (before the deflector's redshift is checked)."""
    return float(np.clip(0.3 + rng.gamma(3.0, 0.5), 0.4, 5.0))


def mass_model(rng: np.random.Generator, rein: float, x0: float, y0: float, q_light: float,
               phi_light: float) -> tuple[list[dict[str, float]], float, float]:
    """SIE + external shear whose mass follows the deflector's light, with scatter.

    Axis ratio ``q_light`` + N(0, 0.08) (kept in [0.45, 0.99]), angle ``phi_light`` (radians,
    lenstronomy's, from +x) + N(0, 10°), shear components N(0, 0.035) each.

    Returns:
        lenstronomy ``["SIE", "SHEAR"]`` kwargs, the mass axis ratio and its angle (radians).
    """
    q_m = float(np.clip(q_light + rng.normal(0.0, 0.08), 0.45, 0.99))
    phi_m = phi_light + rng.normal(0.0, math.radians(10.0))
    e1m, e2m, _ = ellipticity(q_m, phi_m)
    g1, g2 = rng.normal(0.0, 0.035, 2)
    lens_kwargs = [
        {"theta_E": rein, "e1": e1m, "e2": e2m, "center_x": x0, "center_y": y0},
        {"gamma1": float(g1), "gamma2": float(g2), "ra_0": x0, "dec_0": y0},
    ]
    return lens_kwargs, q_m, float(phi_m)


def draw_lens(rng: np.random.Generator, domain: str, cfg: PopulationConfig, seeing_i: float) -> Scene:
    """One lens of the domain's population (``cfg.lens_population``).

    ``skypy``: an SLSim-selected system (:func:`skypy_lens`), final. ``bright``: a candidate
    whose detectability the caller checks (:func:`~brahmasifier.simulation.generate.draw_detectable_lens`),
    redrawing the source or the system.
    """
    if cfg.lens_population[domain] == "skypy":
        return skypy_lens(rng, domain, cfg)
    while True:
        deflector = draw_elliptical(rng, sigma=float(np.clip(10 ** rng.normal(math.log10(240.0), 0.08), 150.0, 400.0)))
        z_src = draw_source_redshift(rng)
        if z_src < deflector.z + MIN_REDSHIFT_GAP:
            continue
        rein = einstein_radius(deflector.sigma, deflector.z, z_src)
        if cfg.min_rein_over_seeing * seeing_i <= rein <= cfg.max_rein:
            break
    x0, y0 = draw_centre(rng, cfg.max_centre_offset)
    lens_kwargs, q_m, phi_m = mass_model(rng, rein, x0, y0, deflector.q, deflector.phi)
    gamma_pl, kappa = draw_mass_options(rng, cfg.epl_gamma, cfg.kappa_ext_sigma)
    lens_kwargs = mass_kwargs(lens_kwargs, gamma_pl, kappa)
    shear, sh_pa = shear_from_gamma(lens_kwargs[1]["gamma1"], lens_kwargs[1]["gamma2"])
    source = draw_source(rng, z_src, x0, y0, rein)
    components = [elliptical_component("deflector", deflector, x0, y0), *source["components"]]
    psf_scale, beta = draw_psf(rng, cfg.seeing_scatter[domain], cfg.gaussian_psf_fraction[domain])
    row: dict[str, object] = {
        "Rein": rein, "zlens": deflector.z, "vel_disp": deflector.sigma,
        "ell_m": q_m, "ell_m_PA": position_angle(phi_m), "sh": shear, "sh_PA": sh_pa,
        "ell_l": deflector.q, "ell_l_PA": position_angle(deflector.phi),
        "Reff_l": deflector.r_eff, "n_l_sers": deflector.n,
        **{f"mag_lens_{b}": float(m) for b, m in zip(BANDS, deflector.mags, strict=True)},
        "zsrc": z_src, "srcx": source["x"], "srcy": source["y"],
        **source_row(source),
        **mass_row(cfg, gamma_pl, kappa),
    }
    return Scene(1, "lens", lens_kwargs, components, psf_scale, beta, row)


def mass_row(cfg: PopulationConfig, gamma_pl: float | None, kappa: float) -> dict[str, object]:
    """``sim_gamma_pl`` / ``sim_kappa_ext`` where the option is on (absent, i.e. missing, where it is off)."""
    row: dict[str, object] = {}
    if cfg.epl_gamma is not None:
        row["sim_gamma_pl"] = 2.0 if gamma_pl is None else gamma_pl
    if cfg.kappa_ext_sigma > 0:
        row["sim_kappa_ext"] = kappa
    return row


def skypy_lens(rng: np.random.Generator, domain: str, cfg: PopulationConfig) -> Scene:
    """A lens of SkyPy's galaxies selected like SLSim's ``LensPop`` (:func:`~.lens_systems.draw_lens_system`)."""
    system = draw_lens_system(rng, cfg.lens_cuts, cfg.skypy_shear_sigma, epl_gamma=cfg.epl_gamma,
                              kappa_sigma=cfg.kappa_ext_sigma)
    d, s = system.deflector, system.source
    xs, ys = system.source_xy
    components = [deflector_component("deflector", system), sersic("source", xs, ys, float(s.r_eff[0]), 1.0, float(s.q[0]),
                                                                    float(s.phi[0]), fluxes(s.mags[0]), lensed=True)]
    psf_scale, beta = draw_psf(rng, cfg.seeing_scatter[domain], cfg.gaussian_psf_fraction[domain])
    shear, sh_pa = shear_from_gamma(*system.gamma)
    row: dict[str, object] = {
        "Rein": system.theta_e, "zlens": float(d.z[0]), "vel_disp": system.sigma,
        "ell_m": system.q_mass, "ell_m_PA": position_angle(system.phi_mass), "sh": shear, "sh_PA": sh_pa,
        "ell_l": float(d.q[0]), "ell_l_PA": position_angle(float(d.phi[0])), "Reff_l": float(d.r_eff[0]), "n_l_sers": 4.0,
        **{f"mag_lens_{b}": float(m) for b, m in zip(BANDS, d.mags[0], strict=True)},
        "zsrc": float(s.z[0]), "srcx": xs, "srcy": ys,
        **{f"mag_src_{b}": float(m) for b, m in zip(BANDS, s.mags[0], strict=True)},
        "ell_s": float(s.q[0]), "ell_s_PA": position_angle(float(s.phi[0])), "Reff_s": float(s.r_eff[0]), "n_s_sers": 1.0,
        "sim_arc_snr": MISSING_VALUE, "sim_magnification": system.magnification, "sim_n_images": float(system.n_images),
        "sim_image_sep": system.image_separation, **mass_row(cfg, system.gamma_pl, system.kappa_ext),
    }
    return Scene(1, "lens", system.lens_kwargs(), components, psf_scale, beta, row)


def deflector_component(role: str, system: LensSystem) -> LightComponent:
    """The Sérsic (n = 4) light of a lens system's deflector, at its centre."""
    d = system.deflector
    return sersic(role, *system.centre, float(d.r_eff[0]), 4.0, float(d.q[0]), float(d.phi[0]), fluxes(d.mags[0]))


def redraw_source(rng: np.random.Generator, scene: Scene) -> Scene:
    """Same deflector, a new source (cheaper than a new system when an arc is too faint)."""
    if scene.lens_kwargs is None:
        raise ValueError("redraw_source needs a lens scene (one with a mass model)")
    row = scene.row
    x0, y0 = scene.lens_kwargs[0]["center_x"], scene.lens_kwargs[0]["center_y"]
    z_src = row["zsrc"]
    assert isinstance(z_src, float), f"a lens row's zsrc must be a float, got {z_src!r}"
    source = draw_source(rng, z_src, x0, y0, scene.rein)
    components = [c for c in scene.components if not c.lensed] + source["components"]
    new_row = dict(row)
    new_row.update({"srcx": source["x"], "srcy": source["y"], **source_row(source)})
    return Scene(1, scene.subtype, scene.lens_kwargs, components, scene.psf_scale, scene.psf_beta, new_row)


def source_row(source: dict[str, Any]) -> dict[str, object]:
    """The catalogue columns of a drawn source (:func:`draw_source`) other than its position."""
    return {
        **{f"mag_src_{b}": float(m) for b, m in zip(BANDS, source["mags"], strict=True)},
        "ell_s": source["q"], "ell_s_PA": position_angle(source["phi"]), "Reff_s": source["r_eff"], "n_s_sers": source["n"],
    }


def _schechter_mag(rng: np.random.Generator, m_star: float, alpha: float, bright: float, faint: float) -> float:
    """Draw an absolute magnitude from a Schechter function (rejection sampling)."""
    grid = np.linspace(bright, faint, 200)
    x = 10.0 ** (-0.4 * (grid - m_star))
    density = x ** (alpha + 1.0) * np.exp(-x)
    peak = density.max()
    while True:
        m = rng.uniform(bright, faint)
        xv = 10.0 ** (-0.4 * (m - m_star))
        if rng.uniform(0.0, peak) < xv ** (alpha + 1.0) * math.exp(-xv):
            return m


def source_position(rng: np.random.Generator, x0: float, y0: float, rein: float) -> tuple[float, float]:
    """Centre of a source behind a lens at ``(x0, y0)``: uniform within 0.6 θ_E (multiply imaged most of the time)."""
    radius = rein * 0.6 * math.sqrt(rng.uniform())
    angle = rng.uniform(0, 2 * math.pi)
    return x0 + radius * math.cos(angle), y0 + radius * math.sin(angle)


def draw_source(rng: np.random.Generator, z: float, x0: float, y0: float, rein: float) -> dict[str, Any]:
    """A blue Sérsic source (+ clumps) at redshift ``z`` placed where it is multiply imaged most of the time.

    Returns:
        ``components`` (lensed :class:`LightComponent` s), the centre ``x``, ``y`` (arcsec), ``mags``
        (unlensed AB per band, clumps included) and the Sérsic ``r_eff``, ``n``, ``q``, ``phi``.
    """
    abs_mag = _schechter_mag(rng, -21.3, -1.3, -23.5, -19.5)
    mag_i = abs_mag + distance_modulus(z) - 2.5 * math.log10(1.0 + z)
    colours = blue_colours(rng)
    mags = mags_from_i_and_colours(mag_i, colours)
    r_kpc = 3.0 * 10 ** (-0.1 * (abs_mag + 21.0)) * (1.0 + z) ** -0.5 * 10 ** rng.normal(0.0, 0.15)
    r_eff = float(np.clip(r_kpc / kpc_per_arcsec(z), 0.05, 1.0))
    n = float(rng.uniform(0.5, 2.0))
    q = float(rng.uniform(0.4, 1.0))
    phi = float(rng.uniform(0, math.pi))
    xs, ys = source_position(rng, x0, y0, rein)
    total = fluxes(mags)
    n_clumps = int(min(rng.poisson(1.2), 4))
    clump_fracs = rng.uniform(0.03, 0.10, n_clumps)
    components = [sersic("source", xs, ys, r_eff, n, q, phi, total * (1.0 - clump_fracs.sum()), lensed=True)]
    for frac in clump_fracs:
        clump_colours = blue_colours(rng, extra_blue=0.25)
        shape = fluxes(mags_from_i_and_colours(0.0, clump_colours))
        shape = shape / shape[2]
        cx, cy = rng.normal(0.0, r_eff, 2)
        params = {"sigma": float(rng.uniform(0.02, 0.06)), "center_x": xs + cx, "center_y": ys + cy}
        components.append(LightComponent("source_clump", "gaussian", params, total[2] * frac * shape, lensed=True))
    all_mags = mags_of(np.asarray(sum(c.flux for c in components)))
    return {"components": components, "x": xs, "y": ys, "mags": all_mags, "r_eff": r_eff, "n": n, "q": q, "phi": phi}
