"""open_or_pack: a store path is opened, a FITS tree packed once into the cache and reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import brahmasifier.io.store_input as store_input
from brahmasifier.errors import InputNotFoundError, StoreError
from brahmasifier.io.fits import write_band_fits
from brahmasifier.io.naming import band_filename
from brahmasifier.io.pack import pack_fits
from brahmasifier.io.store import write_store
from brahmasifier.io.store_input import is_store_input, open_or_pack


@pytest.fixture
def pack_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every call of the packer from open_or_pack (the real packer still runs)."""
    calls: list[Path] = []

    def counting(roots: list[Path], out: Path, **kwargs: object) -> object:
        calls.append(Path(out))
        return pack_fits(roots, out, **kwargs)

    monkeypatch.setattr(store_input, "pack_fits", counting)
    return calls


def _tree(root: Path, n: int) -> Path:
    rng = np.random.default_rng(n)
    for k in range(n):
        for band in "grizy":
            write_band_fits(root / band_filename(f"obj{k}", band), f"id{k}", band, rng.normal(size=(41, 41)).astype(np.float32))
    return root


def test_a_store_is_opened_not_packed(tmp_path: Path, pack_calls: list[Path]) -> None:
    index = pd.DataFrame({"id": ["a", "b"], "stem": ["a", "b"], "label": [0, 1], "domain": ["slsim"] * 2, "n_nan": [0, 0]})
    write_store(tmp_path / "s", np.zeros((2, 5, 41, 41), np.float32), index)
    assert is_store_input([tmp_path / "s"]) and is_store_input(tmp_path / "s")
    store = open_or_pack(tmp_path / "s", tmp_path / "cache", what="data")
    assert store.path == tmp_path / "s" and len(store) == 2
    assert pack_calls == [] and not (tmp_path / "cache").exists()


def test_a_fits_tree_is_packed_once_and_reused(tmp_path: Path, pack_calls: list[Path]) -> None:
    tree = _tree(tmp_path / "tree", 3)
    notes: list[str] = []
    first = open_or_pack([tree], tmp_path / "cache", what="data", workers=1, progress=False, reuse_packed=True,
                         note=notes.append)
    assert len(first) == 3 and first.path == tmp_path / "cache" and pack_calls == [tmp_path / "cache"]
    assert notes == [f"packing FITS roots {tree} into {tmp_path / 'cache'} (once; reused on rerun)"]
    _tree(tree, 4)  # the tree grows: training's policy reuses the packed cache without scanning again
    again = open_or_pack([tree], tmp_path / "cache", what="data", workers=1, progress=False, reuse_packed=True)
    assert len(again) == 3 and len(pack_calls) == 1


def test_without_reuse_the_packer_checks_the_cache(tmp_path: Path, pack_calls: list[Path]) -> None:
    tree = _tree(tmp_path / "tree", 3)
    first = open_or_pack(tree, tmp_path / "cache", what="hosts", workers=1, progress=False)
    again = open_or_pack(tree, tmp_path / "cache", what="hosts", workers=1, progress=False)
    assert len(pack_calls) == 2 and len(again) == len(first) == 3  # identical inputs: the packed store as it is
    _tree(tree, 4)
    with pytest.raises(StoreError, match="packed from different inputs"):
        open_or_pack(tree, tmp_path / "cache", what="hosts", workers=1, progress=False)


def test_missing_and_unfinished_inputs_are_refused(tmp_path: Path, pack_calls: list[Path]) -> None:
    with pytest.raises(InputNotFoundError, match=r"^hosts not found: .*nowhere \(a packed store or a FITS tree\)"):
        open_or_pack(tmp_path / "nowhere", tmp_path / "cache", what="hosts")
    (tmp_path / "half" / "_parts").mkdir(parents=True)  # an interrupted pack: a store, refused, never scanned as FITS
    with pytest.raises(StoreError, match="incomplete store"):
        open_or_pack(tmp_path / "half", tmp_path / "cache", what="data")
    assert pack_calls == []
