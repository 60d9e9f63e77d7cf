"""Truth conventions (one frame for both engines), measurements, and the engine comparison tools."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lenstronomy")

from tests.experiment_scripts import load_script

from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.simulation import simulate_dataset
from brahmasifier.simulation.measures import image_multiplicity, matched_filter_snr, noise_variance
from brahmasifier.simulation.truth import (
    LENS_COLUMNS,
    SIM_COLUMNS,
    e1e2_from_ellipticity,
    ellipticity_from_e1e2,
    lensed_magnitude,
    position_angle,
    shear_from_gamma,
)


def _orientation(image: np.ndarray) -> tuple[float, float]:
    """(axis ratio, PA in degrees from +row towards +col) of an image from its second moments."""
    rows, cols = np.indices(image.shape, dtype=float)
    w = image / image.sum()
    x, y = cols - (w * cols).sum(), rows - (w * rows).sum()
    ixx, iyy, ixy = (w * x * x).sum(), (w * y * y).sum(), (w * x * y).sum()
    theta = 0.5 * math.atan2(2 * ixy, ixx - iyy)  # major axis, from +col towards +row
    root = math.sqrt(((ixx - iyy) / 2) ** 2 + ixy**2)
    q = math.sqrt(((ixx + iyy) / 2 - root) / ((ixx + iyy) / 2 + root))
    return q, (90.0 - math.degrees(theta)) % 180.0


def test_conversions_round_trip_and_conventions() -> None:
    assert position_angle(math.pi / 2) == pytest.approx(0.0)  # major axis along +y: PA 0
    assert position_angle(0.0) == pytest.approx(90.0)  # along +x: PA 90
    assert position_angle(-0.3) == pytest.approx(90.0 + math.degrees(0.3))
    rng = np.random.default_rng(0)
    q, pa = rng.uniform(0.2, 1.0, 50), rng.uniform(0.0, 180.0, 50)
    e1, e2 = e1e2_from_ellipticity(q, pa)
    q2, pa2 = ellipticity_from_e1e2(e1, e2)
    np.testing.assert_allclose(q2, q, atol=1e-12)
    np.testing.assert_allclose(np.cos(np.radians(2 * (pa2 - pa))), 1.0, atol=1e-9)
    assert shear_from_gamma(0.0, 0.0) == (0.0, MISSING_VALUE)
    assert shear_from_gamma(0.0, 0.05) == pytest.approx((0.05, 45.0))
    assert lensed_magnitude(24.0, 10.0) == pytest.approx(21.5) and lensed_magnitude(24.0, 0.0) == MISSING_VALUE
    assert LENS_COLUMNS.count("vel_disp") == 1 and "vel disp" not in LENS_COLUMNS
    assert list(SIM_COLUMNS)[:3] == ["sim_subtype", "sim_arc_snr", "sim_magnification"]


def test_pa_and_ellipticity_are_pinned_to_the_pixel_grid() -> None:
    """A rendered ellipse's measured axis ratio and PA are what the truth functions say (our renderer)."""
    from brahmasifier.simulation.render import Renderer
    from brahmasifier.simulation.scene import LightComponent, Scene

    renderer = Renderer("slsim")
    for q, pa in ((0.4, 30.0), (0.5, 120.0)):
        e1, e2 = e1e2_from_ellipticity(q, pa)
        params = {"R_sersic": 0.8, "n_sersic": 1.0, "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}
        scene = Scene(0, "test", None, [LightComponent("central", "sersic", params, np.full(len(BANDS), 1e4))],
                      np.full(len(BANDS), 0.2), 3.5, {})
        image = renderer.render(scene, None, noise=False).image[2].astype(float)
        q_seen, pa_seen = _orientation(image)
        assert abs((pa_seen - pa + 90) % 180 - 90) < 2.0 and q_seen == pytest.approx(q, abs=0.08)


def test_simapi_grid_has_x_along_columns() -> None:
    """SLSim renders through lenstronomy's SimAPI: its +x must be +column, +y +row (the truth frame)."""
    from lenstronomy.SimulationAPI.sim_api import SimAPI

    band = {"pixel_scale": 0.2, "magnitude_zero_point": 27.0, "exposure_time": 1.0, "background_noise": 0.0, "psf_type": "NONE"}
    # lenstronomy 1.14 renamed SimAPI's numpix to num_pix (why SLSim 0.1.1 needs 1.13); pass it positionally.
    sim = SimAPI(41, kwargs_single_band=band, kwargs_model={"lens_light_model_list": ["GAUSSIAN"]})
    gaussian = {"amp": 1.0, "sigma": 0.1, "center_x": 1.0, "center_y": -0.4}
    image = sim.image_model_class({"supersampling_factor": 1}).image(kwargs_lens_light=[gaussian])
    row, col = np.unravel_index(int(np.argmax(image)), image.shape)
    assert (row, col) == (20 - 2, 20 + 5)


def test_our_engine_rows_follow_its_rendered_components() -> None:
    from brahmasifier.simulation.generate import make_object
    from brahmasifier.simulation.render import Renderer

    lens = make_object(Renderer("slsim"), 1, 3, seed=2, noise=False)
    row, comps = lens.scene.row, lens.scene.components
    deflector = next(c for c in comps if c.role == "deflector")
    source = next(c for c in comps if c.role == "source")
    assert (row["ell_l"], row["ell_l_PA"]) == pytest.approx(ellipticity_from_e1e2(deflector.params["e1"], deflector.params["e2"]))
    assert (row["ell_s"], row["ell_s_PA"]) == pytest.approx(ellipticity_from_e1e2(source.params["e1"], source.params["e2"]))
    mass, shear = lens.scene.lens_kwargs  # type: ignore[misc]
    assert (row["ell_m"], row["ell_m_PA"]) == pytest.approx(ellipticity_from_e1e2(mass["e1"], mass["e2"]))
    assert (row["sh"], row["sh_PA"]) == pytest.approx(shear_from_gamma(shear["gamma1"], shear["gamma2"]))
    assert (row["srcx"], row["srcy"]) == pytest.approx((source.params["center_x"], source.params["center_y"]))
    assert row["vel_disp"] > 100 and row["sim_n_images"] >= 1 and row["sim_arc_snr_i"] > 0
    assert row["sim_arc_mag_i"] == pytest.approx(row["mag_src_i"] - 2.5 * math.log10(row["sim_magnification"]))
    np.testing.assert_allclose([row[f"sim_psf_fwhm_{b}"] for b in BANDS], lens.render.psf_fwhm)


def test_matched_filter_snr_is_the_optimal_filter_snr() -> None:
    rng = np.random.default_rng(1)
    template = np.exp(-0.5 * (np.hypot(*np.indices((15, 15)) - 7.0) / 2.0) ** 2) * 3.0
    variance = noise_variance(template * 20, background_rms=1.5, shot_variance_per_flux=0.05)
    snr = matched_filter_snr(template, variance)
    assert snr == pytest.approx(math.sqrt(float((template**2 / variance).sum())))
    assert matched_filter_snr(2 * template, variance) == pytest.approx(2 * snr)
    noise = rng.standard_normal((4000, 15, 15)) * np.sqrt(variance)
    filtered = ((template + noise) * template / variance).sum(axis=(1, 2))
    assert filtered.mean() / filtered.std() == pytest.approx(snr, rel=0.04)
    with pytest.raises(ValueError, match="shape"):
        matched_filter_snr(template, variance[:3])
    with pytest.raises(ValueError, match="positive"):
        matched_filter_snr(template, np.zeros_like(template))


def test_image_multiplicity_of_a_singular_isothermal_sphere() -> None:
    from lenstronomy.LensModel.lens_model import LensModel

    sis = [{"theta_E": 1.0, "center_x": 0.0, "center_y": 0.0}]
    n, separation = image_multiplicity(LensModel(["SIS"]), sis, 0.3, 0.1, 1.0)
    assert n == 2 and separation == pytest.approx(2.0, abs=1e-6)  # images at ±θE around the source direction
    assert image_multiplicity(LensModel(["SIS"]), sis, 1.5, 0.2, 1.0) == (1, 0.0)
    # Round, unsheared SIE+SHEAR: the analytical solver is singular, the numerical one answers.
    round_sie = [{"theta_E": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}, {"gamma1": 0.0, "gamma2": 0.0}]
    n, separation = image_multiplicity(LensModel(["SIE", "SHEAR"]), round_sie, 0.3, 0.1, 1.0)
    assert n == 2 and separation == pytest.approx(2.0, abs=1e-3)
    # A quad: source near the centre of an elliptical lens.
    quad = [{"theta_E": 1.0, "e1": 0.2, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}, {"gamma1": 0.0, "gamma2": 0.0}]
    assert image_multiplicity(LensModel(["SIE", "SHEAR"]), quad, 0.02, 0.01, 1.0)[0] == 4


def test_compare_engines_on_tiny_draws(tmp_path: Path, slsim_tree_or_none: Path | None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from brahmasifier.simulation.compare import LENS_QUANTITIES, load_truth, quantile_table

    ours = tmp_path / "ours"
    simulate_dataset(ours, 3, seed=1, domains="slsim", workers=1, progress=False, preview=False)
    truth = load_truth(ours)
    assert sorted(truth["label"].tolist()) == [0, 0, 0, 1, 1, 1]
    table = quantile_table({"ours": truth[truth["label"] == 1]}, LENS_QUANTITIES)
    assert list(table.columns) == ["n", "q05", "q16", "q50", "q84", "q95"]
    assert table.loc[("theta_E [arcsec]", "ours"), "n"] == 3
    assert table.loc[("theta_E [arcsec]", "ours"), "q05"] <= table.loc[("theta_E [arcsec]", "ours"), "q95"]
    samples = [f"ours={ours}"] + ([f"slsim={slsim_tree_or_none}"] if slsim_tree_or_none else [])
    script = load_script("compare_engines")
    argv = [a for s in samples for a in ("--sample", s)] + ["--figures", str(tmp_path / "cmp")]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert "arc S/N i (matched filter)" in out and "non-lens kinds" in out
    for name in ("cmp_lenses.png", "cmp_nonlenses.png"):
        assert (tmp_path / name).stat().st_size > 20_000
    if slsim_tree_or_none:
        assert "slsim" in out and isinstance(load_truth(slsim_tree_or_none), pd.DataFrame)
