"""Issue 16, items 2, 5, 7, 8, 9: every object found is scored/packed or listed with a reason, named safely.

Each case runs ``pack`` and ``predict`` through the real command line on a handful of objects.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import FitsFormatError
from brahmasifier.io import read_band_fits_astropy, read_band_fits_fast, scan_fits_tree
from brahmasifier.io.fits import write_band_fits
from brahmasifier.io.naming import band_filename

from .tiny import (
    accounted_stems,
    cli,
    image,
    predict,
    read_csv_text,
    write_blind,
    write_blind_object,
    write_labelled,
)

N = STAMP_SIZE * STAMP_SIZE


def _table_file(path: Path, columns: list[fits.Column]) -> None:
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(path, overwrite=True)


def _pack_and_predict(data: Path, model: Path, tmp: Path) -> tuple[str, str]:
    """Pack and predict ``data``; both must finish (rc 0); return their stdout."""
    packed = cli("pack", data, "--out", tmp / "store", "--workers", "1", "--no-progress")
    assert packed.rc == 0, packed.err
    scored = predict(data, model, tmp / "out")
    assert scored.rc == 0, scored.err
    return packed.out, scored.out


# -- item 2: a BinTable with two rows ------------------------------------------------------------

def test_a_band_file_with_two_rows_is_rejected_by_both_readers_and_both_commands(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for k, stem in enumerate(("D1_L_00000001", "D1_L_00000002")):
        write_labelled(data, stem, f"GG-LENS_{k}", image(k))
    two = data / band_filename("D1_L_00000002", "i")
    _table_file(two, [fits.Column(name="Lens ID", format="9A", array=["GG-LENS_1", "GG-LENS_9"]),
                      fits.Column(name="band_i", format=f"{N}D", array=np.stack([image(1)[2].ravel(), image(9)[2].ravel()]))])
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="2 rows"):
            reader(two, "i")
    _, scored = _pack_and_predict(data, model, tmp_path)
    for rejected in (tmp_path / "store" / "rejected.csv", tmp_path / "out" / "rejected.csv"):
        rows = read_csv_text(rejected)
        assert rows["stem"].tolist() == ["D1_L_00000002"] and "2 rows" in rows["reason"].iloc[0]
    assert "found 2 objects: scored 1 + rejected 1" in scored


# -- item 5: upper-case band letters, .FITS / .fit, a newline in a name, strays in the summary ----

def test_case_and_extension_variants_are_objects_and_odd_names_are_counted(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    write_blind_object(data, "object_00010", image(10), names=[f"object_00010_{b.upper()}.fits" for b in BANDS])
    write_blind_object(data, "object_00011", image(11), names=[f"object_00011_{b}.FITS" for b in BANDS])
    write_blind_object(data, "object_00012", image(12), names=[f"object_00012_{b}.fit" for b in BANDS])
    write_blind_object(data, "odd\nname", image(13))
    write_blind_object(data, "twice", image(14))
    write_image_twice = data / "twice_G.fits"  # a second file for band g of "twice"
    write_image_twice.write_bytes((data / "twice_g.fits").read_bytes())
    (data / "notes.txt").write_text("not a band file\n")
    scan = scan_fits_tree(data)
    assert sorted(o.stem for o in scan.objects) == ["object_00000", "object_00001", "object_00010", "object_00011",
                                                    "object_00012"]
    assert scan.n_found == 7
    packed, scored = _pack_and_predict(data, model, tmp_path)
    assert "found 7 objects: scored 5 + rejected 2" in scored
    assert "1 stray file" in scored and "1 stray file" in packed
    rejected = read_csv_text(tmp_path / "out" / "rejected.csv")
    reasons = dict(zip(rejected["stem"], rejected["reason"], strict=True))
    assert "control character" in reasons["odd\\nname"] and "two files for band g" in reasons["twice"]
    assert rejected["stem"].str.count("\n").sum() == 0  # one line per row, names escaped
    assert accounted_stems(tmp_path / "out") >= {o.stem for o in scan.objects}


# -- item 7: a _g file holding a band_r column -----------------------------------------------------

def test_a_band_column_that_contradicts_the_file_name_is_rejected(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_labelled(data, "D2_N_00000001", "42", image(1))
    write_labelled(data, "D2_N_00000002", "43", image(2))
    wrong = data / band_filename("D2_N_00000002", "g")
    _table_file(wrong, [fits.Column(name="Object ID", format="2A", array=["43"]),
                        fits.Column(name="band_r", format=f"{N}D", dim="(41,41)", array=image(2)[1][None])])
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="band_r"):
            reader(wrong, "g")
        assert reader(wrong).image.shape == (STAMP_SIZE, STAMP_SIZE)  # no band asked: the only image column
    _pack_and_predict(data, model, tmp_path)
    rows = read_csv_text(tmp_path / "out" / "rejected.csv")
    assert rows["stem"].tolist() == ["D2_N_00000002"] and "band_r" in rows["reason"].iloc[0]


# -- item 8: a file name with an undecodable byte ------------------------------------------------

def test_an_undecodable_file_name_rejects_that_object_only(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 3)
    bad_stem = os.fsdecode(b"object_\xff0042")
    write_blind_object(data, bad_stem, image(42))
    (data / os.fsdecode(b"stray-\xfe.txt")).write_text("x")
    _, scored = _pack_and_predict(data, model, tmp_path)
    assert "found 4 objects: scored 3 + rejected 1" in scored
    for folder in (tmp_path / "out", tmp_path / "store"):
        rows = read_csv_text(folder / "rejected.csv")  # valid UTF-8
        reasons = dict(zip(rows["stem"], rows["reason"], strict=True))
        assert "not valid UTF-8" in reasons["object_\\xff0042"]
        assert rows["file"].str.contains(r"stray-\xfe.txt", regex=False).any()
    for name in ("submission.csv", "probs.csv"):
        read_csv_text(tmp_path / "out" / name)
    assert not (tmp_path / "out" / "submission.csv.parts").exists()
    assert cli("info", tmp_path / "store").rc == 0


# -- item 9: IDs that fall back to file stems are said so ---------------------------------------

def test_objects_without_a_recognised_id_column_are_counted_in_every_summary(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_labelled(data, "D1_N_00000001", "GG-NL_1", image(1))
    for stem, k in (("D1_N_00000002", 2), ("D1_N_00000003", 3)):
        for b, band in enumerate(BANDS):
            _table_file(data / band_filename(stem, band),
                        [fits.Column(name="OBJID", format="K", array=[1000 + k]), fits.Column(name="RA", format="D", array=[1.5]),
                         fits.Column(name=f"band_{band}", format=f"{N}D", array=image(k)[b].reshape(1, N))])
    write_blind_object(data, "D1_N_00000004", image(4))  # primary-HDU images: no ID at all
    packed, scored = _pack_and_predict(data, model, tmp_path)
    line = "3 objects have no ID column: their file stem is used as ID"
    assert line in packed and line in scored
    assert line in cli("info", tmp_path / "store").out
    assert line in predict(tmp_path / "store", model, tmp_path / "from_store").out  # the store keeps each ID's source
    ids = set(read_csv_text(tmp_path / "out" / "probs.csv")["id"])
    assert ids == {"GG-NL_1", "D1_N_00000002", "D1_N_00000003", "D1_N_00000004"}


# -- item 3: resume notices input files replaced after a partial run ------------------------------

def test_resume_rescores_the_parts_whose_files_changed(tmp_path: Path, model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for k in range(6):
        write_labelled(data, f"D1_L_{k:08d}", f"OLD-{k}", image(k))
    first = predict(data, model, tmp_path / "out", "--part-size", "1", "--max-parts", "3")
    assert first.rc == 0 and "Rerun" in first.out
    for b, band in enumerate(BANDS):  # object 1 (scored in the partial run) is replaced by another object
        write_band_fits(data / band_filename("D1_L_00000001", band), "NEW-1", band, image(77)[b] * 3, dtype=np.float64)
    second = predict(data, model, tmp_path / "out", "--part-size", "1")
    assert second.rc == 0, second.err
    assert "rescored 1 part(s) (1 objects) of the earlier run: their input files changed" in second.out
    assert "reused 2 of 6 parts" in second.out
    probs = read_csv_text(tmp_path / "out" / "probs.csv").set_index("stem")
    assert probs.loc["D1_L_00000001", "id"] == "NEW-1"
    fresh = predict(data, model, tmp_path / "fresh", "--part-size", "1")
    assert fresh.rc == 0
    again = read_csv_text(tmp_path / "fresh" / "probs.csv").set_index("stem")
    assert probs.loc["D1_L_00000001", "prob"] == again.loc["D1_L_00000001", "prob"]
