"""The SLSim engine (`simulate --engine slsim`) on tiny draws: layout, truth, determinism, resume.

SLSim is slow to start (SkyPy catalogue sampling): one tiny session fixture is shared
(``slsim_tree`` in ``conftest.py``: a 0.004-deg² catalogue — a few dozen deflectors re-drawn
over 1 deg² of lenses — and a 40-redshift magnitude grid). Skipped only where the ``brahmasifier[slsim]``
extra is not installed (CI installs it through ``[dev]``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.simulation.slsim_engine import available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

from brahmasifier.bands import BANDS  # noqa: E402
from brahmasifier.cli import main  # noqa: E402
from brahmasifier.errors import ConfigError, OutputExistsError  # noqa: E402
from brahmasifier.io.fits import read_band_fits_astropy, read_parameters_fits  # noqa: E402
from brahmasifier.simulation import simulate_dataset  # noqa: E402
from brahmasifier.simulation.nonlens_kinds import kinds_for  # noqa: E402
from brahmasifier.simulation.runs import RunLock  # noqa: E402
from brahmasifier.simulation.slsim_engine import SlsimConfig  # noqa: E402
from brahmasifier.simulation.slsim_engine import run as slsim_run  # noqa: E402
from brahmasifier.simulation.truth import LENS_COLUMNS, NONLENS_COLUMNS, SIM_COLUMNS  # noqa: E402

N = 4  # objects per class of the conftest's slsim_tree (two realisations of two)



def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".fits", ".csv")}


def test_challenge_layout_and_truth_columns(slsim_tree: Path) -> None:
    assert sorted(p.name for p in slsim_tree.iterdir()) == ["preview.png", "simulation.json", "slsim_lenses", "slsim_nonlenses"]
    lenses = read_parameters_fits(slsim_tree / "slsim_lenses" / "parameters.fits")
    others = read_parameters_fits(slsim_tree / "slsim_nonlenses" / "parameters.fits")
    assert len(lenses) == len(others) == N
    assert {"id", "RA", "Dec", *LENS_COLUMNS, *SIM_COLUMNS} <= set(lenses.columns)
    assert {"id", "RA", "Dec", *NONLENS_COLUMNS, *SIM_COLUMNS} <= set(others.columns)
    assert (lenses["Rein"] > 0.3).all() and (lenses["zsrc"] > lenses["zlens"]).all() and (lenses["vel_disp"] > 50).all()
    for column in ("ell_l", "ell_m", "ell_s"):
        assert lenses[column].between(0.0, 1.0, inclusive="right").all(), column
    for column in ("ell_l_PA", "ell_m_PA", "ell_s_PA"):
        assert lenses[column].between(0.0, 180.0, inclusive="left").all(), column
    assert ((lenses["sh"] == 0) & (lenses["sh_PA"] == -999)).all()  # no line-of-sight table: zero shear
    assert (lenses["sim_n_images"] >= 2).all() and (lenses["sim_image_sep"] >= 0.8).all()
    assert (lenses["sim_arc_snr_i"] > 0).all() and (lenses["sim_magnification"] > 1).all()
    np.testing.assert_allclose(lenses["sim_arc_mag_i"], lenses["mag_src_i"] - 2.5 * np.log10(lenses["sim_magnification"]))
    assert (lenses["sim_arc_mag_i"] < 24.0).all()  # the mag_arc_limit cut
    assert (np.hypot(lenses["srcx"], lenses["srcy"]) < 2 * lenses["Rein"]).all()
    assert set(others["sim_subtype"]) <= set(kinds_for("slsim")) and "Rein" not in others.columns
    assert (lenses["sim_psf_fwhm_i"] == 0.71).all()  # lenstronomy LSST median seeing
    assert all(i.startswith("GG-LENS_") for i in pd.concat([lenses["id"], others["id"]]))
    record = read_band_fits_astropy(slsim_tree / "slsim_lenses" / "slsim_lenses" / "D1_L_00000000_i.fits")
    assert record.object_id == lenses["id"].iloc[0] and np.isfinite(record.image).all()
    from astropy.io import fits

    with fits.open(slsim_tree / "slsim_lenses" / "slsim_lenses" / "D1_L_00000000_g.fits") as hdul:
        assert hdul[1].header["BUNIT"] == "nJy" and hdul[1].header["ZP"] == 31.4
    manifest = json.loads((slsim_tree / "simulation.json").read_text())
    assert manifest["settings"]["engine"] == "slsim" and manifest["settings"]["slsim"]["coadd_years"] == 1.0
    assert "zero external convergence and shear" in manifest["engine"]["line_of_sight"]
    assert manifest["engine"]["versions"]["slsim"] and not (slsim_tree / slsim_run.CHUNK_FOLDER).exists()


def test_same_bytes_whatever_the_worker_count_and_rerun_skips(slsim_tree: Path, slsim_tiny: SlsimConfig,
                                                              tmp_path: Path) -> None:
    cfg = slsim_tiny
    two = simulate_dataset(tmp_path / "w2", N, seed=5, engine="slsim", config=cfg, workers=2, progress=False)
    assert two.workers == 2
    reference = _hashes(slsim_tree)
    assert len(reference) == 2 * N * len(BANDS) + 2 and _hashes(two.out) == reference
    again = simulate_dataset(slsim_tree, N, seed=5, engine="slsim", config=cfg, workers=1, progress=False)
    assert again.skipped and _hashes(slsim_tree) == reference
    with pytest.raises(OutputExistsError, match="different settings"):
        simulate_dataset(slsim_tree, N, seed=6, engine="slsim", config=cfg, workers=1, progress=False)


def test_resume_after_interruption_gives_the_same_bytes(slsim_tree: Path, slsim_tiny: SlsimConfig, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slsim_tiny
    real = slsim_run._run_realisation
    made: list[int] = []

    def dies_after_one(*args: object) -> int:
        if made:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run
        made.append(int(args[0]))  # type: ignore[call-overload]
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(slsim_run, "_run_realisation", dies_after_one)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        simulate_dataset(out, N, seed=5, engine="slsim", config=cfg, workers=1, progress=False)
    chunks = out / slsim_run.CHUNK_FOLDER
    assert sorted(p.name for p in chunks.glob("chunk-*.json")) == ["chunk-00000.json"]
    assert not (out / "simulation.json").exists()
    with pytest.raises(OutputExistsError, match="unfinished simulation with different settings"):
        simulate_dataset(out, N, seed=6, engine="slsim", config=cfg, workers=1, progress=False)
    monkeypatch.setattr(slsim_run, "_run_realisation", lambda *a: made.append(int(a[0])) or real(*a))  # type: ignore[func-returns-value]
    summary = simulate_dataset(out, N, seed=5, engine="slsim", config=cfg, workers=1, progress=False)
    assert made == [0, 1] and summary.n_objects == 2 * N  # the rerun made only realisation 1
    assert summary.resumed == N and json.loads((out / "simulation.json").read_text())["resumed_objects"] == N
    assert _hashes(out) == _hashes(slsim_tree)


def test_blind_layout_and_another_seed(slsim_tree: Path, slsim_tiny: SlsimConfig, tmp_path: Path) -> None:
    cfg = slsim_tiny
    out = tmp_path / "blind"
    simulate_dataset(out, 2, seed=8, engine="slsim", config=cfg, layout="test", workers=1, progress=False, preview=False)
    truth = pd.read_csv(out / "truth.csv", dtype={"id": str})
    assert sorted(truth["label"]) == [0, 0, 1, 1] and set(truth["domain"]) == {"slsim"}
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(f"{s}_{b}.fits" for s in truth["stem"] for b in BANDS)
    assert (truth.loc[truth["label"] == 0, "Rein"] == -999).all() and (truth.loc[truth["label"] == 1, "Rein"] > 0).all()
    slopes = truth.loc[truth["label"] == 1, "sim_gamma_pl"]  # the EPL slope of every lens (2: an SIE), issue 25
    assert ((slopes > 1) & (slopes < 3)).all()
    other = read_band_fits_astropy(out / "images" / f"{truth['stem'].iloc[0]}_g.fits").image
    same_place = read_band_fits_astropy(slsim_tree / "slsim_lenses" / "slsim_lenses" / "D1_L_00000000_g.fits").image
    assert not np.array_equal(other, same_place)


def test_engine_selection_errors(slsim_tiny: SlsimConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--out", str(tmp_path / "x"), "--n-per-class", "1", "--engine", "slsim", "--no-progress"]
    assert main([*argv, "--domains", "slsim,hsc"]) == 2
    assert "slsim domain only" in capsys.readouterr().err
    assert main([*argv, "--nonlens-mix", "lone=1"]) == 2
    assert "nonlens_mix" in capsys.readouterr().err
    for bad in ("steep", "2.0,0.1,3"):
        assert main([*argv, "--epl-gamma", bad]) == 2
        assert "--epl-gamma" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown engine"):
        simulate_dataset(tmp_path / "y", 1, engine="pyautolens")
    with pytest.raises(ConfigError, match="takes a PopulationConfig"):
        simulate_dataset(tmp_path / "y", 1, engine="ours", config=slsim_tiny)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_images_match_slsim_simulate_image_and_fast_lens_pop_matches_lens_pop(slsim_tiny: SlsimConfig) -> None:
    from slsim.ImageSimulation.image_simulation import simulate_image
    from slsim.Lenses.lens_pop import LensPop

    from brahmasifier.simulation.slsim_engine.catalogue import Realisation, quiet_slsim, seeded
    from brahmasifier.simulation.slsim_engine.images import band_settings, render_object

    with seeded(np.random.SeedSequence([1, 2])), quiet_slsim():
        realisation = Realisation(slsim_tiny)
        for area in (0.5, 3.0, 17.0):
            assert realisation.lens_pop.get_num_sources_tested_mean(area) == LensPop.get_num_sources_tested_mean(
                realisation.lens_pop, area)
        # SLSim's FalsePositivePop.draw_sources fails on a deflector with no source in front; we skip those.
        real_z = realisation._source_z
        realisation._source_z = np.full_like(real_z, 99.0)
        with pytest.raises(ConfigError, match="no source in front"):
            realisation.false_positive()
        realisation._source_z = real_z
        lens = realisation.lenses(1)[0]
        rendered = render_object(lens, "lens", 1.0, np.arange(len(BANDS)))
        for b, band in enumerate(BANDS):
            reference = simulate_image(lens, band, 41, add_noise=False, observatory="LSST", coadd_years=1.0)
            to_njy = 10 ** ((31.4 - band_settings(band, 1.0)["magnitude_zero_point"]) / 2.5)  # type: ignore[operator]
            np.testing.assert_allclose(rendered.model[b], reference * to_njy, rtol=1e-9, atol=1e-12 * reference.max() * to_njy)
            assert 0 < rendered.arc[b].sum() < rendered.model[b].sum()
        # The noise is lenstronomy's, with its variance: normalised residuals have unit scatter.
        pull = (rendered.image - rendered.model) / np.sqrt(rendered.variance)
        assert abs(float(pull.std()) - 1.0) < 0.05 and abs(float(pull.mean())) < 0.05


def test_a_second_live_run_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    lock = tmp_path / "lock"
    with RunLock(lock):
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(OutputExistsError, match="another simulation"):
            RunLock(lock).__enter__()
    assert not lock.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lock.write_text(dead.stdout.strip())  # a run that was killed: its lock is taken over
    with RunLock(lock):
        assert lock.read_text() == str(os.getpid())
