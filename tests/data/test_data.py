"""StoreDataset, D4 transforms, stratified split and the datamodule's data checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.data import D4_SIZE, DataProblem, StoreDataset, d4_apply, random_d4, stratified_split
from brahmasifier.data.datamodule import LensDataModule
from brahmasifier.data.split import UnbalancedDataWarning
from brahmasifier.io.store import write_store


def make_store(path: Path, labels: list[int], domains: list[str] | None = None, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = len(labels)
    images = rng.normal(size=(n, len(BANDS), STAMP_SIZE, STAMP_SIZE)).astype(np.float32)
    images[:, 0, 0, 0] = np.arange(n)  # tag each image with its row
    index = pd.DataFrame({"id": [f"id{k}" for k in range(n)], "stem": [f"s{k}" for k in range(n)], "label": labels,
                          "domain": domains or ["slsim"] * n, "n_nan": 0})
    return write_store(path, images, index)


def test_dataset_samples_and_batched_reads(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s", [0, 1, -1, 1, 0], ["slsim", "hsc", "unknown", "hsc", "slsim"])
    ds = StoreDataset(store, indices=[4, 1, 3])
    sample = ds[1]
    assert set(sample) == {"image", "label", "id", "domain", "index"}
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (5, 41, 41)
    assert (sample["label"], sample["id"], sample["domain"], sample["index"]) == (1.0, "id1", "hsc", 1)
    batch = ds.__getitems__([0, 2, 1])
    assert [s["index"] for s in batch] == [4, 3, 1]
    for s in batch:
        assert s["image"][0, 0, 0].item() == s["index"]
        torch.testing.assert_close(s["image"], torch.from_numpy(store.read([s["index"]])[0]))
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    first = next(iter(loader))
    assert first["image"].shape == (2, 5, 41, 41) and first["id"] == ["id4", "id1"]
    # the dataset pickles without the memmaps (workers re-open the store)
    import pickle

    assert all(m is None for m in pickle.loads(pickle.dumps(ds)).store._maps)


def test_d4_is_the_dihedral_group() -> None:
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    images = [d4_apply(x, e) for e in range(D4_SIZE)]
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8  # 8 distinct elements
    torch.testing.assert_close(d4_apply(x, 1), torch.rot90(x, 1, (-2, -1)))
    torch.testing.assert_close(d4_apply(x, 4), torch.flip(x, (-1,)))
    torch.testing.assert_close(d4_apply(d4_apply(x, 4), 4), x)
    with pytest.raises(ValueError):
        d4_apply(x, 8)


def test_random_d4_seeded_and_per_sample() -> None:
    x = torch.randn(64, 5, 41, 41)
    out1, el1 = random_d4(x, torch.Generator().manual_seed(5))
    out2, el2 = random_d4(x, torch.Generator().manual_seed(5))
    assert torch.equal(out1, out2) and torch.equal(el1, el2)
    assert len(set(el1.tolist())) > 4
    for k in range(64):
        torch.testing.assert_close(out1[k], d4_apply(x[k], int(el1[k])))


def test_stratified_split_by_label_and_domain() -> None:
    labels = np.array([0] * 60 + [1] * 20 + [0] * 10 + [1] * 10)
    domains = np.array(["slsim"] * 80 + ["hsc"] * 20)
    train, val = stratified_split(labels, domains, 0.1, seed=7)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    groups = pd.Series(list(zip(labels[val], domains[val], strict=True))).value_counts().to_dict()
    assert groups == {(0, "slsim"): 6, (1, "slsim"): 2, (0, "hsc"): 1, (1, "hsc"): 1}
    again = stratified_split(labels, domains, 0.1, seed=7)
    assert np.array_equal(val, again[1])
    assert not np.array_equal(val, stratified_split(labels, domains, 0.1, seed=8)[1])


def test_datamodule_excludes_unlabelled_and_splits(tmp_path: Path) -> None:
    labels = [0, 1] * 20 + [-1] * 5
    domains = (["slsim", "slsim", "hsc", "hsc"] * 10) + ["unknown"] * 5
    make_store(tmp_path / "s", labels, domains)
    dm = LensDataModule(tmp_path / "s", batch_size=8, val_fraction=0.2, seed=1, progress=False)
    dm.setup("fit")
    assert dm.summary["n_unlabelled_excluded"] == 5
    assert dm.summary["n_train"] + dm.summary["n_val"] == 40
    all_rows = np.concatenate([dm.train_rows, dm.val_rows])
    assert set(all_rows) == set(range(40))
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[0] == 8 and set(batch["label"].tolist()) <= {0.0, 1.0}


def test_datamodule_clear_errors(tmp_path: Path) -> None:
    make_store(tmp_path / "one", [1] * 20)
    with pytest.raises(DataProblem, match="only one class"):
        LensDataModule(tmp_path / "one", progress=False).setup()
    make_store(tmp_path / "tiny", [0, 1, 0, 1, 0])
    with pytest.raises(DataProblem, match="too little data"):
        LensDataModule(tmp_path / "tiny", progress=False).setup()
    make_store(tmp_path / "unbalanced", [0] * 95 + [1] * 5)
    with pytest.warns(UnbalancedDataWarning, match="very unbalanced.*Consider"):
        LensDataModule(tmp_path / "unbalanced", progress=False).setup()
    with pytest.raises(FileNotFoundError, match="not found"):
        LensDataModule([tmp_path / "missing"], cache_dir=tmp_path / "c", progress=False).prepare_data()


def test_store_reads_have_one_answer_for_non_finite_pixels(tmp_path: Path) -> None:
    """Training samples and prediction batches come from the store's one reader: NaN/Inf read as 0 in both."""
    from brahmasifier.inference.sources import StoreSource

    store = make_store(tmp_path / "s", [0, 1, 0, 1])
    images = store.read(np.arange(4))
    images[1, 2, 3, 4] = np.nan
    images[2, 0, 0, 1] = np.inf
    index = store.index.copy()
    store = write_store(tmp_path / "nan", images, index)
    expected = np.where(np.isfinite(images), images, 0).astype(np.float32)
    training = np.stack([s["image"].numpy() for s in StoreDataset(store).__getitems__([0, 1, 2, 3])])
    prediction = StoreSource(tmp_path / "nan").read_range(0, 4).images
    np.testing.assert_array_equal(training, expected)
    np.testing.assert_array_equal(prediction, expected)
    np.testing.assert_array_equal(StoreDataset(store)[1]["image"].numpy(), expected[1])


def test_prepare_data_packs_fits_roots_once_then_setup_opens_the_store(tiny_challenge_tree, tmp_path: Path) -> None:
    root, truth = tiny_challenge_tree
    dm = LensDataModule([root], cache_dir=tmp_path / "cache", val_fraction=0.2, progress=False)
    dm.prepare_data()
    manifest = (tmp_path / "cache" / "manifest.json").stat().st_mtime_ns
    dm.prepare_data()  # a second call (another node, a rerun) reuses the finished store
    assert (tmp_path / "cache" / "manifest.json").stat().st_mtime_ns == manifest
    dm.setup("fit")
    assert dm.summary["n_objects"] == len(truth) and dm.summary["store"] == str(tmp_path / "cache")


def test_an_unfinished_store_is_refused_not_scanned_as_fits(tmp_path: Path) -> None:
    from brahmasifier.errors import StoreError
    from brahmasifier.inference.sources import open_source

    make_store(tmp_path / "s", [0, 1, 0, 1])
    (tmp_path / "s" / "manifest.json").unlink()  # as if packing were interrupted
    for use in (lambda: open_source([tmp_path / "s"]), lambda: LensDataModule(tmp_path / "s", progress=False).setup()):
        with pytest.raises(StoreError, match="incomplete store"):
            use()


def test_datamodule_reads_several_stores_and_fits_roots_as_one(tiny_challenge_tree, tmp_path: Path) -> None:
    """Two stores and a FITS tree: the tree packed once into the cache, all three read as one (DataLoader workers too)."""
    from brahmasifier.io.store import StoreUnion

    root, truth = tiny_challenge_tree
    a = make_store(tmp_path / "a", [0, 1] * 10, seed=1)
    index = a.index.assign(id=[f"b{k}" for k in range(20)])
    b = write_store(tmp_path / "b", a.read(np.arange(20)) + 1.0, index)  # other pixels, other IDs
    dm = LensDataModule([a.path, root, b.path], cache_dir=tmp_path / "cache", batch_size=64, val_fraction=0.2, workers=1,
                        progress=False)
    assert dm.store_paths == [tmp_path / "cache", a.path, b.path]
    with pytest.raises(DataProblem, match="3 stores"):
        _ = dm.store_path
    dm.prepare_data()
    dm.setup("fit")
    assert isinstance(dm.store, StoreUnion) and len(dm.store) == len(truth) + 40
    per_store = {e["path"]: e for e in dm.summary["stores"]}
    assert [per_store[str(p)]["n_objects"] for p in dm.store_paths] == [len(truth), 20, 20]
    assert dm.summary["n_train"] + dm.summary["n_val"] == len(truth) + 40
    seen: dict[str, torch.Tensor] = {}
    for batch in dm.train_dataloader():  # through a worker process: the union pickles and reopens the shards
        seen.update(dict(zip(batch["id"], batch["image"], strict=True)))
    for k in range(20):  # every training object of a and b, with its own store's pixels
        for prefix, store in (("id", a), ("b", b)):
            if f"{prefix}{k}" in seen:
                torch.testing.assert_close(seen[f"{prefix}{k}"], torch.from_numpy(store.read([k])[0]))
    assert {i for i in seen if i.startswith("b")} and {i for i in seen if i.startswith("id")}
