"""Data statistics in the model card; `check` flags a constructed shift, not a clean draw; predict's OOD score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.io.store import write_store
from brahmasifier.models import load_model
from brahmasifier.models.card import ModelCard
from brahmasifier.shift.compare import compare, verdict_line
from brahmasifier.shift.embedding import EmbeddingDensity
from brahmasifier.shift.record import StatsCollector
from brahmasifier.training import TrainConfig, train

TINY_MODEL = {"widths": [8, 16], "depths": [0, 1]}


def blob(rng: np.random.Generator, lens: bool) -> np.ndarray:
    """A toy cutout: a central blob (+ a ring in g, r for lenses) and white noise of σ = 1 (tests/training/helpers.py)."""
    y, x = np.mgrid[:41, :41] - 20
    r = np.hypot(x, y)
    core = 50.0 * np.exp(-0.5 * (r / 2.5) ** 2)
    ring = 15.0 * np.exp(-0.5 * ((r - 7.0) / 1.2) ** 2) if lens else 0.0
    return np.stack([core + ring * (b < 2) + rng.normal(0, 1, r.shape) for b in range(5)]).astype(np.float32)

pytestmark = pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")


def blob_store(path: Path, n: int, seed: int, shift: str = "") -> Path:
    rng = np.random.default_rng(seed)
    labels = [k % 2 for k in range(n)]
    images = np.stack([blob(rng, label == 1) for label in labels])
    if shift == "noise2x":
        images += rng.normal(0.0, np.sqrt(3.0), images.shape).astype(np.float32)
    elif shift == "masked":  # corners outside the inscribed circle filled with 0 (a rotated footprint)
        y, x = np.mgrid[:41, :41] - 20
        images[:, :, np.hypot(x, y) > 20.5] = 0.0
    index = pd.DataFrame({"id": [f"o{seed}_{k}" for k in range(n)], "stem": [f"D1_{seed}_{k}" for k in range(n)],
                          "label": labels, "domain": "slsim", "n_nan": 0})
    write_store(path, images, index)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("shift")
    return {"ref": blob_store(tmp / "ref", 240, 1), "clean": blob_store(tmp / "clean", 240, 2),
            "noise2x": blob_store(tmp / "noise2x", 240, 3, "noise2x"), "masked": blob_store(tmp / "masked", 240, 4, "masked")}


@pytest.fixture(scope="module")
def trained(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("shift_run") / "run"
    train(TrainConfig(data=[str(stores["ref"])], out=str(run), model_kwargs=TINY_MODEL, epochs=1, batch_size=32,
                      val_fraction=0.5, progress=False, seed=3))
    return run


def test_check_against_flags_doubled_noise_and_masked_corners_not_a_clean_draw(stores, tmp_path, capsys) -> None:
    verdicts = {}
    for name in ("clean", "noise2x", "masked"):
        out = tmp_path / name
        assert main(["check", str(stores[name]), "--against", str(stores["ref"]), "--out", str(out), "--no-progress"]) == 0
        printed = capsys.readouterr().out
        report = json.loads((out / "check.json").read_text())
        verdicts[name] = report["verdict"]
        assert f"verdict: {report['verdict']}" in printed
        scores = pd.read_csv(out / "check_scores.csv")
        assert len(scores) == 240 and scores["error"].isna().all()
        assert (out / "check.png").stat().st_size > 10_000
        assert not scores["misregistered"].any() and report["registration"]["n_misregistered"] == 0  # round blobs
        assert "registration: 0 objects flagged misregistered" in printed
    assert verdicts["clean"] == "looks like the training data"
    assert verdicts["noise2x"].startswith("differs in: noise σ") and "×2.0" in verdicts["noise2x"]
    assert "masked pixels" in verdicts["masked"] and "noise σ" not in verdicts["masked"]


def test_card_records_statistics_and_reloads_them(trained: Path) -> None:
    model, card = load_model(trained)
    stats = card.data_statistics
    assert stats is not None and set(stats) >= {"pixels", "embedding", "how"}
    assert stats["pixels"]["n_objects"] == 240
    sigma = stats["pixels"]["columns"]["sigma_g"]
    assert sigma["mean"] == pytest.approx(1.0, rel=0.05)  # the blobs' white noise has σ = 1
    assert stats["pixels"]["columns"]["masked"]["mean"] == 0.0
    density = EmbeddingDensity.from_dict(stats["embedding"])
    assert density.mean.size == model.num_features and density.n_fit == 60
    again = ModelCard.read(trained / "model" / "model.json")
    assert again.to_dict() == card.to_dict()


def test_check_with_model_and_a_card_without_statistics(trained: Path, stores, tmp_path, capsys) -> None:
    assert main(["check", str(stores["noise2x"]), "--model", str(trained), "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "c" / "check.json").read_text())
    assert report["verdict"].startswith("differs in: noise σ")
    scores = pd.read_csv(tmp_path / "c" / "check_scores.csv")
    assert np.isfinite(scores["ood_score"]).all() and set(scores["ood_beyond_p99"]) <= {0, 1}
    # an old card (no statistics) still loads; check says it has none
    old = tmp_path / "old"
    old.mkdir()
    data = json.loads((trained / "model" / "model.json").read_text())
    del data["data_statistics"]
    (old / "model.json").write_text(json.dumps(data))
    (old / "model.safetensors").write_bytes((trained / "model" / "model.safetensors").read_bytes())
    assert load_model(old)[1].data_statistics is None
    capsys.readouterr()
    assert main(["check", str(stores["clean"]), "--model", str(old), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "has no training-data statistics" in capsys.readouterr().err


def test_predict_writes_the_ood_score_and_the_verdict_line(trained: Path, stores, tmp_path, capsys) -> None:
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(trained), "--data", str(stores["clean"]), "--out", str(out / "sub.csv"),
                 "--probs", str(out / "probs.csv"), "--no-progress", "--workers", "0", "--precision", "32-true",
                 "--no-onnx"]) == 0
    assert "data shift (run's embedding):" in capsys.readouterr().out
    probs = pd.read_csv(out / "probs.csv")
    assert np.isfinite(probs["ood_score"]).all()
    # the hooked score of the forward pass equals a separate embedding pass (TTA flips: the unchanged view first;
    # float32, as bf16 autocast moves the score by a few per cent)
    import torch

    from brahmasifier.io.store import open_store
    from brahmasifier.shift.embedding import embed

    model, card = load_model(trained)
    x = torch.from_numpy(open_store(stores["clean"]).read(np.arange(8)))
    density = EmbeddingDensity.from_dict(card.data_statistics["embedding"])
    expected = density.distance(embed(model, x).numpy())
    np.testing.assert_allclose(probs["ood_score"].to_numpy()[:8], expected, rtol=1e-4)


def test_compare_needs_both_a_distance_and_an_effect() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (200, 5, 41, 41)).astype(np.float32)
    ref, new = StatsCollector(rng), StatsCollector(rng)
    ref.add(images)
    new.add(images * 1.05)  # σ ×1.05: every object differs (KS ~1) but by less than the 15% limit
    findings = compare(ref.summary(), new.summary(), new.sample.rows)
    sigma = next(f for f in findings if f.statistic == "sigma_r")
    assert sigma.distance > 0.5 and sigma.effect == pytest.approx(1.05, rel=0.01) and not sigma.flagged
    assert verdict_line(findings) == "looks like the training data"


def test_check_names_the_groups_misregistered_bands_turn_in(stores, tmp_path, capsys) -> None:
    """60 objects with g and y turned against r, i, z: check flags them and names the groups, as predict would."""
    from tests.survey.tiny import structured_object

    from brahmasifier.survey.transforms import rotate_bands

    rng = np.random.default_rng(8)
    turned = np.stack([rotate_bands(structured_object(rng), np.array([a, 0.0, 0.0, 0.0, a]))
                       for a in rng.choice([-1, 1], 60) * rng.uniform(15.0, 30.0, 60)])
    index = pd.DataFrame({"id": [f"t{k}" for k in range(60)], "stem": [f"t{k}" for k in range(60)], "label": -1,
                          "domain": "unknown", "n_nan": 0})
    data = write_store(tmp_path / "turned", turned, index).path
    assert main(["check", str(data), "--against", str(stores["ref"]), "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "c" / "check.json").read_text())["registration"]
    scores = pd.read_csv(tmp_path / "c" / "check_scores.csv")
    assert report["n_misregistered"] == int(scores["misregistered"].sum()) >= 50
    assert report["suggested_groups"] == "gy,riz" and "--band-groups gy,riz" in printed
