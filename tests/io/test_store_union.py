"""Several stores read as one (StoreUnion): the same reads as each store, pickling, duplicates, refusals, mixes."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.errors import StoreError
from brahmasifier.io.store import SOURCE_STORE, CutoutStore, StoreUnion, open_store, open_stores, write_store
from brahmasifier.io.store_input import is_store_input, open_or_pack, store_paths

from ..conftest import write_tiny_challenge_tree


def _store(path: Path, n: int, seed: int, prefix: str, *, shard_size: int = 4, **extra: object) -> CutoutStore:
    images = np.random.default_rng(seed).normal(size=(n, 5, 41, 41)).astype(np.float32)
    index = pd.DataFrame({"id": [f"{prefix}{k}" for k in range(n)], "stem": [f"{prefix}_s{k}" for k in range(n)],
                          "label": np.arange(n) % 2, "domain": ["slsim"] * n, "n_nan": np.zeros(n, np.int64), **extra})
    return write_store(path, images, index, shard_size=shard_size)


@pytest.fixture
def two(tmp_path: Path) -> tuple[CutoutStore, CutoutStore]:
    a = _store(tmp_path / "a", 9, 0, "a", Rein=np.linspace(0.5, 1.5, 9))
    b = _store(tmp_path / "b", 6, 1, "b", n_masked=np.arange(6, dtype=np.int64))
    return a, b


def test_union_reads_what_each_store_reads(two: tuple[CutoutStore, CutoutStore]) -> None:
    a, b = two
    union = open_stores([a.path, b.path])
    assert isinstance(union, StoreUnion) and len(union) == 15 and union.paths == (a.path, b.path)
    assert str(a.path) in repr(union) and str(b.path) in repr(union) and union.name == f"{a.path} + {b.path}"
    every = np.arange(15)
    np.testing.assert_array_equal(union.read(every), np.concatenate([a.read(np.arange(9)), b.read(np.arange(6))]))
    rows = np.array([14, 0, 9, 8, 9, -1, 3])  # across shards and stores, repeats, a negative row
    expected = np.stack([b.read([5])[0], a.read([0])[0], b.read([0])[0], a.read([8])[0], b.read([0])[0], b.read([5])[0],
                         a.read([3])[0]])
    np.testing.assert_array_equal(union.read(rows), expected)
    np.testing.assert_array_equal(union.read_range(7, 11), np.concatenate([a.read([7, 8]), b.read([0, 1])]))
    batch = union.read_batch([10, 2])
    assert batch.ids == ["b1", "a2"] and batch.stems == ["b_s1", "a_s2"] and batch.labels.tolist() == [1, 0]
    index = union.index
    assert index[SOURCE_STORE].astype(str).tolist() == [str(a.path)] * 9 + [str(b.path)] * 6
    assert index["id"].tolist() == [*a.index["id"], *b.index["id"]] and not index["duplicate_id"].any()
    assert index["Rein"].iloc[:9].tolist() == a.index["Rein"].tolist() and index["Rein"].iloc[9:].isna().all()
    # a reader column one store lacks gets the reader's default (-1: not counted), not NaN cast to garbage
    assert union.index_arrays()["n_masked"].tolist() == [-1] * 9 + list(range(6))
    assert union.find_rows(["b3", "a0", "zz"]) == [12, 0, None]
    assert union.n_per_store() == {str(a.path): 9, str(b.path): 6}
    assert union.n_per_store(np.array([0, 9, 10, 14])) == {str(a.path): 1, str(b.path): 3}
    union.verify()


def test_union_pickles_without_arrays_and_reopens_its_shards(two: tuple[CutoutStore, CutoutStore]) -> None:
    union = open_stores([s.path for s in two])
    before = union.read(np.arange(15))  # maps opened
    clone = pickle.loads(pickle.dumps(union))
    assert isinstance(clone, StoreUnion) and all(m is None for m in clone._maps)
    assert len(pickle.dumps(union)) < 100_000  # no pixels inside
    np.testing.assert_array_equal(clone.read(np.arange(15)), before)
    assert clone.index["id"].tolist() == union.index["id"].tolist()


def test_duplicate_ids_across_stores_are_kept_flagged_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    a = _store(tmp_path / "a", 4, 0, "x")
    b = _store(tmp_path / "b", 3, 1, "x")  # x0, x1, x2 again: other objects under the same IDs
    union = open_stores([a.path, b.path])
    with caplog.at_level(logging.WARNING, logger="brahmasifier.io._store_union"):
        flags = union.index["duplicate_id"].tolist()
    assert flags == [True, True, True, False, True, True, True]  # pack's rule: kept and flagged, never dropped
    assert len(union) == 7 and union.duplicates_across() == 6
    message = caplog.text
    assert "'x0'" in message and str(a.path) in message and str(b.path) in message
    assert union.find_rows(["x1"], ["x_s1"]) == [1]  # the first one, as within one store


def test_mismatched_or_repeated_stores_are_refused_naming_both(tmp_path: Path) -> None:
    a = _store(tmp_path / "a", 3, 0, "a")
    small = _store(tmp_path / "small", 3, 1, "s")  # the writers write 41x41 only: a store of other stamps, by its manifest
    (small.path / "manifest.json").write_text((small.path / "manifest.json").read_text().replace('"stamp_size": 41',
                                                                                               '"stamp_size": 21'))
    with pytest.raises(StoreError, match=r"a and .*small cannot be read as one store: stamp size 41 vs 21"):
        open_stores([a.path, small.path])
    other = _store(tmp_path / "bands", 2, 2, "o")
    manifest = other.path / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"y"', '"Y"'))
    with pytest.raises(StoreError, match=r"cannot be read as one store: bands"):
        open_stores([a.path, other.path])
    with pytest.raises(StoreError, match="given twice"):
        open_stores([a.path, tmp_path / "." / "a"])
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "_parts").mkdir()
    with pytest.raises(StoreError, match="incomplete store"):
        open_or_pack([a.path, tmp_path / "half"], tmp_path / "cache", what="data")
    assert isinstance(open_stores(a.path), CutoutStore) and not isinstance(open_stores([a.path]), StoreUnion)


def test_several_stores_and_a_mix_with_fits_roots(tmp_path: Path) -> None:
    a = _store(tmp_path / "a", 5, 0, "a")
    b = _store(tmp_path / "b", 4, 1, "b")
    assert is_store_input([a.path, b.path]) and not is_store_input([a.path, tmp_path])
    both = open_or_pack([a.path, b.path], tmp_path / "unused", what="data")
    assert isinstance(both, StoreUnion) and both.paths == (a.path, b.path) and not (tmp_path / "unused").exists()
    tree = tmp_path / "tree"
    truth = write_tiny_challenge_tree(tree, n_per_class=2, seed=3)
    assert store_paths([a.path, tree, b.path], tmp_path / "cache") == [tmp_path / "cache", a.path, b.path]
    mixed = open_or_pack([a.path, tree, b.path], tmp_path / "cache", what="data", workers=1, progress=False,
                         reuse_packed=True)
    assert isinstance(mixed, StoreUnion) and mixed.paths == (tmp_path / "cache", a.path, b.path)
    packed = open_store(tmp_path / "cache")
    assert len(packed) == len(truth) and len(mixed) == len(truth) + 9
    np.testing.assert_array_equal(mixed.read(np.arange(len(truth), len(truth) + 5)), a.read(np.arange(5)))
    assert sorted(mixed.index["id"].iloc[: len(truth)]) == sorted(truth["id"])
    assert "source_store" in mixed.rejected.columns
