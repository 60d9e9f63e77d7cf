"""``brahmasifier perturb`` on tiny data: store and FITS-tree input, truth columns, determinism, resuming; pack/info counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.survey.tiny import structured_object

from brahmasifier.cli import main
from brahmasifier.io.store import open_store, write_store
from brahmasifier.survey.transforms import TRUTH_COLUMNS


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    images = np.stack([structured_object(rng) for _ in range(7)])
    index = pd.DataFrame({"id": [f"x{k}" for k in range(7)], "stem": [f"x{k}" for k in range(7)], "label": [0, 1] * 3 + [1],
                          "domain": "slsim", "n_nan": 0})
    return write_store(tmp_path_factory.mktemp("tiny") / "store", images, index).path


def test_store_in_store_out_with_truth(tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["perturb", str(tiny_store), "--seed", "3", "--footprint", "rotated", "--misregister-fraction", "0.5",
            "--centre-offset", "2", "--resample", "lanczos3", "--mask", "strips", "--shard-size", "3", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "7 objects have masked pixels" in capsys.readouterr().out
    a, b_rc = open_store(tmp_path / "a"), main([*args, "--out", str(tmp_path / "b")])
    b = open_store(tmp_path / "b")
    assert b_rc == 0 and len(a) == 7 and len(a.manifest["shards"]) == 3
    assert np.array_equal(a.read(range(7)), b.read(range(7)), equal_nan=True)
    assert set(TRUTH_COLUMNS) <= set(a.index.columns)
    assert a.index["id"].tolist() == [f"x{k}" for k in range(7)] and a.index["label"].tolist() == [0, 1] * 3 + [1]
    assert (a.index["n_masked"] > 0).all() and a.manifest["perturb"]["seed"] == 3
    truth = a.index.iloc[2]
    assert truth["pert_footprint"] == "rotated" and truth["pert_kernel"] == "bilinear" and abs(truth["pert_offset_x"]) <= 2


def test_an_interrupted_run_resumes_the_same(tiny_store: Path, tmp_path: Path) -> None:
    args = ["perturb", str(tiny_store), "--seed", "4", "--footprint", "masked", "--shard-size", "3", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "full")]) == 0
    assert main([*args, "--out", str(tmp_path / "cut")]) == 0
    cut = tmp_path / "cut"
    (cut / "manifest.json").unlink()  # as if stopped before the end: shards and index stay, the run resumes over them
    assert main([*args, "--out", str(cut)]) == 0
    assert np.array_equal(open_store(cut).read(range(7)), open_store(tmp_path / "full").read(range(7)))
    assert main(["perturb", str(tiny_store), "--seed", "5", "--out", str(tmp_path / "full"), "--no-progress"]) == 2


def test_fits_tree_in_and_pack_info_counts(tiny_challenge_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree
    assert main(["perturb", str(root), "--out", str(tmp_path / "p"), "--footprint", "rotated", "--no-progress"]) == 0
    store = open_store(tmp_path / "p")
    assert len(store) == len(truth) and not (tmp_path / "p" / ".perturb_input").exists()
    assert sorted(store.index["id"]) == sorted(truth["id"])
    capsys.readouterr()
    assert main(["info", str(tmp_path / "p")]) == 0
    assert f"{len(truth)} objects have masked pixels" in capsys.readouterr().out
    assert main(["pack", str(root), "--out", str(tmp_path / "clean"), "--no-progress"]) == 0
    assert "no object has masked pixels" in capsys.readouterr().out


def test_a_crashed_run_keeps_its_finished_chunks(tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import brahmasifier.survey.run as run
    from brahmasifier.survey.transforms import PerturbConfig

    config = PerturbConfig(footprint="rotated", centre_offset=1.0)
    real, done = run._perturb_chunk, []

    def crash_on_third(*args, **kwargs):
        if args[2] == 2:
            raise RuntimeError("killed")
        done.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "_perturb_chunk", crash_on_third)
    with pytest.raises(RuntimeError, match="killed"):
        run.perturb_data(tiny_store, tmp_path / "out", config, seed=8, shard_size=3, progress=False)
    assert done == [0, 1] and not (tmp_path / "out" / "manifest.json").exists()
    monkeypatch.setattr(run, "_perturb_chunk", lambda *a, **k: (done.append(a[2]), real(*a, **k)))
    resumed = run.perturb_data(tiny_store, tmp_path / "out", config, seed=8, shard_size=3, progress=False)
    assert done == [0, 1, 2]  # only the missing chunk was made again
    fresh = run.perturb_data(tiny_store, tmp_path / "fresh", config, seed=8, shard_size=3, progress=False)
    assert np.array_equal(resumed.read(range(7)), fresh.read(range(7)))
    assert resumed.index.equals(fresh.index)


def test_options_are_perturbconfig_fields_and_a_file_sets_them(tiny_store: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import fields

    from brahmasifier.commands.perturb import SETTINGS
    from brahmasifier.survey.transforms import PerturbConfig

    assert sorted(o.setting for o in SETTINGS) == sorted(f.name for f in fields(PerturbConfig))
    settings = tmp_path / "p.yml"
    settings.write_text("footprint: masked\nmask: strips\nrotation_angle: random\nshard_size: 5\n")
    out = tmp_path / "f"
    assert main(["perturb", str(tiny_store), "--out", str(out), "--config", str(settings), "--mask", "circles",
                 "--no-progress"]) == 0
    perturb = open_store(out).manifest["perturb"]
    assert perturb["footprint"] == "masked" and perturb["mask"] == ["circles"] and perturb["shard_size"] == 5
    capsys.readouterr()
    assert main(["perturb", str(tiny_store), "--out", str(tmp_path / "g"), "--misregister-fraction", "2"]) == 2
    assert "misregister fraction 2.0 (expected 0..1)" in capsys.readouterr().err
    assert main(["perturb", str(tiny_store), "--out", str(tmp_path / "g"), "--misregister-groups", "gy,ri"]) == 2
    assert "misregister groups 'gy,ri'" in capsys.readouterr().err
    out = tmp_path / "groups"
    assert main(["perturb", str(tiny_store), "--out", str(out), "--misregister-fraction", "1", "--misregister-groups",
                 "gy,riz", "--no-progress"]) == 0
    index = open_store(out).index
    assert (index["pert_angle_g"] == index["pert_angle_y"]).all() and (index["pert_angle_r"] == index["pert_angle_z"]).all()
    assert open_store(out).manifest["perturb"]["misregister_groups"] == "gy,riz"
    with pytest.raises(SystemExit) as exc:  # still one smoothing at a time, refused by argparse
        main(["perturb", str(tiny_store), "--out", str(tmp_path / "h"), "--resample", "bilinear",
              "--noise-correlation", "0.1"])
    assert exc.value.code == 2


def test_several_stores_in_one_store_out(tiny_store: Path, tmp_path: Path) -> None:
    """``perturb A B``: both stores read as one (nothing copied), each object drawn as at its row of the union."""
    rng = np.random.default_rng(8)
    images = np.stack([structured_object(rng) for _ in range(4)])
    index = pd.DataFrame({"id": [f"y{k}" for k in range(4)], "stem": [f"y{k}" for k in range(4)], "label": [1, 0, 1, 0],
                          "domain": "hsc", "n_nan": 0})
    other = write_store(tmp_path / "other", images, index).path
    args = ["--seed", "6", "--centre-offset", "1.5", "--shard-size", "5", "--no-progress"]
    assert main(["perturb", str(tiny_store), str(other), "--out", str(tmp_path / "both"), *args]) == 0
    both = open_store(tmp_path / "both")
    assert len(both) == 11 and both.index["id"].tolist() == [f"x{k}" for k in range(7)] + [f"y{k}" for k in range(4)]
    assert both.index["source_store"].astype(str).tolist() == [str(tiny_store)] * 7 + [str(other)] * 4
    assert both.manifest["perturb"]["input"] == [str(tiny_store.resolve()), str(other.resolve())]
    assert both.manifest["perturb"]["input_kind"] == "store"
    assert main(["perturb", str(tiny_store), "--out", str(tmp_path / "first"), *args]) == 0
    first = open_store(tmp_path / "first")  # row k draws from (seed, k): the first store's objects are the same
    assert np.array_equal(both.read(range(7)), first.read(range(7)), equal_nan=True)
    assert both.index["pert_offset_x"].iloc[:7].tolist() == first.index["pert_offset_x"].tolist()


def test_nan_masks_are_counted_once(tiny_store: Path, tmp_path: Path) -> None:
    """NaN discs are stored as 0 and counted in the index's ``n_nan``; reading does not count them again."""
    assert main(["perturb", str(tiny_store), "--seed", "6", "--mask", "circles", "--out", str(tmp_path / "m"),
                 "--no-progress"]) == 0
    store = open_store(tmp_path / "m")
    batch = store.read_batch(np.arange(len(store)))
    assert (store.index["n_nan"] > 0).all() and not np.isnan(batch.images).any()
    assert batch.n_nan.tolist() == store.index["n_nan"].tolist()
