"""Issue 25, "hangs" and "poor messages": only regular files are read, odd layouts are refused or read right.

Each case runs ``pack`` or ``predict`` through the real command line on a few blind objects.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import FitsFormatError
from brahmasifier.io import read_band_fits_astropy, read_band_fits_fast
from brahmasifier.io.naming import band_filename, blind_stem

from .tiny import accounted_stems, cli, image, predict, read_csv_text, write_blind

N = STAMP_SIZE * STAMP_SIZE


def _pack(data: Path, out: Path) -> tuple[int, str, str]:
    ran = cli("pack", data, "--out", out, "--workers", "1", "--no-progress")
    return ran.rc, ran.out, ran.err


def _rejected(out: Path) -> dict[str, str]:
    table = read_csv_text(out / "rejected.csv")
    return dict(zip(table["file"], table["reason"], strict=True))


def _pack_in_thread(data: Path, out: Path, seconds: float = 60) -> tuple[int, str, str]:
    """Pack with a watchdog: a hang fails the test instead of blocking the suite."""
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: result.append(_pack(data, out)), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():  # unblock the reader so the thread ends, then fail
        for fifo in data.glob("*.fits"):
            if fifo.is_fifo():
                with open(fifo, "wb"):
                    pass
        pytest.fail("pack hung on a named pipe")
    return result[0]


def test_a_named_pipe_band_file_is_listed_not_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 3)
    pipe = data / band_filename(blind_stem(2), "g")
    pipe.unlink()
    os.mkfifo(pipe)
    rc, _, err = _pack_in_thread(data, tmp_path / "store")
    assert rc == 0, err
    reasons = _rejected(tmp_path / "store")
    assert "named pipe" in reasons[str(pipe)]


def test_a_link_to_dev_zero_and_a_2_gb_sparse_file_are_refused_by_size_and_kind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 3)
    zero = data / band_filename(blind_stem(0), "r")
    zero.unlink()
    zero.symlink_to("/dev/zero")
    sparse = data / band_filename(blind_stem(1), "i")
    with open(sparse, "r+b") as fh:  # a valid file padded to 2 GB (sparse: no disk used)
        fh.truncate(2 << 30)
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="character device"):
            reader(zero, "r")
        with pytest.raises(FitsFormatError, match="bytes a band file may have"):
            reader(sparse, "i")
    rc, _, err = _pack_in_thread(data, tmp_path / "store")
    assert rc == 0, err
    reasons = _rejected(tmp_path / "store")
    assert "character device" in reasons[str(zero)] and "a link" in reasons[str(zero)]
    assert "2,147,483,648 bytes" in reasons[str(sparse)]


def test_hidden_files_and_folders_are_listed_as_skipped(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    hidden = data / ".hidden"
    hidden.mkdir()
    write_blind(hidden, 1, seed=5)
    dotted = data / ("." + band_filename(blind_stem(7), "g"))
    dotted.write_bytes((data / band_filename(blind_stem(0), "g")).read_bytes())
    rc, out, err = _pack(data, tmp_path / "store")
    assert rc == 0, err
    reasons = _rejected(tmp_path / "store")
    assert "hidden folder" in reasons[str(hidden)] and "hidden name" in reasons[str(dotted)]
    assert "2 stray files" in out
    scored = predict(data, model, tmp_path / "out")
    assert scored.rc == 0, scored.err
    reasons = _rejected(tmp_path / "out")
    assert str(hidden) in reasons and str(dotted) in reasons


def test_compressed_fits_says_it_is_not_read_and_how_to_decompress(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    for suffix in (".gz", ".fz"):
        path = data / band_filename(blind_stem(1), "z")
        path.rename(path.with_name(path.name + suffix))
        rc, _, err = _pack(data, tmp_path / f"store{suffix}")
        assert rc == 0, err
        reasons = _rejected(tmp_path / f"store{suffix}")
        gz = str(path) + suffix
        assert "compressed FITS" in reasons[gz] and "decompress" in reasons[gz]
        Path(gz).rename(path)


def _blind_with(data: Path, k: int, hdus: list[fits.hdu.base.ExtensionHDU]) -> str:
    stem = blind_stem(k)
    for b, band in enumerate(BANDS):
        fits.HDUList([fits.PrimaryHDU(image(k)[b]), *hdus]).writeto(data / band_filename(stem, band))
        del b
    return stem


def test_a_primary_image_followed_by_a_catalogue_table_is_read(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    catalogue = fits.BinTableHDU.from_columns([fits.Column(name="ra", format="D", array=[1.0]),
                                               fits.Column(name="dec", format="D", array=[2.0])])
    stem = _blind_with(data, 0, [catalogue])
    record = read_band_fits_fast(data / band_filename(stem, "g"), "g")
    assert np.allclose(record.image, image(0)[0].astype(np.float32))
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 0, ran.err
    assert read_csv_text(tmp_path / "out" / "probs.csv")["stem"].tolist() == [stem]


def test_a_primary_image_followed_by_a_band_table_is_refused_as_ambiguous(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 1)
    table = fits.BinTableHDU.from_columns([fits.Column(name="band_g", format=f"{N}D", array=np.zeros((1, N)))])
    stem = _blind_with(data, 1, [table])
    with pytest.raises(FitsFormatError, match="ambiguous"):
        read_band_fits_fast(data / band_filename(stem, "g"), "g")
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 0, ran.err
    assert stem not in set(read_csv_text(tmp_path / "out" / "probs.csv")["stem"])
    assert stem in accounted_stems(tmp_path / "out")


@pytest.mark.parametrize(("code", "values", "words"), [("1681C", np.full((1, N), 1 + 2j), "complex"),
                                                       ("1681L", np.ones((1, N), dtype=bool), "logical")])
def test_complex_and_logical_pixel_columns_are_refused(tmp_path: Path, code: str, values: np.ndarray, words: str) -> None:
    path = tmp_path / "D1_L_00000001_g.fits"
    columns = [fits.Column(name="Lens ID", format="9A", array=["GG-LENS_1"]),
               fits.Column(name="band_g", format=code, array=values)]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(path)
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match=words):
            reader(path, "g")
