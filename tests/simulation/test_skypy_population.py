"""Our engine's SLSim-like population: SkyPy's photometry, the lens selection, the statistics it guarantees."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("lenstronomy")

from brahmasifier.bands import BANDS
from brahmasifier.simulation import skypy_galaxies as sg
from brahmasifier.simulation.generate import make_object
from brahmasifier.simulation.lens_systems import LensCuts, draw_lens_system
from brahmasifier.simulation.population import PopulationConfig
from brahmasifier.simulation.render import Renderer


def test_photometry_is_skypys_kcorrect() -> None:
    """Our tabulated template photometry equals SkyPy's kcorrect magnitudes and stellar masses."""
    pytest.importorskip("skypy", reason="SkyPy (extra [slsim]) is the reference")
    pytest.importorskip("speclite", reason="SkyPy's photometry needs speclite (extra [slsim])")
    from astropy.cosmology import FlatLambdaCDM
    from skypy.galaxies.spectrum import kcorrect

    from brahmasifier.simulation.slsim_engine.skypy_config import LSST_FILTERS

    rng = np.random.default_rng(3)
    for model in (sg.RED, sg.BLUE):
        z = rng.uniform(0.02, 4.9, 120)  # fewer objects than SkyPy's resolution: it computes each one exactly
        m_abs = rng.uniform(-24.0, -17.0, 120)
        coeff = sg._dirichlet(rng, model, z)
        mags, log_mstar = sg.photometry(coeff, z, m_abs)
        mstar = kcorrect.stellar_mass(coeff, m_abs, "bessell-B")
        reference = kcorrect.apparent_magnitudes(coeff, z, list(LSST_FILTERS), FlatLambdaCDM(H0=70, Om0=0.3),
                                                 stellar_mass=mstar, resolution=2000)
        np.testing.assert_allclose(log_mstar, np.log10(mstar), atol=1e-9)
        assert np.percentile(np.abs(mags - reference), 99) < 0.005 and np.abs(mags - reference).max() < 0.03


def test_catalogue_draws_follow_the_luminosity_functions() -> None:
    """Blue galaxies (g < 26) of our grid proposal have the redshifts the Schechter LF × volume predicts."""
    from scipy.integrate import trapezoid

    from brahmasifier.simulation.cosmology import comoving_volume_element

    rng = np.random.default_rng(0)
    sources = sg.draw_sources(rng, 40_000)
    assert np.all(sources.mags[:, 0] < sg.G_LIMIT) and np.all((sources.z > 0.1) & (sources.z < 5.0))
    # Independent estimate of the fraction below z = 1: the LF × volume integrated on a fine grid, with the
    # g < 26 cut applied by Monte Carlo over the SED coefficients at each redshift.
    z = np.linspace(0.1, 5.0, 197)
    m = np.linspace(-26.0, -10.0, 800)
    coeff_rng = np.random.default_rng(1)
    counts = []
    for zi in z:
        coeff = sg._dirichlet(coeff_rng, sg.BLUE, np.full(64, zi))
        g0 = sg.photometry(coeff, np.full(64, zi), np.zeros(64))[0][:, 0]  # g at M_B = 0
        passing = (m[:, None] + g0[None, :] < sg.G_LIMIT).mean(axis=1)
        counts.append(float(np.sum(sg.BLUE.schechter(m, np.full_like(m, zi)) * passing)))
    density = np.array(counts) * comoving_volume_element(z)
    expected = trapezoid(density[z <= 1.0], z[z <= 1.0]) / trapezoid(density, z)
    assert abs(np.mean(sources.z < 1.0) - expected) < 0.02
    # Sizes: SLSim's Bernardi relation (deterministic in g and z); ellipticities in (0, 1].
    assert np.all((sources.q > 0) & (sources.q <= 1)) and 0.03 < np.median(sources.r_eff) < 0.15


def test_selected_lenses_pass_slsims_cuts_and_have_its_statistics() -> None:
    """A few hundred systems: the cuts hold for each, and the population's medians are SLSim's (± sampling)."""
    rng = np.random.default_rng(42)
    cuts = LensCuts()
    systems = [draw_lens_system(rng, cuts) for _ in range(150)]
    theta = np.array([s.theta_e for s in systems])
    arc_i = np.array([s.source.mags[0, 2] - 2.5 * math.log10(s.magnification) for s in systems])
    assert np.all(2 * theta >= 0.8) and np.all(arc_i < 24.0)
    assert all(s.n_images >= 2 and 0.8 <= s.image_separation <= 10 for s in systems)
    assert all(float(s.source.z[0]) > float(s.deflector.z[0]) for s in systems)
    assert all(math.hypot(s.source_xy[0] - s.centre[0], s.source_xy[1] - s.centre[1]) <= math.sqrt(2) * s.theta_e + 1e-9
               for s in systems)
    # SLSim engine, 3000 lenses at its defaults (seed 101): θ_E median 0.72″, σ 221 km/s, z_d 0.69, z_s 2.58,
    # source R_eff 0.090″, deflector g−i 1.99. Bands are ~3 sampling errors of a median of 150.
    assert 0.62 < np.median(theta) < 0.84
    assert 195 < np.median([s.sigma for s in systems]) < 250
    assert 0.55 < np.median([s.deflector.z[0] for s in systems]) < 0.90
    assert 2.2 < np.median([s.source.z[0] for s in systems]) < 2.95
    assert 0.07 < np.median([s.source.r_eff[0] for s in systems]) < 0.115
    assert 1.7 < np.median([s.deflector.mags[0, 0] - s.deflector.mags[0, 2] for s in systems]) < 2.25
    # Stricter cuts select larger systems.
    wide = [draw_lens_system(rng, LensCuts(min_image_separation=2.0)) for _ in range(20)]
    assert min(s.image_separation for s in wide) >= 2.0 and np.median([s.theta_e for s in wide]) > np.median(theta)


def test_slsim_like_kinds_are_deterministic_and_what_they_say() -> None:
    renderer = Renderer("slsim")
    cfg = PopulationConfig(nonlens_mix={"slsim": {"deflector": 1, "false_positive": 1, "blue": 1}, "hsc": {"spiral": 1}})
    seen: dict[str, int] = {}
    for index in range(12):
        a = make_object(renderer, 0, index, seed=8, cfg=cfg)
        b = make_object(renderer, 0, index, seed=8, cfg=cfg)
        np.testing.assert_array_equal(a.image, b.image)  # determinism per seed, kind by kind
        roles = [c.role for c in a.scene.components if c.role not in ("neighbour", "star")]
        if a.subtype == "false_positive":
            assert roles[0] == "central" and 1 <= roles.count("companion") <= 3
        else:
            assert roles == ["central"]
        assert not any(c.lensed for c in a.scene.components) and a.scene.lens_kwargs is None
        seen[a.subtype] = seen.get(a.subtype, 0) + 1
    assert set(seen) == {"deflector", "false_positive", "blue"}
    lens = make_object(renderer, 1, 0, seed=8, cfg=cfg)
    assert lens.scene.row["n_l_sers"] == 4.0 and lens.scene.row["n_s_sers"] == 1.0
    assert lens.scene.row["sim_arc_mag_i"] < 24.0 and lens.scene.row["sim_n_images"] >= 2


def test_gaussian_psf_option() -> None:
    """β = ∞ renders a Gaussian PSF of the requested FWHM (the SLSim engine's PSF)."""
    from brahmasifier.simulation.scene import LightComponent, Scene

    renderer = Renderer("slsim")
    flux = np.full(len(BANDS), 1000.0)
    star = [LightComponent("star", "point", {"center_x": 0.0, "center_y": 0.0}, flux)]
    images = {beta: renderer.render(Scene(0, "t", None, star, np.ones(len(BANDS)), beta, {}), None, noise=False).image
              for beta in (math.inf, 2.5)}
    g = images[math.inf][2]
    np.testing.assert_allclose(images[math.inf].sum(axis=(1, 2)), flux, rtol=1e-3)
    c = g.shape[0] // 2
    sigma_pix = 0.71 / 2.3548 / 0.2
    assert g[c, c + 2] / g[c, c] == pytest.approx(math.exp(-4 / (2 * sigma_pix**2)), rel=0.05)
    # A Moffat of the same FWHM has far more light in its wings.
    yy, xx = np.indices(g.shape)
    outer = np.hypot(xx - c, yy - c) > 5
    assert images[2.5][2][outer].sum() > 3 * g[outer].sum()


def test_population_draws_are_determined_by_the_seed() -> None:
    """The same generator seed draws the same galaxies and lens systems; another seed draws others."""

    def systems(seed: int) -> list[tuple[float, ...]]:
        rng = np.random.default_rng(seed)
        return [(s.theta_e, s.sigma, float(s.deflector.z[0]), float(s.source.z[0]), *s.source_xy, s.magnification)
                for s in (draw_lens_system(rng, LensCuts(), shear_sigma=0.02) for _ in range(4))]

    assert systems(7) == systems(7) and set(systems(7)).isdisjoint(systems(8))
    a, b = sg.draw_sources(np.random.default_rng(5), 300), sg.draw_sources(np.random.default_rng(5), 300)
    np.testing.assert_array_equal(a.mags, b.mags)
    np.testing.assert_array_equal(a.z, b.z)
    assert not np.array_equal(a.z, sg.draw_sources(np.random.default_rng(6), 300).z)
