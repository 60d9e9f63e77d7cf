"""SLSim-engine options for SLSim-like test sets: a user's SkyPy file, scene offsets, EPL and line-of-sight truth.

The SkyPy file used here is built from ours in the form SLSim's own ``lsst-like_triple_SF.yml``
has (``fsky: 0.1 deg2`` and the default-cosmology line, both replaced by SLSim): the package
ships no copy of SLSim's file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brahmasifier.simulation.slsim_engine import available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

from brahmasifier.bands import PIXEL_SCALE  # noqa: E402
from brahmasifier.cli import main  # noqa: E402
from brahmasifier.errors import ConfigError  # noqa: E402
from brahmasifier.io.fits import read_band_fits_astropy, read_parameters_fits  # noqa: E402
from brahmasifier.simulation import simulate_dataset  # noqa: E402
from brahmasifier.simulation.slsim_engine import SlsimConfig  # noqa: E402
from brahmasifier.simulation.slsim_engine.images import shift_scene  # noqa: E402
from brahmasifier.simulation.slsim_engine.skypy_config import (  # noqa: E402
    SLSIM_COSMOLOGY_LINE,
    SLSIM_FSKY_LINE,
    check_skypy_file,
    skypy_yaml,
)


def _slsim_form(resolution: int = 40) -> str:
    """Our SkyPy YAML rewritten in the form of SLSim's own files."""
    text = skypy_yaml(0.004, resolution=resolution)
    cosmology = "cosmology: !astropy.cosmology.FlatLambdaCDM\n  H0: 70\n  Om0: 0.3\n"
    assert cosmology in text
    text = text.replace(cosmology, SLSIM_COSMOLOGY_LINE + "\n")
    text = text.replace("sky_area: 0.004 deg2", SLSIM_FSKY_LINE).replace("$sky_area", "$fsky")
    return text


@pytest.fixture(scope="module")
def offset_tree(tmp_path_factory: pytest.TempPathFactory, slsim_tiny: SlsimConfig) -> tuple[Path, SlsimConfig]:
    folder = tmp_path_factory.mktemp("slsim_opts")
    skypy = folder / "lsst-like.yml"
    skypy.write_text(_slsim_form())
    cfg = SlsimConfig(**{**slsim_tiny.to_dict(), "false_positive_sources": slsim_tiny.false_positive_sources,
                         "skypy_config": str(skypy), "scene_offset": 2.0,
                         "gamma_pl": {"mean": 2.0, "std_dev": 0.1}})
    out = folder / "tree"
    simulate_dataset(out, 2, seed=9, engine="slsim", config=cfg, workers=1, progress=False, preview=False)
    return out, cfg


def test_skypy_file_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file.*tag v0\.1\.1"):
        check_skypy_file(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("tables: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yml: not YAML"):
        check_skypy_file(bad)
    ours = tmp_path / "ours.yml"
    ours.write_text(skypy_yaml(0.01))  # our own form: SLSim could set neither the area nor the cosmology
    with pytest.raises(ConfigError, match=r"fsky: 0\.1 deg2.*default_cosmology"):
        check_skypy_file(ours)
    no_red = tmp_path / "no_red.yml"
    no_red.write_text(_slsim_form().split("  red:")[0])
    with pytest.raises(ConfigError, match=r"'blue' and 'red'"):
        check_skypy_file(no_red)
    good = tmp_path / "good.yml"
    good.write_text(_slsim_form())
    assert check_skypy_file(good) == good.resolve()
    with pytest.raises(ConfigError, match="no such file"):
        SlsimConfig(skypy_config=str(tmp_path / "missing.yml"))
    with pytest.raises(ConfigError, match="scene_offset"):
        SlsimConfig(scene_offset=float("nan"))


def test_cli_refuses_slsim_options_for_our_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path / "x"), "--n-per-class", "1", "--skypy-config", "x.yml"]) == 2
    assert "--skypy-config applies to the slsim engine only" in capsys.readouterr().err
    assert main(["simulate", "--engine", "slsim", "--out", str(tmp_path / "y"), "--n-per-class", "1",
                 "--skypy-config", str(tmp_path / "none.yml")]) == 2
    assert "none.yml: no such file" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_offsets_epl_and_los_truth_columns(offset_tree: tuple[Path, SlsimConfig]) -> None:
    out, cfg = offset_tree
    lenses = read_parameters_fits(out / "slsim_lenses" / "parameters.fits")
    others = read_parameters_fits(out / "slsim_nonlenses" / "parameters.fits")
    for table in (lenses, others):
        offsets = table[["sim_offset_x", "sim_offset_y"]].to_numpy()
        assert (np.abs(offsets) <= cfg.scene_offset * PIXEL_SCALE).all() and (offsets != 0).all()
    assert (lenses["sim_gamma_pl"] != 2.0).all() and lenses["sim_gamma_pl"].between(1.5, 2.5).all()  # EPL slopes drawn
    images = [read_band_fits_astropy(f).image for f in sorted((out / "slsim_lenses").rglob("*_i.fits"))]
    assert images and all(np.isfinite(image).all() for image in images)
    assert (others["sim_gamma_pl"] == -999).all()
    assert (lenses["sim_kappa_ext"] == 0).all()  # no line-of-sight table
    settings = json.loads((out / "simulation.json").read_text())
    assert settings["settings"]["slsim"]["skypy_config"] == cfg.skypy_config
    assert len(settings["settings"]["file_sha256"]["skypy_config"]) == 64


def test_the_offset_scene_is_the_centred_scene_translated(offset_tree: tuple[Path, SlsimConfig]) -> None:
    """Rendering with an offset of whole pixels equals the centred rendering rolled by those pixels (noise-free)."""
    from brahmasifier.simulation.slsim_engine.catalogue import Realisation, quiet_slsim, seeded
    from brahmasifier.simulation.slsim_engine.images import render_object

    _, cfg = offset_tree
    with seeded(np.random.SeedSequence([3])), quiet_slsim():
        lens = Realisation(cfg).lenses(1)[0]
        seeds = np.arange(5)
        centred = render_object(lens, "lens", cfg.coadd_years, seeds)
        moved = render_object(lens, "lens", cfg.coadd_years, seeds, offset=(2 * PIXEL_SCALE, -PIXEL_SCALE))
        again = render_object(lens, "lens", cfg.coadd_years, seeds)  # SLSim's cached kwargs untouched
    np.testing.assert_array_equal(again.model, centred.model)
    expected = np.roll(centred.model, (-1, 2), axis=(1, 2))  # y down one row, x right two columns
    inner = (slice(None), slice(10, -10), slice(10, -10))  # away from the edges, where convolution misses outside light
    np.testing.assert_allclose(moved.model[inner], expected[inner], rtol=1e-6, atol=1e-6 * centred.model.max())


def test_shift_scene_moves_every_position_of_a_copy() -> None:
    params = {"kwargs_lens": [{"theta_E": 1.0, "center_x": 0.1, "center_y": 0.2}, {"gamma1": 0.01, "gamma2": 0.0,
                                                                                  "ra_0": 0, "dec_0": 0}],
              "kwargs_ps": [{"ra_image": np.array([1.0, -1.0]), "dec_image": np.array([0.0, 0.5])}], "kwargs_source": None}
    shifted = shift_scene(params, 0.4, -0.2)
    assert shifted["kwargs_lens"][0]["center_x"] == pytest.approx(0.5) and shifted["kwargs_lens"][1]["dec_0"] == -0.2
    np.testing.assert_allclose(shifted["kwargs_ps"][0]["ra_image"], [1.4, -0.6])
    assert params["kwargs_lens"][0]["center_x"] == 0.1  # the original is untouched


def test_false_positive_companions_are_in_the_truth(offset_tree: tuple[Path, SlsimConfig]) -> None:
    """A ``FalsePositive``'s row records its sources: count, separations from the deflector, brightest i."""
    from slsim.Lenses.lens_pop import area_theta_e_infinity

    from brahmasifier.simulation.slsim_engine.catalogue import Realisation, quiet_slsim, seeded
    from brahmasifier.simulation.slsim_engine.images import render_object, truth_row

    _, cfg = offset_tree
    with seeded(np.random.SeedSequence([4])), quiet_slsim():
        realisation = Realisation(cfg)
        for _ in range(3):
            fp = realisation.false_positive()
            row = truth_row(fp, "deflector", render_object(fp, "deflector", cfg.coadd_years, np.arange(5)))
            sources = [fp.source(k) for k in range(fp.source_number)]  # type: ignore[attr-defined]
            centre = np.asarray(fp.deflector.deflector_center, dtype=float)  # type: ignore[attr-defined]
            seps = [float(np.hypot(*(np.asarray(s.extended_source_position, dtype=float) - centre))) for s in sources]
            assert row["sim_n_companions"] == len(sources) and len(sources) in cfg.false_positive_sources
            assert row["sim_companion_sep_min"] == pytest.approx(min(seps))
            assert row["sim_companion_sep_max"] == pytest.approx(max(seps))
            assert row["sim_companion_mag_i"] == pytest.approx(min(float(s.extended_source_magnitude("i")) for s in sources))
            # SLSim places them uniformly in its test area π(1.5 θ_E∞)² around the stamp centre; the
            # deflector is dithered within 0.01 arcsec² of it.
            radius = float(np.sqrt(area_theta_e_infinity(fp.deflector.theta_e_infinity(cosmo=realisation.cosmo)) / np.pi))  # type: ignore[attr-defined]
            assert max(seps) <= radius + float(np.sqrt(0.01 / np.pi)) + 1e-9
        lens = realisation.lenses(1)[0]
        lone = truth_row(lens, "deflector", render_object(lens, "deflector", cfg.coadd_years, np.arange(5)))
    assert "sim_n_companions" not in lone  # a lone deflector: the columns are missing (−999)
