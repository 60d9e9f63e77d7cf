"""End-to-end prediction: ensemble rule, inputs (FITS/store), rejects, duplicates, resume, ONNX."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.inference.config import PredictConfig
from brahmasifier.inference.predictor import predict
from brahmasifier.inference.submission import SUBMISSION_COLUMNS, read_submission
from brahmasifier.inference.tta import TTAModel
from brahmasifier.io import read_object, scan_fits_tree
from brahmasifier.io.store import write_store
from brahmasifier.models import load_model
from brahmasifier.survey.checks import pixel_checks


def expected_logits(models: list[Path], tree: Path, tta: str) -> pd.DataFrame:
    """The ensemble rule computed directly: TTA mean logit per model, / T, mean over models.

    On the images ``predict`` scores: after its pixel checks with the band repair (on by default;
    the checks treat each object on its own, so one call over every object equals its batches).
    """
    objects = scan_fits_tree(tree).objects
    records = [read_object(o) for o in objects]
    checked, _ = pixel_checks(np.stack([r.image for r in records]), np.array([r.n_nan for r in records]), register=True)
    images = torch.from_numpy(checked)
    columns = {}
    with torch.inference_mode():
        for path in models:
            model, card = load_model(path)
            columns[f"logit_{path.name}"] = (TTAModel(model, tta)(images) / card.temperature).numpy().astype(np.float64)
    frame = pd.DataFrame({"id": [r.id for r in records], "stem": [r.stem for r in records], **columns})
    frame["logit"] = frame[list(columns)].mean(axis=1)
    return frame


@pytest.fixture(scope="module")
def baseline(tiny_challenge_tree: tuple[Path, pd.DataFrame], two_models: list[Path], tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted torch run over the FITS tree (reused by several tests)."""
    root, _ = tiny_challenge_tree
    out = tmp_path_factory.mktemp("baseline")
    summary = predict(PredictConfig(models=two_models, data=root, out=out / "submission.csv", probs_out=out / "probs.csv",
                                    tta="flips", onnx=False, progress=False, workers=0, batch_size=7, part_size=10,
                                    precision="32-true"))  # fp32 whatever the CPU (auto is bf16 where it has bf16 units)
    probs = pd.read_csv(out / "probs.csv", dtype={"id": str, "stem": str})
    return summary, probs, out


def test_fits_tree_prediction_follows_the_ensemble_rule(baseline, tiny_challenge_tree, two_models) -> None:
    summary, probs, out = baseline
    root, truth = tiny_challenge_tree
    assert (summary.n_found, summary.n_scored, summary.n_rejected) == (24, 24, 0)
    assert summary.parts_total == 3 and not (out / "submission.csv.parts").exists()
    expected = expected_logits(two_models, root, "flips").set_index("id").loc[probs["id"]]
    for column in ("logit", "logit_run_a", "logit_run_b"):
        np.testing.assert_allclose(probs[column], expected[column], rtol=1e-5, atol=1e-5)
    assert probs["logit"].std() > 1e-4  # 10x the tolerance above: a row mix-up would be caught
    np.testing.assert_allclose(probs["prob"], 1 / (1 + np.exp(-probs["logit"])), rtol=1e-12)
    assert sorted(probs["id"]) == sorted(truth["id"])  # IDs exactly as written (17-digit ints, GG-LENS_...)
    # auto threshold: the cards' thresholds are on calibrated probabilities, so mean of logit(t)
    t_logit = (math.log(0.4 / 0.6) + math.log(0.7 / 0.3)) / 2
    assert summary.threshold == pytest.approx(1 / (1 + math.exp(-t_logit)))
    submission = read_submission(out / "submission.csv")
    assert tuple(submission.columns) == SUBMISSION_COLUMNS
    assert submission["id"].tolist() == probs["id"].tolist()
    assert submission["preds"].tolist() == (probs["prob"] >= summary.threshold).astype(int).tolist()
    assert summary.n_positive == int(submission["preds"].sum())


def _tree_as_arrays(root: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The tree's objects as read by the FITS reader: images and a store index (labels unknown)."""
    records = [read_object(o) for o in scan_fits_tree(root).objects]
    index = pd.DataFrame({"id": [r.id for r in records], "stem": [r.stem for r in records], "label": -1,
                          "domain": "unknown", "n_nan": [r.n_nan for r in records]})
    return np.stack([r.image for r in records]), index


def test_store_input_gives_the_same_probabilities(baseline, tiny_challenge_tree, two_models, tmp_path) -> None:
    _, probs, _ = baseline
    images, index = _tree_as_arrays(tiny_challenge_tree[0])
    write_store(tmp_path / "store", images, index, shard_size=10)
    summary = predict(PredictConfig(models=two_models, data=tmp_path / "store", out=tmp_path / "s.csv",
                                    probs_out=tmp_path / "p.parquet", onnx=False, progress=False, workers=0, batch_size=5,
                                    part_size=8, threshold=0.5, precision="32-true"))
    from_store = pd.read_parquet(tmp_path / "p.parquet")
    assert summary.n_scored == 24 and summary.threshold == 0.5
    pd.testing.assert_frame_equal(from_store.reset_index(drop=True), probs, check_exact=False, rtol=1e-5, atol=1e-5)


def test_several_stores_are_scored_one_after_the_other(baseline, tiny_challenge_tree, two_models, tmp_path) -> None:
    """``predict --data A B``: every object of both stores, the same probabilities as from the FITS tree."""
    _, probs, _ = baseline
    images, index = _tree_as_arrays(tiny_challenge_tree[0])
    write_store(tmp_path / "a", images[:10], index.iloc[:10], shard_size=4)
    write_store(tmp_path / "b", images[10:], index.iloc[10:].reset_index(drop=True), shard_size=4)
    summary = predict(PredictConfig(models=two_models, data=[tmp_path / "a", tmp_path / "b"], out=tmp_path / "s.csv",
                                    probs_out=tmp_path / "p.parquet", onnx=False, progress=False, workers=0, batch_size=5,
                                    part_size=8, threshold=0.5, precision="32-true"))
    both = pd.read_parquet(tmp_path / "p.parquet").set_index("id").loc[probs["id"]].reset_index()
    assert summary.n_scored == 24 and summary.n_ids == 24
    pd.testing.assert_frame_equal(both, probs, check_exact=False, rtol=1e-5, atol=1e-5)


def test_unreadable_objects_are_rejected_not_fatal(tiny_challenge_tree, two_models, tmp_path) -> None:
    root, _ = tiny_challenge_tree
    tree = tmp_path / "tree"
    shutil.copytree(root, tree)
    (tree / "hsc_lenses" / "D2_L0000001_r.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)  # corrupt
    (tree / "slsim_nonlenses" / "D1_N0000002_y.fits").unlink()  # incomplete object
    (tree / "slsim_nonlenses" / "notes.txt").write_text("stray")
    summary = predict(PredictConfig(models=two_models[:1], data=tree, out=tmp_path / "out" / "s.csv", progress=False, workers=1,
                                    onnx=False, part_size=8))
    assert (summary.n_found, summary.n_scored, summary.n_rejected) == (24, 22, 2)
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str, keep_default_na=False)
    assert {"D2_L0000001", "D1_N0000002"} <= set(rejected["stem"])
    assert any("D2_L0000001_r.fits" in f for f in rejected["file"])
    assert len(read_submission(tmp_path / "out" / "s.csv")) == 22


def test_duplicate_ids_give_one_row_each(tiny_challenge_tree, two_models, tmp_path) -> None:
    root, _ = tiny_challenge_tree
    shutil.copytree(root / "hsc_lenses", tmp_path / "again" / "hsc_lenses")
    summary = predict(PredictConfig(models=two_models[:1], data=[root, tmp_path / "again"], out=tmp_path / "s.csv",
                                    probs_out=tmp_path / "p.csv", progress=False, workers=0, onnx=False))
    assert (summary.n_scored, summary.n_ids, summary.n_duplicate_ids, summary.n_duplicate_rows) == (30, 24, 6, 12)
    probs = pd.read_csv(tmp_path / "p.csv", dtype={"id": str, "stem": str})
    assert probs["id"].is_unique and len(read_submission(tmp_path / "s.csv")) == 24
    assert probs["stem"].str.contains(";").sum() == 6


def test_interrupted_run_resumes_to_the_same_result(baseline, tiny_challenge_tree, two_models, tmp_path) -> None:
    _, probs, base_out = baseline
    root, _ = tiny_challenge_tree
    kwargs = {"probs_out": tmp_path / "probs.csv", "tta": "flips", "onnx": False, "progress": False, "workers": 0,
              "batch_size": 7, "part_size": 10, "precision": "32-true"}
    first = predict(PredictConfig(models=two_models, data=root, out=tmp_path / "submission.csv", max_parts=2, **kwargs))
    assert not first.complete and first.parts_scored == 2
    assert not (tmp_path / "submission.csv").exists()
    assert len(list((tmp_path / "submission.csv.parts").glob("part-*.parquet"))) == 2
    second = predict(PredictConfig(models=two_models, data=root, out=tmp_path / "submission.csv", **kwargs))
    assert second.complete and (second.parts_reused, second.parts_scored) == (2, 1)
    assert (tmp_path / "submission.csv").read_bytes() == (base_out / "submission.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "probs.csv", dtype={"id": str, "stem": str}), probs)


def test_onnx_path_matches_torch(baseline, tiny_challenge_tree, two_models, tmp_path) -> None:
    _, probs, _ = baseline
    root, _ = tiny_challenge_tree
    summary = predict(PredictConfig(models=two_models, data=root, out=tmp_path / "s.csv", probs_out=tmp_path / "p.csv", onnx=True,
                                    progress=False, workers=0, batch_size=7, part_size=10))
    assert summary.engine == "onnx"
    onnx_probs = pd.read_csv(tmp_path / "p.csv", dtype={"id": str, "stem": str})
    assert onnx_probs["id"].tolist() == probs["id"].tolist()
    for column in ("logit", "logit_run_a", "logit_run_b"):
        np.testing.assert_allclose(onnx_probs[column], probs[column], atol=1e-4)


def test_argument_errors(tiny_challenge_tree, two_models, tmp_path) -> None:
    root, _ = tiny_challenge_tree
    with pytest.raises(ValueError, match="unknown TTA"):
        predict(PredictConfig(models=two_models, data=root, out=tmp_path / "s.csv", tta="rot", progress=False))
    with pytest.raises(ValueError, match="threshold"):
        predict(PredictConfig(models=two_models, data=root, out=tmp_path / "s.csv", threshold=1.5, progress=False))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        predict(PredictConfig(models=two_models, data=tmp_path / "nowhere", out=tmp_path / "s.csv", progress=False))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BRAHMASIFIER_TEST_DDP") == "0",
                    reason="BRAHMASIFIER_TEST_DDP=0: skip the 2-process DDP run (~30 s, two fresh interpreters)")
def test_two_process_ddp_matches_single_process(baseline, tiny_challenge_tree, two_models, tmp_path) -> None:
    _, probs, _ = baseline
    root, _ = tiny_challenge_tree
    cmd = [sys.executable, "-m", "brahmasifier", "predict", "--model", *map(str, two_models), "--data", str(root),
           "--out", str(tmp_path / "s.csv"), "--probs", str(tmp_path / "p.csv"), "--device", "cpu", "--devices", "2",
           "--no-onnx", "--precision", "32-true", "--workers", "0", "--batch-size", "7", "--part-size", "10", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "x2" in done.stdout and done.stdout.count("found 24 objects") == 1
    ddp = pd.read_csv(tmp_path / "p.csv", dtype={"id": str, "stem": str})
    pd.testing.assert_frame_equal(ddp, probs, check_exact=False, rtol=1e-5, atol=1e-6)


def test_ensemble_module_is_importable_and_applies_the_rule(two_models) -> None:
    """The Lightning module is a plain module-level class: TTA mean logit / T per model, mean over models."""
    from brahmasifier.inference.ensemble import load_models
    from brahmasifier.inference.lightning import EnsembleModule

    loaded = load_models(two_models)
    module = EnsembleModule(loaded, "flips", "32-true", "torch", channels_last=False, onnx_dir=Path("unused"))
    x = torch.randn(3, 5, 41, 41) * 3 + 10
    batch = {"image": x, "part": 0, "position": torch.arange(3), "n_nan": torch.zeros(3, dtype=torch.int32),
             "id": ["a", "b", "c"], "stem": ["a", "b", "c"], "error": [""] * 3, "file": [""] * 3}
    with torch.inference_mode():
        out = module.eval().predict_step(batch, 0)
        expected = torch.stack([TTAModel(m.module, "flips")(x) / m.temperature for m in loaded])
    np.testing.assert_allclose(out["model_logits"], expected.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["logit"], expected.mean(0).numpy(), rtol=1e-6, atol=1e-6)
    assert out["id"] == ["a", "b", "c"] and out["position"].tolist() == [0, 1, 2]
