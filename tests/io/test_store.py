"""The store format: round trips, refusal of incomplete stores, sharing across processes."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.io import StoreError, open_store, read_parameters_fits, write_parameters_fits
from brahmasifier.io.store import MANIFEST, finalize_store, write_shard, write_store


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 5, 41, 41)).astype(np.float32)


def _index(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"id{k}" for k in range(n)], "stem": [f"s{k}" for k in range(n)],
                         "label": np.arange(n) % 2, "domain": ["slsim"] * n, "n_nan": np.zeros(n, np.int64)})


def test_write_store_round_trip_across_shards(tmp_path: Path) -> None:
    images = _images(23)
    store = write_store(tmp_path / "s", images, _index(23), shard_size=5)
    assert len(store) == 23 and len(store.manifest["shards"]) == 5
    order = np.array([22, 0, 5, 4, 5, -1, 13])
    np.testing.assert_array_equal(store.read(order), images[order])
    np.testing.assert_array_equal(store.read_range(3, 100), images[3:])
    within_one_shard = np.array([9, 5, 9, 7])  # the single-shard fast path, repeats and order kept
    np.testing.assert_array_equal(store.read(within_one_shard), images[within_one_shard])
    assert type(store.read(within_one_shard)) is np.ndarray  # not a memmap view of the shard file
    assert store.read([]).shape == (0, 5, 41, 41)
    pd.testing.assert_frame_equal(store.index, _index(23))
    with pytest.raises(IndexError):
        store.read([23])
    reopened = open_store(tmp_path / "s")
    np.testing.assert_array_equal(reopened.read(np.arange(23)), images)


def test_incomplete_or_broken_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "absent")
    out = tmp_path / "partial"
    write_shard(out, 0, _images(2))
    with pytest.raises(StoreError, match="incomplete store"):
        open_store(out)
    finalize_store(out, [("shards/images-00000.npy", 2)], _index(2))
    assert len(open_store(out)) == 2
    (out / MANIFEST).write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        open_store(out)
    with pytest.raises(ValueError, match="rows"):
        finalize_store(out, [("shards/images-00000.npy", 2)], _index(3))


def test_store_pickles_without_array_data(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s", _images(40), _index(40), shard_size=16)
    store.read(np.arange(40))  # maps all shards in this process
    blob = pickle.dumps(store)
    assert len(blob) < 5_000  # 40 images are 1.3 MB: none of it travels
    clone = pickle.loads(blob)
    assert all(m is None for m in clone._maps)
    np.testing.assert_array_equal(clone.read([3, 39]), store.read([3, 39]))


def test_two_processes_read_identical_data(tmp_path: Path) -> None:
    images = _images(50, seed=3)
    store = write_store(tmp_path / "s", images, _index(50), shard_size=16)
    picks = [np.random.default_rng(k).integers(0, 50, 20) for k in range(4)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        results = list(pool.map(store.read, picks))  # each call pickles the store, the worker re-maps
    for pick, got in zip(picks, results, strict=True):
        assert got.tobytes() == images[pick].tobytes()


def test_parameters_fits_round_trip_keeps_names_and_ids(tmp_path: Path) -> None:
    table = pd.DataFrame({"Lens ID": ["GG-LENS_1.0_2.0", "B"], "vel disp": [200.0, -999.0], "mag_lens_g": [21.0, 22.5]})
    write_parameters_fits(tmp_path / "parameters.fits", table)
    back = read_parameters_fits(tmp_path / "parameters.fits")
    assert list(back.columns) == ["id", "vel disp", "mag_lens_g"]
    assert back["id"].tolist() == ["GG-LENS_1.0_2.0", "B"] and back["vel disp"].tolist() == [200.0, -999.0]
    ints = pd.DataFrame({"Object ID": np.array([10**16 + 1, 5], dtype=np.int64), "z central": [0.1, 0.2]})
    write_parameters_fits(tmp_path / "p2.fits", ints)
    assert read_parameters_fits(tmp_path / "p2.fits")["id"].tolist() == [str(10**16 + 1), "5"]
