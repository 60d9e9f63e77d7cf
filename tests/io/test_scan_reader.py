"""scan_fits_tree (grouping, rejects, errors) and read_object (stacking, IDs, NaN)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS
from brahmasifier.io import FitsFormatError, ObjectFiles, read_band_fits_astropy, read_object, scan_fits_tree
from brahmasifier.io.reader import ID_FROM_STEM, ID_FROM_TABLE


def test_scan_groups_bands_sorts_and_reads_labels(tiny_challenge_tree: tuple[Path, pd.DataFrame]) -> None:
    root, truth = tiny_challenge_tree
    scan = scan_fits_tree(root)
    assert len(scan.objects) == len(truth) == scan.n_found
    assert scan.rejected.empty and list(scan.rejected.columns) == ["stem", "file", "reason"]
    assert len(scan.parameter_files) == 4 and all(p.name == "parameters.fits" for p in scan.parameter_files)
    by_stem = {o.stem: o for o in scan.objects}
    for row in truth.itertuples():
        obj = by_stem[row.stem]
        assert (obj.label, obj.domain, obj.root) == (row.label, row.domain, root)
        assert list(obj.files) == list(BANDS)
        assert all(obj.files[b].name == f"{row.stem}_{b}.fits" for b in BANDS)
    keys = [(str(o.files["g"].parent), o.stem) for o in scan.objects]
    assert keys == sorted(keys)
    assert [o.stem for o in scan_fits_tree(root).objects] == [o.stem for o in scan.objects]  # deterministic


def test_scanned_objects_hold_folder_and_stem_not_five_paths(tiny_challenge_tree: tuple[Path, pd.DataFrame]) -> None:
    import pickle

    from brahmasifier.io.scan import StandardBandFiles

    root, _ = tiny_challenge_tree
    objects = scan_fits_tree(root).objects
    obj = objects[0]
    folder = obj.files["g"].parent
    assert isinstance(obj.files, StandardBandFiles)
    assert all(p.is_file() for p in obj.files.values())
    explicit = ObjectFiles(obj.stem, obj.label, obj.domain, {b: folder / f"{obj.stem}_{b}.fits" for b in BANDS}, obj.root)
    assert obj == explicit and dict(obj.files) == dict(explicit.files)
    assert pickle.loads(pickle.dumps(obj)) == obj  # pack sends objects to worker processes
    with pytest.raises(KeyError):
        obj.files["u"]
    same_folder = [o for o in objects if o.files["g"].parent == folder]
    assert len(same_folder) > 1 and len({id(o.files.folder) for o in same_folder}) == 1  # one Path per folder
    assert not hasattr(obj, "__dict__")  # slotted: no per-object dict


def test_scan_rejects_missing_bands_and_stray_files(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    make_object(tmp_path, "D1_L0000001", "a")
    make_object(tmp_path, "D1_L0000002", "b", bands=("g", "r", "i"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "cutout.fits").write_bytes(b"x")
    (tmp_path / "x_q.fits").write_bytes(b"x")
    (tmp_path / ".D1_L0000009_g.fits.tmp-ab_g.fits").write_bytes(b"")  # hidden temp file: skipped, listed
    sub = tmp_path / "deeper" / "still"
    sub.mkdir(parents=True)
    make_object(sub, "neutral-7", 7)
    scan = scan_fits_tree(tmp_path)
    assert [o.stem for o in scan.objects] == ["D1_L0000001", "neutral-7"]
    neutral = scan.objects[1]
    assert (neutral.label, neutral.domain) == (-1, "unknown")
    rejected = scan.rejected.set_index("file")
    assert rejected.loc[str(tmp_path / "D1_L0000002_g.fits"), "reason"] == "missing band(s) z,y"
    assert rejected.loc[str(tmp_path / "D1_L0000002_g.fits"), "stem"] == "D1_L0000002"
    for stray in ("notes.txt", "cutout.fits", "x_q.fits"):
        assert rejected.loc[str(tmp_path / stray), "reason"] == "unrecognised file name"
        assert rejected.loc[str(tmp_path / stray), "stem"] == ""
    assert rejected.loc[str(tmp_path / ".D1_L0000009_g.fits.tmp-ab_g.fits"), "reason"].startswith("hidden name")
    assert len(scan.rejected) == 5 and scan.n_incomplete == 1 and scan.n_found == 3


def test_same_stem_in_two_roots_or_folders_is_two_objects(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    make_object(a, "obj", 1)
    make_object(b, "obj", 2)
    scan = scan_fits_tree([a, b])
    assert [(o.stem, o.root) for o in scan.objects] == [("obj", a), ("obj", b)]
    assert len(scan_fits_tree(tmp_path).objects) == 2  # two folders under one root
    assert len(scan_fits_tree([a, a, tmp_path]).objects) == 2  # repeated / nested roots: scanned once


def test_scan_errors_name_the_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        scan_fits_tree(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        scan_fits_tree(tmp_path / "empty")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt"):
        scan_fits_tree(tmp_path / "file.txt")
    with pytest.raises(ValueError, match="no input folders"):
        scan_fits_tree([])


def test_read_object_stacks_bands_in_order(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    written = make_object(tmp_path, "D2_N0000003", 1234567890123456789, seed=5)
    obj = scan_fits_tree(tmp_path).objects[0]
    item = read_object(obj)
    assert (item.id, item.stem, item.n_nan, item.id_source) == ("1234567890123456789", "D2_N0000003", 0, ID_FROM_TABLE)
    assert item.image.dtype == np.float32 and item.image.shape == (5, 41, 41)
    assert item.image.tobytes() == written.tobytes()
    reference = np.stack([read_band_fits_astropy(obj.files[b], b).image for b in BANDS])
    assert item.image.tobytes() == reference.tobytes()
    slow = read_object(obj, band_reader=read_band_fits_astropy)
    assert slow.image.tobytes() == item.image.tobytes() and slow.id == item.id


def test_read_object_replaces_and_counts_nan_inf(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    image = np.ones((5, 41, 41), np.float32)
    image[0, 1, 1] = np.nan
    image[3, 2, 2] = np.inf
    image[4, 40, 40] = -np.inf
    make_object(tmp_path, "o", "x", image=image)
    item = read_object(scan_fits_tree(tmp_path).objects[0])
    assert item.n_nan == 3
    assert np.isfinite(item.image).all()
    assert item.image[0, 1, 1] == item.image[3, 2, 2] == item.image[4, 40, 40] == 0.0
    assert item.image.sum() == 5 * 41 * 41 - 3


def test_read_object_id_rules(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    make_object(tmp_path, "noid", None)
    item = read_object(scan_fits_tree(tmp_path).objects[0])
    assert (item.id, item.id_source) == ("noid", ID_FROM_STEM)

    other = tmp_path / "mixed"
    other.mkdir()
    make_object(other, "mix", "A")
    make_object(other, "mix", "B", bands=("i",))
    obj = scan_fits_tree(other).objects[0]
    with pytest.raises(FitsFormatError, match="disagree on the object ID") as info:
        read_object(obj)
    assert "mix_i.fits='B'" in str(info.value) and "mix_g.fits='A'" in str(info.value)


def test_read_object_names_the_bad_file(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    make_object(tmp_path, "bad", 1)
    (tmp_path / "bad_z.fits").write_bytes(b"SIMPLE  =  garbage")
    with pytest.raises(FitsFormatError) as info:
        read_object(scan_fits_tree(tmp_path).objects[0])
    assert info.value.path == tmp_path / "bad_z.fits"
    incomplete = ObjectFiles("x", -1, "unknown", {"g": tmp_path / "bad_g.fits"}, tmp_path)
    with pytest.raises(FitsFormatError, match="no file for band r"):
        read_object(incomplete)
