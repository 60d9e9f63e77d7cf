"""simulate_dataset: layouts, determinism across worker counts, reruns, class overlap."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

pytest.importorskip("lenstronomy")

from brahmasifier.bands import BANDS
from brahmasifier.io._fastwrite import band_fits_bytes, image_fits_bytes
from brahmasifier.io.fits import read_band_fits_astropy, read_parameters_fits, write_band_fits, write_image_fits
from brahmasifier.io.naming import parse_band_filename
from brahmasifier.io.parameters import canonical_parameter_name
from brahmasifier.io.release import read_release_manifest
from brahmasifier.simulation import simulate_dataset
from brahmasifier.simulation.population import LENS_COLUMNS, NONLENS_COLUMNS
from brahmasifier.simulation.writer import RELEASE_ID_WIDTHS

FOLDERS = ("slsim_lenses", "slsim_nonlenses", "hsc_lenses", "hsc_nonlenses")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".fits", ".csv")}


def _truth_differences(a: Path, b: Path) -> str:
    """Which truth cells differ (a failure's message: which quantity depends on the worker count)."""
    left, right = pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str)
    if left.shape != right.shape:
        return f"truth tables of shapes {left.shape} and {right.shape}"
    cells = [f"row {i} {c}: {left.at[i, c]} vs {right.at[i, c]}" for c in left.columns for i in left.index
             if left.at[i, c] != right.at[i, c]]
    return "; ".join(cells[:12]) or "truth tables equal: an image file differs"


@pytest.fixture(scope="module")
def challenge_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "challenge"
    summary = simulate_dataset(out, 3, seed=4, workers=1, progress=False, preview=True)
    assert summary.n_objects == 12 and not summary.skipped and summary.objects_per_second > 0
    return out


def test_challenge_layout(challenge_tree: Path) -> None:
    """The published form: <class>/<class>/D1_L_00000000_b.fits, parameters.fits + _manifest.txt one level up."""
    assert (challenge_tree / "preview.png").stat().st_size > 10_000
    all_ids = []
    for folder in FOLDERS:
        assert sorted(p.name for p in (challenge_tree / folder).iterdir()) == sorted(["_manifest.txt", "parameters.fits", folder])
        band_files = sorted((challenge_tree / folder / folder).glob("*.fits"))
        assert len(band_files) == 3 * len(BANDS) and all(len(f.name) == len("D1_L_00000000_g.fits") for f in band_files)
        parsed = [parse_band_filename(f.name) for f in band_files]
        assert all(p is not None for p in parsed)
        label = 1 if folder.endswith("_lenses") else 0
        domain = folder.split("_")[0]
        assert {(p.label, p.domain) for p in parsed if p} == {(label, domain)}
        manifest = read_release_manifest(challenge_tree / folder / "_manifest.txt")
        assert sorted(manifest.entries) == [f.name for f in band_files]
        assert all(entry.startswith(f"{folder}/") for entry in manifest.entries.values())
        params = read_parameters_fits(challenge_tree / folder / "parameters.fits")
        expected = {canonical_parameter_name(c) for c in (LENS_COLUMNS if label else NONLENS_COLUMNS)}
        assert expected | {"RA", "Dec"} <= set(params.columns)
        assert "vel disp" not in params.columns and (("vel_disp" in params.columns) == bool(label))
        if label:
            assert (params["Rein"] > 0.3).all() and (params["zsrc"] > params["zlens"]).all()
        record = read_band_fits_astropy(band_files[0])
        assert record.object_id == params["id"].iloc[0]
        assert np.isfinite(record.image).all()
        with fits.open(band_files[0]) as hdul:  # string ID of the release's width, float64 image with TDIM
            width = max(RELEASE_ID_WIDTHS[(domain, label)], len(record.object_id or ""))
            assert hdul[1].columns.formats == [f"{width}A", "1681D"]
            assert hdul[1].data[f"band_{parsed[0].band}"][0].shape == (41, 41)
        if domain == "slsim":
            assert all(i.startswith("GG-LENS_") for i in params["id"])
        else:
            assert all(i.isdigit() and len(i) == 17 for i in params["id"])
        all_ids += list(params["id"])
    assert len(set(all_ids)) == len(all_ids)

    with fits.open(challenge_tree / "slsim_lenses" / "slsim_lenses" / "D1_L_00000000_g.fits") as hdul:
        assert hdul[1].header["BUNIT"] == "nJy" and hdul[1].header["ZP"] == 31.4
        assert hdul[1].columns.names == ["Lens ID", "band_g"]


def test_rerun_skips_and_other_settings_are_refused(challenge_tree: Path) -> None:
    before = _hashes(challenge_tree)
    again = simulate_dataset(challenge_tree, 3, seed=4, workers=1, progress=False)
    assert again.skipped and _hashes(challenge_tree) == before
    with pytest.raises(FileExistsError, match="different settings"):
        simulate_dataset(challenge_tree, 3, seed=5, workers=1, progress=False)


def test_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    """Every image file byte for byte; the truth table to 12 digits.

    In the suite's own process (``workers=1``, after the other tests) lenstronomy's lens-equation
    solver returned an image separation one unit in the 16th digit away from a fresh worker's, on a
    2-core Intel Xeon (2026-12-08; twice in a full run, never in ``tests/simulation`` alone): the
    pixels were the same.
    """
    one = simulate_dataset(tmp_path / "w1", 2, seed=9, layout="test", workers=1, progress=False, preview=False)
    two = simulate_dataset(tmp_path / "w2", 2, seed=9, layout="test", workers=2, progress=False, preview=False)
    assert two.workers == 2
    h1, h2 = _hashes(one.out), _hashes(two.out)
    assert len(h1) == 8 * len(BANDS) + 1
    images = [k for k in h1 if k != "truth.csv"]
    assert [h1[k] for k in images] == [h2.get(k) for k in images]
    left, right = pd.read_csv(one.out / "truth.csv"), pd.read_csv(two.out / "truth.csv")
    assert list(left.columns) == list(right.columns) and left.shape == right.shape
    numeric = left.select_dtypes("number").columns
    assert left.drop(columns=numeric).equals(right.drop(columns=numeric))
    assert np.allclose(left[numeric].to_numpy(float), right[numeric].to_numpy(float), rtol=1e-12, atol=0.0,
                       equal_nan=True), _truth_differences(one.out / "truth.csv", two.out / "truth.csv")
    other = simulate_dataset(tmp_path / "s10", 2, seed=10, layout="test", workers=1, progress=False, preview=False)
    h3 = _hashes(other.out)
    assert set(h3) == set(h1) and all(h3[k] != h1[k] for k in h1)  # another seed: every file differs


def test_test_layout_hides_labels(tmp_path: Path) -> None:
    """The blind set: flat folder of primary-HDU images object_NNNNN_b.fits, no ID; truth outside, keyed by stem."""
    simulate_dataset(tmp_path, 3, seed=2, layout="test", workers=1, progress=False, preview=False)
    truth = pd.read_csv(tmp_path / "truth.csv", dtype={"id": str, "catalogue_id": str})
    assert not (tmp_path / "images" / "truth.csv").exists()
    assert len(truth) == 12 and sorted(truth["label"].value_counts().tolist()) == [6, 6]
    assert set(truth["domain"]) == {"slsim", "hsc"}
    assert (truth.loc[truth["label"] == 0, "Rein"] == -999).all()
    assert (truth.loc[truth["label"] == 1, "Rein"] > 0).all()
    # Shuffled: numbering does not follow the class order.
    ordered = truth.sort_values("stem")["label"].tolist()
    assert ordered != sorted(ordered) and ordered != sorted(ordered, reverse=True)
    names = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert len(names) == 12 * len(BANDS) and all(n.startswith("object_") for n in names)
    assert (truth["id"] == truth["stem"]).all() and truth["stem"].str.fullmatch(r"object_\d{5}").all()
    assert truth["catalogue_id"].str.len().min() > 0 and "vel_disp" in truth.columns and "vel disp" not in truth.columns
    for stem in truth["stem"]:
        parsed = parse_band_filename(f"{stem}_g.fits")
        assert parsed is not None and parsed.label == -1 and parsed.domain == "unknown"
        assert read_band_fits_astropy(tmp_path / "images" / f"{stem}_r.fits").object_id is None

    with fits.open(tmp_path / "images" / f"{truth['stem'].iloc[0]}_g.fits") as hdul:
        assert len(hdul) == 1 and hdul[0].data.shape == (41, 41) and hdul[0].data.dtype == np.dtype(">f8")
        assert hdul[0].header["BUNIT"] == "nJy"
    manifest = json.loads((tmp_path / "simulation.json").read_text())
    assert manifest["settings"]["layout"] == "test"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_tdim", [True, False])
def test_fast_fits_bytes_equal_astropy_writer(tmp_path: Path, dtype: type, with_tdim: bool) -> None:
    """Every form the simulator writes (and the legacy one), byte for byte; short IDs NUL-padded to a fixed width."""
    rng = np.random.default_rng(0)
    header = {"BUNIT": "nJy", "ZP": 31.4}
    cases = (("GG-LENS_61.123456_-33.654321", "Lens ID", None), (41234567890123456, "Object ID", None), ("x", "ID", None),
             ("0041234567890123456", "Object ID", 22), ("GG-LENS_1.5_-2.5", "Lens ID", 24), ("too-long-for-width", "ID", 4))
    for object_id, column, width in cases:
        for band in BANDS:
            image = rng.normal(0, 10, (41, 41)).astype(np.float32)
            image[0, 0] = np.nan
            path = tmp_path / f"{band}.fits"
            options = {"id_column": column, "header": header, "dtype": dtype, "id_width": width, "with_tdim": with_tdim}
            write_band_fits(path, object_id, band, image, **options)  # type: ignore[arg-type]
            fast = band_fits_bytes(object_id, band, image, **options)  # type: ignore[arg-type]
            assert fast is not None and fast == path.read_bytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_image_bytes_equal_astropy_writer(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(1)
    for header in ({"BUNIT": "nJy", "ZP": 31.4}, None):
        for _ in range(3):
            image = rng.normal(0, 10, (41, 41))
            image[1, 2] = -np.inf
            write_image_fits(tmp_path / "b.fits", image, dtype=dtype, header=header)
            fast = image_fits_bytes(image, dtype=dtype, header=header)
            assert fast is not None and fast == (tmp_path / "b.fits").read_bytes()


def test_lens_and_nonlens_brightness_and_colour_overlap(tmp_path: Path) -> None:
    """No cheap shortcut: total i flux or g-i colour alone separate the classes poorly."""
    from sklearn.metrics import roc_auc_score

    from brahmasifier.simulation.generate import make_object
    from brahmasifier.simulation.render import Renderer

    renderer = Renderer("slsim")
    flux, colour, labels = [], [], []
    for label in (1, 0):
        for index in range(25):
            image = make_object(renderer, label, index, seed=21).image.astype(np.float64)
            total = image.sum(axis=(1, 2))
            flux.append(total[2])
            colour.append(-2.5 * np.log10(max(total[0], 1.0) / max(total[2], 1.0)))
            labels.append(label)
    for name, feature in (("total i flux", flux), ("g-i colour", colour)):
        auc = roc_auc_score(labels, feature)
        auc = max(auc, 1 - auc)
        print(f"AUC of {name} alone: {auc:.3f}")
        assert auc < 0.8, f"{name} alone separates lenses from non-lenses (AUC {auc:.3f})"
