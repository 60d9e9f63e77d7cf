"""Issue 25: IDs escaped like file names, duplicate rows in probs.csv, simulation and injection settings refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io import read_band_fits_fast
from brahmasifier.io.naming import band_filename

from .tiny import cli, image, one_line_error, predict

N = STAMP_SIZE * STAMP_SIZE


def _labelled_raw_id(folder: Path, stem: str, raw_id: bytes, k: int) -> None:
    for b, band in enumerate(BANDS):
        columns = [fits.Column(name="Lens ID", format=f"{len(raw_id)}A", array=np.array([raw_id])),
                   fits.Column(name=f"band_{band}", format=f"{N}D", dim="(41,41)", array=image(k)[b][None])]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(folder / band_filename(stem, band))


def test_ids_with_non_utf8_bytes_or_a_newline_are_escaped_and_counted(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _labelled_raw_id(data, "D1_L_00000001", b"LENS\xff_1", 1)
    _labelled_raw_id(data, "D1_L_00000002", b"LENS\n2", 2)
    _labelled_raw_id(data, "D1_L_00000003", b"LENS_3", 3)
    assert read_band_fits_fast(data / band_filename("D1_L_00000001", "g"), "g").object_id == "LENS\\xff_1"
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 0, ran.err
    text = (tmp_path / "out" / "submission.csv").read_bytes().decode("utf-8")
    assert "\ufffd" not in text and "LENS\\xff_1" in text and "LENS\\n2" in text
    assert len(text.strip().splitlines()) == 4  # header + 3 objects: no row broken by a newline
    assert "2 IDs held bytes" in ran.out


def test_evaluate_refuses_a_probabilities_file_with_repeated_objects(tmp_path: Path) -> None:
    (tmp_path / "probs.csv").write_text("id,stem,prob\na,s1,0.9\na,s1,0.9\nb,s2,0.1\n")
    (tmp_path / "labels.csv").write_text("id,label\na,1\nb,0\n")
    ran = cli("evaluate", "--probs", tmp_path / "probs.csv", "--labels", tmp_path / "labels.csv", "--out", tmp_path / "rep")
    one_line_error(ran, "repeat an object")


def test_negative_gallery_size_is_refused(tmp_path: Path) -> None:
    (tmp_path / "probs.csv").write_text("id,prob\na,0.9\nb,0.1\n")
    (tmp_path / "labels.csv").write_text("id,label\na,1\nb,0\n")
    ran = cli("evaluate", "--probs", tmp_path / "probs.csv", "--labels", tmp_path / "labels.csv", "--out", tmp_path / "rep",
              "--gallery-size", "-4")
    assert ran.rc == 2 and "0 or more" in ran.err


@pytest.mark.parametrize("command", ["simulate", "inject"])
def test_a_negative_seed_is_refused(tmp_path: Path, command: str) -> None:
    args = {"simulate": ["simulate", "--out", tmp_path / "x", "--n-per-class", "1"],
            "inject": ["inject", "--hosts", tmp_path, "--out", tmp_path / "x", "--n", "1"]}[command]
    ran = cli(*args, "--seed", "-1")
    assert ran.rc == 2 and "seed" in ran.err and "Traceback" not in ran.err


@pytest.mark.parametrize(("settings", "words"), [
    ({"nonlens_mix": {"deflector": float("nan"), "blue": 1.0}}, "nonlens_mix"),
    ({"coadd_years": float("inf")}, "coadd_years"),
    ({"coadd_years": 11}, "coadd_years"),
    ({"coadd_years": 0.5}, "coadd_years"),
    ({"gamma_pl": {"mean": 2.9, "std_dev": 5.0}}, "gamma_pl"),
])
def test_slsim_settings_lenstronomy_or_slsim_cannot_take_are_refused(settings: dict[str, object], words: str) -> None:
    from brahmasifier.errors import ConfigError
    from brahmasifier.simulation.slsim_engine import SlsimConfig

    with pytest.raises(ConfigError, match=words):
        SlsimConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mix", "words"), [("deflector=nan,blue=1", "sum"), ("deflector=0.2,blue=0.2", "sum to 0.4")])
def test_nonlens_mix_that_does_not_sum_to_one_is_refused_not_renormalised(tmp_path: Path, mix: str, words: str) -> None:
    from brahmasifier.simulation.slsim_engine import available

    if available():
        pytest.skip("SLSim not installed")
    ran = cli("simulate", "--out", tmp_path / "x", "--n-per-class", "1", "--engine", "slsim", "--nonlens-mix", mix)
    one_line_error(ran, words)


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_inject_min_arc_snr_must_be_a_finite_non_negative_number(value: str) -> None:
    from brahmasifier.errors import ConfigError
    from brahmasifier.simulation.inject.config import InjectConfig

    with pytest.raises(ConfigError, match="min_arc_snr"):
        InjectConfig(min_arc_snr=float(value))
