"""Physics and instrument checks of the simulator (noise-free renders, tiny samples)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("lenstronomy")

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.simulation.cosmology import einstein_radius
from brahmasifier.simulation.generate import make_object
from brahmasifier.simulation.instrument import LSST_1YR, mag_to_njy
from brahmasifier.simulation.render import Renderer, moffat_kernel
from brahmasifier.simulation.scene import LightComponent, Scene, sersic


@pytest.fixture(scope="module")
def renderers() -> dict[str, Renderer]:
    return {d: Renderer(d) for d in ("slsim", "hsc")}


def _scene(components: list[LightComponent], lens_kwargs=None, label: int = 0) -> Scene:
    return Scene(label, "test", lens_kwargs, components, np.ones(len(BANDS)), 3.5, {})


def test_lsst_settings_match_lenstronomy() -> None:
    from lenstronomy.SimulationAPI.observation_api import SingleBand
    from lenstronomy.SimulationAPI.ObservationConfig.LSST import LSST

    for band, inst in LSST_1YR.items():
        kw = LSST(band=band, coadd_years=1).kwargs_single_band()
        assert (inst.magnitude_zero_point, inst.sky_brightness, inst.seeing_fwhm) == (
            kw["magnitude_zero_point"], kw["sky_brightness"], kw["seeing"])
        expected = (kw["exposure_time"], kw["num_exposures"], kw["read_noise"])
        assert (inst.exposure_time, inst.num_exposures, inst.read_noise) == expected
        single = SingleBand(**{k: v for k, v in kw.items() if k != "psf_type"}, psf_type="NONE")
        assert inst.background_rms_cps == pytest.approx(single.background_noise, rel=1e-9)
        assert 23.8 < inst.point_source_depth() < 27.0  # 1-yr depths: y ~24, g/r ~26


@pytest.mark.parametrize("domain", ["slsim", "hsc"])
def test_rendered_flux_matches_magnitudes(renderers: dict[str, Renderer], domain: str) -> None:
    mags = np.array([21.3, 20.6, 20.2, 19.9, 19.8])
    flux = np.array([mag_to_njy(m) for m in mags])
    scene = _scene([sersic("central", 0.1, -0.05, 0.4, 2.5, 0.7, 0.3, flux)])
    image = renderers[domain].render(scene, None, noise=False).image
    measured = image.sum(axis=(1, 2))
    np.testing.assert_allclose(measured, flux, rtol=0.03)


def test_point_source_flux_and_psf_width(renderers: dict[str, Renderer]) -> None:
    flux = np.full(len(BANDS), 1000.0)
    scene = _scene([LightComponent("star", "point", {"center_x": 0.0, "center_y": 0.0}, flux)])
    image = renderers["slsim"].render(scene, None, noise=False).image
    np.testing.assert_allclose(image.sum(axis=(1, 2)), flux, rtol=0.02)
    # Half maximum crossing of the central row ≈ seeing FWHM (Moffat, pixelised).
    row = image[2, STAMP_SIZE // 2]
    above = np.count_nonzero(row >= row.max() / 2)
    assert abs(above * 0.2 - LSST_1YR["i"].seeing_fwhm) <= 0.25


def test_einstein_ring_at_recorded_radius(renderers: dict[str, Renderer]) -> None:
    """A small source right behind a round SIS lens forms a ring at θ_E (unconvolved render)."""
    theta_e = einstein_radius(260.0, 0.4, 1.8)
    assert 1.0 < theta_e < 2.0
    lens = [{"theta_E": theta_e, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0},
            {"gamma1": 0.0, "gamma2": 0.0, "ra_0": 0.0, "dec_0": 0.0}]
    source = sersic("source", 0.0, 0.0, 0.05, 1.0, 1.0, 0.0, np.full(len(BANDS), 500.0), lensed=True)
    r = renderers["slsim"]
    units, _, _ = r.component_images(_scene([source], lens, label=1), lensed_only=True)
    ring = units[0]
    c = (ring.shape[0] - 1) / 2
    yy, xx = np.mgrid[: ring.shape[0], : ring.shape[1]]
    radius = np.hypot(xx - c, yy - c) * r.grid.pixel_scale
    bins = np.arange(0.1, 3.0, 0.1)  # 0.2″-wide bins every 0.1″ (each holds pixels)
    profile = np.array([ring[(radius >= lo - 0.1) & (radius < lo + 0.1)].mean() for lo in bins])
    peak = bins[int(np.argmax(profile))]
    assert abs(peak - theta_e) <= 0.15
    assert abs((ring * radius).sum() / ring.sum() - theta_e) <= 0.05
    # Magnification of a point-like source behind an SIS diverges; the ring carries far more flux.
    assert ring.sum() > 10.0


# lenstronomy's PSF convolution calls numpy.fft with the NumPy-2-deprecated `s` without `axes`.
@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")
def test_fast_render_matches_lenstronomy_image_model(renderers: dict[str, Renderer]) -> None:
    """One band of our five-band path equals lenstronomy's ImageModel with the same settings."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    r = renderers["slsim"]
    lens = [{"theta_E": 1.1, "e1": 0.1, "e2": -0.05, "center_x": 0.05, "center_y": 0.0},
            {"gamma1": 0.03, "gamma2": -0.01, "ra_0": 0.05, "dec_0": 0.0}]
    deflector = sersic("deflector", 0.05, 0.0, 0.8, 4.0, 0.8, 0.4, np.full(len(BANDS), 20000.0))
    source = sersic("source", 0.2, 0.1, 0.25, 1.2, 0.6, 1.0, np.full(len(BANDS), 3000.0), lensed=True)
    scene = _scene([deflector, source], lens, label=1)
    ours = r.render(scene, None, noise=False).image[2]

    n = r.grid.n
    half = (n - 1) / 2 * r.grid.pixel_scale
    data = ImageData(image_data=np.zeros((n, n)), ra_at_xy_0=-half, dec_at_xy_0=-half,
                     transform_pix2angle=np.eye(2) * r.grid.pixel_scale)
    kernel = moffat_kernel(round(LSST_1YR["i"].seeing_fwhm * 200) / 200, 3.5, 0.2)
    psf = PSF(psf_type="PIXEL", kernel_point_source=kernel)
    model = ImageModel(data, psf, lens_model_class=LensModel(["SIE", "SHEAR"]), source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": 3, "supersampling_convolution": False})

    def amp(comp: LightComponent) -> dict[str, float]:
        kw = {"amp": 1.0, **comp.params}
        norm = LightModel(["SERSIC_ELLIPSE"]).total_flux([kw], norm=True)[0]
        return {**kw, "amp": comp.flux[2] / norm}

    reference = model.image(lens, [amp(source)], [amp(deflector)])
    m = (n - STAMP_SIZE) // 2
    reference = reference[m : m + STAMP_SIZE, m : m + STAMP_SIZE]
    assert np.abs(ours - reference).max() <= 2e-3 * reference.max()


@pytest.mark.parametrize("domain", ["slsim", "hsc"])
def test_empty_sky_noise_matches_instrument(renderers: dict[str, Renderer], domain: str) -> None:
    rng = np.random.default_rng(3)
    stacks = np.array([renderers[domain].render(_scene([]), rng).image for _ in range(4)])
    measured = stacks.std(axis=(0, 2, 3))
    expected = np.array([LSST_1YR[b].background_rms for b in BANDS])
    np.testing.assert_allclose(measured, expected, rtol=0.05)


def test_nonlenses_have_no_lensed_light_and_lenses_do(renderers: dict[str, Renderer]) -> None:
    subtypes = set()
    for r in renderers.values():
        for index in range(12):
            obj = make_object(r, 0, index, seed=5, noise=False)
            assert obj.scene.lens_kwargs is None
            assert obj.render.lensed_roles == ()
            assert not any(c.lensed for c in obj.scene.components)
            assert obj.scene.row["Rein"] if "Rein" in obj.scene.row else True
            subtypes.add(obj.subtype)
        lens = make_object(r, 1, 0, seed=5, noise=False)
        assert "source" in lens.render.lensed_roles and lens.scene.lens_kwargs is not None
        if r.domain == "hsc":  # the bright population: selected on the arc's S/N
            assert lens.scene.row["sim_arc_snr"] >= 40.0
        else:  # the skypy population: SLSim's cuts
            assert 2 * lens.scene.rein >= 0.8 and lens.scene.row["sim_arc_mag_i"] < 24.0
    assert len(subtypes) >= 4


def test_same_object_same_pixels_and_different_objects_differ(renderers: dict[str, Renderer]) -> None:
    r = renderers["slsim"]
    a = make_object(r, 1, 3, seed=11)
    b = make_object(r, 1, 3, seed=11)
    c = make_object(r, 1, 4, seed=11)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.object_id == b.object_id != c.object_id
    assert not np.array_equal(a.image, c.image)
    assert math.isfinite(float(a.image.sum()))


def test_nonlens_mixes_name_registered_kinds_only() -> None:
    from brahmasifier.simulation.nonlenses import NONLENS_KINDS
    from brahmasifier.simulation.population import NONLENS_MIX, PopulationConfig

    for domain, mix in NONLENS_MIX.items():
        assert set(mix) <= set(NONLENS_KINDS), domain  # only registered kinds
    assert set().union(*NONLENS_MIX.values()) == set(NONLENS_KINDS)  # and every kind is used by some domain
    with pytest.raises(ValueError, match="unknown kinds \\['comet'\\]"):
        PopulationConfig(nonlens_mix={"slsim": {"spiral": 0.5, "comet": 0.5}})
