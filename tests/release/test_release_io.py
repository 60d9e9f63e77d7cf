"""Reading the release as published: names, nesting, non-image files, manifests, parameters, IDs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from brahmasifier.bands import BANDS
from brahmasifier.io import open_store, pack_fits, read_object, scan_fits_tree, write_band_fits
from brahmasifier.io.naming import band_filename, labelled_stem, parse_band_filename
from brahmasifier.io.parameters import load_parameters
from brahmasifier.io.release import REASON_LISTED_MISSING, REASON_UNLISTED, class_folder, read_release_manifest
from brahmasifier.io.summary import summarize_store

from .release_tree import IDS, PublishedRelease

ROOTS = ("data/slsim_lenses", "data/slsim_nonlenses", "data/hsc_lenses", "data/hsc_nonlenses")


#: Pixels that are not blank (an object whose every band is one constant value is rejected as "no data").
_RAMP = np.arange(41 * 41, dtype=np.float32).reshape(41, 41) * 1e-3

def test_both_name_forms_parse_to_the_same_truth() -> None:
    for name, stem in (("D1_L_00032155_g.fits", "D1_L_00032155"), ("D1_L0000668_g.fits", "D1_L0000668")):
        parsed = parse_band_filename(name)
        assert parsed is not None and (parsed.stem, parsed.label, parsed.domain, parsed.band) == (stem, 1, "slsim", "g")
    parsed = parse_band_filename("D2_N_00000007_y.fits")
    assert parsed is not None and (parsed.label, parsed.domain) == (0, "hsc")
    parsed = parse_band_filename("object_00042_i.fits")
    assert parsed is not None and (parsed.stem, parsed.label, parsed.domain) == ("object_00042", -1, "unknown")
    assert labelled_stem("hsc", 0, 7) == "D2_N_00000007" and labelled_stem("hsc", 0, 7, form="legacy") == "D2_N0000007"


def test_scan_of_the_published_tree(published_release: PublishedRelease) -> None:
    scan = scan_fits_tree([published_release.root / r for r in ROOTS])
    found = {o.stem: (o.label, o.domain) for o in scan.objects}
    expected = {r.stem: (r.label, r.domain) for r in published_release.truth.itertuples()}
    assert found == expected and len(scan.rejected) == 0  # nothing stray, manifests complete
    assert {k: len(v) for k, v in scan.known_files.items()} == {"manifest": 4, "parameters": 3, "parameters_updated": 1}
    assert sorted(p.name for p in scan.parameter_files) == ["parameters.fits"] * 3 + ["parameters_updated.fits"]
    assert [(c.n_listed, c.n_missing, c.n_unlisted) for c in scan.manifest_checks] == [(20, 0, 0)] * 4
    tables = scan.input_report()["parameter_tables"]
    hsc = next(t for t in tables if str(t["folder"]).endswith("hsc_lenses"))
    assert hsc["files"] == ["parameters.fits", "parameters_updated.fits"] and "wins" in str(hsc["rule"])


def test_ids_are_exact_strings_and_images_float64_round_trip(published_release: PublishedRelease) -> None:
    scan = scan_fits_tree(published_release.root / "data")
    by_stem = {r.stem: r.id for r in published_release.truth.itertuples()}
    for obj in scan.objects:
        item = read_object(obj)
        assert item.id == by_stem.get(obj.stem, obj.stem)  # the blind set has no ID: the stem stands in
        assert item.id_source == ("table" if obj.stem in by_stem else "stem")
        assert item.image.tobytes() == published_release.images[obj.stem].astype(np.float32).tobytes()
    assert {"0036411448540270969", "00123", "0000000000000000000007"} <= set(by_stem.values())


def test_files_read_the_way_other_teams_public_loaders_read_the_release(published_release: PublishedRelease) -> None:
    """Labelled: table row 0 of extension 1, column band_<b>, reshaped to 41x41; blind: primary HDU, ndim 2."""
    data = published_release.root / "data"
    for row in published_release.truth.itertuples():
        image = published_release.images[row.stem]
        name = class_folder(row.domain, row.label)
        folder = data / name / name
        for b, band in enumerate(BANDS):
            path = folder / band_filename(row.stem, band)
            with fits.open(path) as hdul:
                assert hdul[0].data is None and len(hdul) == 2
                np.testing.assert_array_equal(hdul[1].data[f"band_{band}"][0].reshape(41, 41), image[b])
                assert hdul[1].columns.formats[1] == "1681D"
            table = fits.getdata(path, ext=1)
            assert table[0][0] == row.id  # the ID column first, as a string
            np.testing.assert_array_equal(np.asarray(table[0][1]).reshape(41, 41), image[b])
            np.testing.assert_array_equal(fits.getdata(path)[f"band_{band}"][0], image[b])
    for stem in published_release.blind["stem"]:
        for b, band in enumerate(BANDS):
            path = data / "test_dataset" / band_filename(stem, band)
            for pixels in (fits.getdata(path, ext=0), fits.getdata(path)):
                assert pixels.ndim == 2 and pixels.shape == (41, 41)
                np.testing.assert_array_equal(pixels, published_release.images[stem][b])


def test_updated_parameters_win_for_their_columns_and_ids(published_release: PublishedRelease) -> None:
    data = published_release.root / "data" / "hsc_lenses"
    table, problems = load_parameters([data / "parameters.fits", data / "parameters_updated.fits"])
    assert problems == [] and "vel disp" not in table.columns
    table = table.set_index("id")
    expected = published_release.parameters.set_index("id").loc[IDS[("hsc", 1)]]
    for column in ("vel_disp", "Rein", "zlens", "zsrc"):
        np.testing.assert_array_equal(table.loc[expected.index, column].to_numpy(float), expected[column].to_numpy(float))
    assert table["parameters_file"].map(lambda p: Path(p).name).tolist() == ["parameters_updated.fits"] * 3 + ["parameters.fits"]


def test_manifest_reports_missing_and_unlisted_files(published_release: PublishedRelease, tmp_path: Path) -> None:
    data = published_release.root / "data"
    inner = data / "hsc_nonlenses" / "hsc_nonlenses"
    gone = inner / band_filename(published_release.truth.stem.iloc[-1], "r")
    gone.unlink()  # a download that lost one file: the object is incomplete AND the manifest says so
    extra = labelled_stem("hsc", 0, 99)
    for band in BANDS:  # an object the manifest does not name: packed, but noted
        write_band_fits(inner / band_filename(extra, band), "extra-object", band, _RAMP, id_column="Object ID")
    store = pack_fits([data / "hsc_nonlenses"], tmp_path / "store", workers=1, progress=False)
    rejected = store.rejected
    missing = rejected[rejected["reason"].str.startswith(REASON_LISTED_MISSING)]
    unlisted = rejected[rejected["reason"].str.startswith(REASON_UNLISTED)]
    assert missing["file"].map(lambda f: Path(f).name).tolist() == [gone.name]
    assert sorted(unlisted["file"].map(lambda f: Path(f).name)) == sorted(band_filename(extra, b) for b in BANDS)
    assert (missing["stem"] == "").all() and (unlisted["stem"] == "").all()
    assert "extra-object" in set(store.index["id"])  # unlisted is a note, never a drop
    summary = summarize_store(store.path)
    assert (summary["n_listed_missing"], summary["n_unlisted"], summary["n_stray_files"]) == (1, 5, 0)
    assert summary["n_rejected_objects"] == 1  # the object that lost its r band
    assert store.manifest["n_found"] == len(store) + summary["n_rejected_objects"] == 5
    check = summary["release_manifests"][0]
    assert (check["n_listed"], check["n_missing"], check["n_unlisted"]) == (20, 1, 5)


def test_manifest_parser_is_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "_manifest.txt"
    path.write_bytes("\ufeff# header\n\nname,size,md5\n/abs/x/D1_L_00000001_g.fits, 20160, abc\n"
                     "'quoted/D1_L_00000001_r.fits'\tfoo\r\n  D1_L_00000001_i.FITS  \n# D1_L_00000009_g.fits\n".encode())
    manifest = read_release_manifest(path)
    assert sorted(manifest.entries) == ["D1_L_00000001_g.fits", "D1_L_00000001_i.FITS", "D1_L_00000001_r.fits"]
    assert (manifest.n_lines, manifest.n_ignored) == (4, 1)
    path.write_text("object_count 250000\nchecksum deadbeef\n")  # some other content: nothing to check
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.move(path, folder / "_manifest.txt")
    write_band_fits(folder / "D1_L_00000001_g.fits", "a", "g", np.zeros((41, 41)))
    scan = scan_fits_tree(folder)
    assert scan.manifest_checks[0].n_listed == 0 and "not checked" in scan.manifest_checks[0].note
    assert [r for r in scan.rejected["reason"] if "manifest" in r] == []


def test_mixed_tree_published_legacy_and_blind(published_release: PublishedRelease, tmp_path: Path) -> None:
    """Old flat folders with legacy names, integer IDs and float32 images read beside the published form."""
    legacy = tmp_path / "legacy" / "slsim_lenses"
    for k in range(2):
        for band in BANDS:
            write_band_fits(legacy / band_filename(labelled_stem("slsim", 1, k, form="legacy"), band), 10**16 + k, band,
                            np.full((41, 41), k, np.float32) + _RAMP, id_column="Lens ID", with_tdim=bool(k))
    data = published_release.root / "data"
    store = pack_fits([data, tmp_path / "legacy"], tmp_path / "store", workers=1, progress=False)
    index = store.index.set_index("stem")
    assert index.loc["D1_L0000001", "id"] == str(10**16 + 1) and index.loc["D1_L0000001", "label"] == 1
    assert index.loc["D1_L0000001", "domain"] == "slsim" and index.loc["object_00003", "label"] == -1
    assert len(store) == len(published_release.truth) + len(published_release.blind) + 2
    assert store.manifest["n_found"] == len(store) + int((store.rejected["stem"] != "").sum())


def test_pack_keeps_leading_zero_ids_and_joins_every_parameter(published_release: PublishedRelease, tmp_path: Path) -> None:
    data = published_release.root / "data"
    store = pack_fits([data / r.split("/")[1] for r in ROOTS], tmp_path / "store", workers=1, progress=False)
    index = open_store(store.path).index.set_index("id")
    expected = published_release.parameters.set_index("id")
    assert sorted(index.index) == sorted(expected.index)
    for column in ("vel_disp", "Rein", "zlens", "zsrc", "z_central"):
        np.testing.assert_array_equal(index.loc[expected.index, column].to_numpy(float), expected[column].to_numpy(float))
    assert isinstance(index.index[0], str) and "vel disp" not in index.columns
    assert pd.api.types.is_string_dtype(index.reset_index()["id"]) or index.reset_index()["id"].dtype == object


def test_manifest_check_ends_when_the_walk_leaves_its_folder(tmp_path: Path) -> None:
    """Depth-first: a class's names are let go before the next class is walked (one manifest in memory)."""
    from brahmasifier.io.release import ManifestTracker, write_release_manifest

    for name in ("a", "b"):
        write_release_manifest(tmp_path / name / "_manifest.txt", [f"inner/{name}_g.fits", "inner/gone_g.fits"])
    tracker = ManifestTracker()
    tracker.visit(tmp_path / "a", [], ["_manifest.txt"])
    tracker.visit(tmp_path / "a" / "inner", ["a_g.fits", "extra_g.fits"], [])
    assert len(tracker._active) == 1 and tracker.checks[0].n_missing == 0
    tracker.visit(tmp_path / "b", [], ["_manifest.txt"])
    assert len(tracker._active) == 1 and tracker.checks[0].n_missing == 1  # a's check is over
    tracker.visit(tmp_path / "b" / "inner", ["b_g.fits"], [])
    tracker.finish()
    assert [(c.n_missing, c.n_unlisted) for c in tracker.checks] == [(1, 1), (1, 0)]
    assert sorted(Path(f).relative_to(tmp_path).as_posix() for _, f, _ in tracker.rows) == [
        "a/inner/extra_g.fits", "a/inner/gone_g.fits", "b/inner/gone_g.fits"]
