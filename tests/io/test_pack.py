"""pack_fits: content, rejects, duplicates, parameters, resume, overwrite, parallel = serial."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS
from brahmasifier.errors import OutputExistsError
from brahmasifier.io import StoreError, open_store, pack_fits, read_object, scan_fits_tree
from brahmasifier.io import _pack_workers as pack_workers
from brahmasifier.io._pack_chunks import Chunk
from brahmasifier.io.fits import write_parameters_fits
from brahmasifier.io.scan import ObjectFiles
from brahmasifier.io.store import MANIFEST


def test_pack_challenge_tree_matches_reader_and_truth(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, truth = tiny_challenge_tree
    store = pack_fits(root, tmp_path / "store", workers=1, shard_size=10, progress=False)
    assert len(store) == len(truth) == 24
    assert [s["n"] for s in store.manifest["shards"]] == [10, 10, 4]
    index = store.index
    assert list(index.columns[:8]) == ["id", "stem", "label", "domain", "n_nan", "duplicate_id", "source", "id_source"]
    assert index["duplicate_id"].dtype == bool and not index["duplicate_id"].any()
    assert (index["source"] == str(root)).all() and (index["id_source"] == "table").all()
    merged = index.merge(truth, on="stem", suffixes=("", "_truth"))
    assert len(merged) == 24
    assert (merged["id"] == merged["id_truth"]).all()
    assert (merged["label"] == merged["label_truth"]).all() and (merged["domain"] == merged["domain_truth"]).all()
    np.testing.assert_array_equal(merged["Rein"], merged["Rein_truth"])  # -999 stays -999
    assert (index["zlens"] == 0.5).all()
    images = store.read(np.arange(len(store)))
    scan = scan_fits_tree(root)
    for k, obj in enumerate(scan.objects):
        assert index.loc[k, "stem"] == obj.stem
        assert images[k].tobytes() == read_object(obj).image.tobytes()
    assert store.rejected.empty


def test_bad_objects_are_rejected_not_fatal(tmp_path: Path, make_object: Callable[..., np.ndarray],
                                            caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "in"
    root.mkdir()
    images = {stem: make_object(root, stem, f"id-{k}", seed=k) for k, stem in enumerate(["a", "b", "c", "d", "e", "f"])}
    (root / "b_r.fits").write_bytes((root / "b_r.fits").read_bytes()[:4000])  # truncated
    (root / "c_i.fits").write_bytes(b"")  # zero length
    (root / "d_z.fits").write_bytes(np.random.default_rng(1).bytes(3000))  # garbage
    make_object(root, "e", "id-4", bands=("y",), image=np.full((5, 41, 41), np.nan, np.float32))  # NaN band
    make_object(root, "g", "id-0", seed=9)  # duplicate of a's ID
    make_object(root, "h", "id-h", bands=("g", "r"))  # incomplete
    (root / "README.txt").write_text("stray")
    with caplog.at_level(logging.WARNING, logger="brahmasifier.io.pack"):
        store = pack_fits(root, tmp_path / "store", workers=1, shard_size=3, progress=False)
    assert "2 stored objects share their ID" in caplog.text
    index = store.index.set_index("stem")
    assert sorted(index.index) == ["a", "e", "f", "g"]
    assert index.loc["e", "n_nan"] == 41 * 41 and index.loc["a", "n_nan"] == 0
    assert index["duplicate_id"].to_dict() == {"a": True, "e": False, "f": False, "g": True}
    assert store.read([list(index.index).index("a")])[0].tobytes() == images["a"].tobytes()
    e_image = store.read([list(index.index).index("e")])[0]
    assert (e_image[4] == 0).all() and e_image[:4].tobytes() == images["e"][:4].tobytes()

    rejected = store.rejected.set_index("stem")
    assert rejected.loc["b", "file"] == str(root / "b_r.fits") and "truncated" in rejected.loc["b", "reason"]
    assert rejected.loc["c", "file"] == str(root / "c_i.fits") and "empty file" in rejected.loc["c", "reason"]
    assert rejected.loc["d", "file"] == str(root / "d_z.fits") and "not a FITS file" in rejected.loc["d", "reason"]
    assert rejected.loc["h", "reason"] == "missing band(s) i,z,y"
    assert rejected.loc["", "reason"] == "unrecognised file name"
    # invariant: every object found is either stored or rejected
    n_found = store.manifest["n_found"]
    assert n_found == 8 == len(store) + int((store.rejected["stem"] != "").sum())
    assert store.manifest["n_duplicate_ids"] == 2 and store.manifest["n_with_nan"] == 1


def test_parameters_join_by_id_keeps_names_and_marks_missing(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    lenses, others = tmp_path / "lenses", tmp_path / "others"
    lenses.mkdir()
    others.mkdir()
    make_object(lenses, "D1_L0000001", "L1")
    make_object(lenses, "D1_L0000002", "L2")
    make_object(others, "D1_N0000001", 77)
    make_object(others, "D1_N0000002", 78)  # has no parameter row
    write_parameters_fits(lenses / "parameters.fits", pd.DataFrame(
        {"Lens ID": ["L1", "L2"], "vel disp": [250.0, -999.0], "mag_lens_g": [20.5, 21.0], "note": ["x", "y"]}))
    write_parameters_fits(others / "parameters.fits", pd.DataFrame({"Object ID": [77], "z central": [0.3], "mag_lens_g": [19.0]}))
    index = pack_fits(tmp_path, tmp_path.parent / "pstore", workers=1, progress=False).index.set_index("stem")
    # the old spelling "vel disp" is read under the store's one name for it, "vel_disp"
    assert {"vel_disp", "mag_lens_g", "z central", "note"} <= set(index.columns) and "vel disp" not in index.columns
    assert index.loc["D1_L0000001", "vel_disp"] == 250.0 and index.loc["D1_L0000002", "vel_disp"] == -999.0
    assert index.loc["D1_N0000001", "mag_lens_g"] == 19.0 and index.loc["D1_N0000001", "z central"] == 0.3
    assert np.isnan(index.loc["D1_N0000001", "vel_disp"])  # lens-only column: missing for non-lenses
    assert np.isnan(index.loc["D1_N0000002", "mag_lens_g"])  # no parameter row: NaN, not -999
    assert index.loc["D1_L0000001", "note"] == "x" and pd.isna(index.loc["D1_N0000002", "note"])


def test_parallel_pack_equals_serial_pack(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, _ = tiny_challenge_tree
    serial = pack_fits(root, tmp_path / "serial", workers=1, shard_size=7, progress=False)
    parallel = pack_fits(root, tmp_path / "parallel", workers=2, shard_size=7, progress=False)
    assert serial.read(np.arange(24)).tobytes() == parallel.read(np.arange(24)).tobytes()
    pd.testing.assert_frame_equal(serial.index, parallel.index)
    assert not (tmp_path / "parallel" / "_parts").exists()


def test_interrupted_pack_resumes_and_incomplete_store_is_refused(
    tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = tiny_challenge_tree
    out = tmp_path / "store"
    real_pack_chunk = pack_workers.pack_chunk
    packed: list[int] = []

    def failing(out_: Path, chunk: Chunk, report: Callable[[int], object]) -> None:
        if chunk.number == 2:
            raise OSError("disk full (simulated)")
        packed.append(chunk.number)
        real_pack_chunk(out_, chunk, report)

    monkeypatch.setattr(pack_workers, "pack_chunk", failing)
    with pytest.raises(OSError, match="simulated"):
        pack_fits(root, out, workers=1, shard_size=5, progress=False)
    assert packed == [0, 1]
    assert not (out / MANIFEST).exists()
    assert sorted(p.name for p in (out / "_parts").glob("part-*.parquet")) == ["part-00000.parquet", "part-00001.parquet"]
    with pytest.raises(StoreError, match="incomplete store"):
        open_store(out)

    # a stale part (fingerprint no longer matching) must be redone, not trusted
    stale = out / "_parts" / "part-00001.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(stale)
    meta = json.loads(table.schema.metadata[b"brahmasifier.pack"])
    meta["fingerprint"] = "0" * 64
    pq.write_table(table.replace_schema_metadata({b"brahmasifier.pack": json.dumps(meta).encode()}), stale)

    packed.clear()
    monkeypatch.setattr(pack_workers, "pack_chunk", lambda o, c, r: (packed.append(c.number), real_pack_chunk(o, c, r)))
    store = pack_fits(root, out, workers=1, shard_size=5, progress=False)
    assert packed == [1, 2, 3, 4]  # chunk 0 reused
    assert store.manifest["objects_packed_this_run"] == 19
    reference = pack_fits(root, tmp_path / "ref", workers=1, shard_size=5, progress=False)
    assert store.read(np.arange(24)).tobytes() == reference.read(np.arange(24)).tobytes()
    pd.testing.assert_frame_equal(store.index, reference.index)
    assert not (out / "_parts").exists()


def test_existing_store_identical_inputs_returned_else_refused(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_object(root, "a", "A")
    out = tmp_path / "store"
    first = pack_fits(root, out, workers=1, progress=False)
    manifest = (out / MANIFEST).read_text()
    again = pack_fits(root, out, workers=1, progress=False, shard_size=5)
    assert len(again) == 1 and (out / MANIFEST).read_text() == manifest  # untouched
    make_object(root, "b", "B")
    with pytest.raises(StoreError, match="different inputs"):
        pack_fits(root, out, workers=1, progress=False)
    rebuilt = pack_fits(root, out, workers=1, progress=False, overwrite=True)
    assert len(rebuilt) == 2 and len(first) == 1
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["images-00000.npy"]


def test_refuses_foreign_output_folder_and_bad_arguments(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_object(root, "a", "A")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="not a store"):
        pack_fits(root, foreign, workers=1, progress=False)
    with pytest.raises(ValueError, match="shard_size"):
        pack_fits(root, tmp_path / "s", shard_size=0, progress=False)


def test_all_objects_rejected_gives_empty_store(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_object(root, "a", "A")
    (root / "a_g.fits").write_bytes(b"")
    store = pack_fits(root, tmp_path / "store", workers=1, progress=False)
    assert len(store) == 0 and store.manifest["shards"] == [] and len(store.rejected) == 1
    assert store.read([]).shape == (0, len(BANDS), 41, 41)


def test_store_inside_an_input_root_is_not_read_as_input(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    make_object(tmp_path, "a", "A")
    first = pack_fits(tmp_path, tmp_path / "store", workers=1, progress=False)
    again = pack_fits(tmp_path, tmp_path / "store", workers=1, progress=False)  # identical inputs: no stray store files
    assert len(first) == len(again) == 1 and again.rejected.empty


def test_two_packs_into_one_store_are_refused(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    import fcntl

    root = tmp_path / "in"
    root.mkdir()
    make_object(root, "a", "A")
    lock = tmp_path / "store" / "_parts" / ".lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(StoreError, match="another `brahmasifier pack`"):
            pack_fits(root, tmp_path / "store", workers=1, progress=False)
    assert len(pack_fits(root, tmp_path / "store", workers=1, progress=False)) == 1


def test_unreadable_parameters_file_is_listed_not_fatal(tmp_path: Path, make_object: Callable[..., np.ndarray],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_object(root, "D1_L0000001", "A")
    (root / "parameters.fits").write_bytes(b"not fits at all")
    with caplog.at_level(logging.WARNING, logger="brahmasifier.io.parameters"):
        store = pack_fits(root, tmp_path / "store", workers=1, progress=False)
    assert len(store) == 1 and "parameters.fits" in caplog.text
    row = store.rejected.iloc[0]
    assert (row["stem"], row["file"]) == ("", str(root / "parameters.fits"))
    assert row["reason"].startswith("unreadable parameters table")


def test_chunk_round_trips_through_its_compact_worker_form(tmp_path: Path, make_object: Callable[..., np.ndarray]) -> None:
    import pickle

    (tmp_path / "a").mkdir()
    make_object(tmp_path / "a", "D1_L0000001", 1)
    make_object(tmp_path / "a", "n-2", 2)
    objects = scan_fits_tree(tmp_path).objects
    odd = ObjectFiles("odd", -1, "unknown", {b: tmp_path / f"x{b}.fits" for b in BANDS}, tmp_path / "a")
    chunk = Chunk(3, [*objects, odd])
    back = pack_workers.unpack_chunk(pickle.loads(pickle.dumps(pack_workers.pack_chunk_for_worker(chunk))))
    assert back == chunk


def test_pack_config_is_checked_once_and_packs_like_the_arguments(tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                                  tmp_path: Path) -> None:
    from brahmasifier.errors import ConfigError
    from brahmasifier.io.pack_config import PackConfig

    with pytest.raises(ConfigError, match=r"^shard_size must be positive, got 0; workers must be positive, got 0$"):
        PackConfig(roots=("x",), out="y", workers=0, shard_size=0)
    root, _ = tiny_challenge_tree
    config = PackConfig(roots=(root,), out=tmp_path / "a", workers=1, shard_size=10, progress=False)
    by_config = pack_fits(config)
    by_arguments = pack_fits(root, tmp_path / "b", workers=1, shard_size=10, progress=False)
    assert np.array_equal(by_config.read(range(len(by_config))), by_arguments.read(range(len(by_arguments))))
    assert by_config.manifest["shard_size"] == 10 and by_config.index["id"].tolist() == by_arguments.index["id"].tolist()
    with pytest.raises(TypeError, match="out is config.out"):
        pack_fits(config, tmp_path / "c")
