"""Issue 16, item 1: huge finite pixels (≥ 1e20, ±1e38 sentinels) are bad pixels, never a NaN probability.

The rule (``brahmasifier/pixels.py``): a pixel that is NaN, ±Inf or beyond ±PIXEL_LIMIT is set to 0
and counted in ``n_nan``, by the FITS reader, the store reader and the model's own normalisation;
an object the model still cannot score (a non-finite logit) is rejected with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.store import write_store
from brahmasifier.models import ModelCard, build_model, build_normalization
from brahmasifier.pixels import PIXEL_LIMIT

from .tiny import TINY_MODEL, cli, image, labelled_store, predict, read_csv_text, saved_model, write_blind, write_blind_object

SENTINELS = (1e38, -1e38, 1e20, 3e25)


def _hostile_blind(folder: Path) -> dict[str, int]:
    """3 good objects + one per sentinel value (one pixel each); returns the bad pixels per stem."""
    write_blind(folder, 3)
    bad = {}
    for k, value in enumerate(SENTINELS):
        pixels = image(50 + k)
        pixels[k % len(BANDS), 20, 20 - k] = value
        stem = f"object_{10 + k:05d}"
        write_blind_object(folder, stem, pixels)
        bad[stem] = 1
    return bad


def test_predict_scores_objects_with_sentinel_pixels_and_counts_them(tmp_path: Path) -> None:
    data = tmp_path / "blind"
    data.mkdir()
    bad = _hostile_blind(data)
    model = saved_model(tmp_path / "run")
    for engine in ("--onnx", "--no-onnx"):
        out = tmp_path / engine.strip("-")
        ran = predict(data, model, out, *([engine] if engine == "--no-onnx" else []))
        assert ran.rc == 0, ran.err
        probs = read_csv_text(out / "probs.csv")
        assert len(probs) == 7 and "" not in set(probs["prob"])
        values = probs["prob"].astype(float)
        assert np.isfinite(values).all() and values.between(0, 1).all()
        counted = dict(zip(probs["stem"], probs["n_nan"].astype(int), strict=True))
        assert all(counted[stem] == n for stem, n in bad.items()) and counted["object_00000"] == 0
        assert "RuntimeWarning" not in ran.err


def test_store_with_sentinels_reads_them_as_bad_pixels(tmp_path: Path) -> None:
    images = np.stack([image(k) for k in range(4)]).astype(np.float32)
    images[1, 0, 0, 0], images[2, 3, 5, 5], images[3, 4, 1, 1] = 1e38, -3e20, np.nan
    index = pd.DataFrame({"id": [f"o{k}" for k in range(4)], "stem": [f"o{k}" for k in range(4)], "label": -1,
                          "domain": "unknown", "n_nan": 0})
    store = write_store(tmp_path / "store", images, index)
    batch = store.read_batch([0, 1, 2, 3])
    assert np.abs(batch.images).max() < PIXEL_LIMIT and batch.n_nan.tolist() == [0, 1, 1, 1]
    ran = predict(tmp_path / "store", saved_model(tmp_path / "run"), tmp_path / "out")
    assert ran.rc == 0, ran.err
    probs = read_csv_text(tmp_path / "out" / "probs.csv")
    assert np.isfinite(probs["prob"].astype(float)).all() and probs["n_nan"].tolist() == ["0", "1", "1", "1"]


@pytest.mark.parametrize("name", ["asinh_mad", "per_image", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_normalisation_and_model_stay_finite_on_extreme_pixels(name: str, dtype: torch.dtype) -> None:
    x = torch.from_numpy(np.stack([image(k) for k in range(4)]).astype(np.float32))
    x[0, 0, 0, 0] = 3e38  # float32's largest values
    x[1, 2] = 0.0  # a blank band (MAD 0) with one bright pixel: asinh of ~1e21 noise units
    x[1, 2, 7, 7] = 9e14
    x[2, 1, 3, 3] = -1e20
    x[3] = 1e30  # every pixel a sentinel
    norm = build_normalization({"name": name})
    card = ModelCard(architecture="compact", model_kwargs=dict(TINY_MODEL), normalization={"name": name})
    model = build_model(card).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        assert torch.isfinite(norm(x)).all() and norm(x).dtype == torch.float32
        if name == "none" and dtype == torch.float16:
            return  # raw pixels beyond 65504 do not fit fp16: prediction rejects such objects (no finite score)
        assert torch.isfinite(model(x)).all()
    with torch.no_grad():  # the whole model in half precision ("16-true"/"bf16-true" training)
        assert torch.isfinite(model.to(dtype)(x.to(dtype))).all()


@pytest.mark.parametrize("name", ["asinh_onnx", "_asinh"])
def test_asinh_is_overflow_proof_and_exact(name: str) -> None:
    """The exported form and the eager one (``torch.asinh``) both: finite and exact to float32 on the whole range."""
    from brahmasifier.models import normalization

    v = torch.tensor([0.0, 1e-8, -0.5, 3.0, 1e3, -1e4, 2e4, 1e19, -1e30, 3.3e38], dtype=torch.float64)
    got = getattr(normalization, name)(v.float()).double()
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), np.arcsinh(v.numpy()), rtol=2e-7, atol=1e-12)


def test_training_on_a_store_with_sentinels_ends_with_a_model(tmp_path: Path) -> None:
    store = labelled_store(tmp_path / "store", n=64)
    images = np.load(store / "shards" / "images-00000.npy")
    images[::3, 1, 10, 10] = 1e38
    images[1::5, 0, 0, 0] = -1e25
    np.save(store / "shards" / "images-00000.npy", images)
    ran = cli("train", "--data", store, "--out", tmp_path / "run", "--epochs", "1", "--batch-size", "16",
              "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--val-fraction", "0.25", "--no-progress")
    assert ran.rc == 0, ran.err
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_a_non_finite_score_is_a_rejected_object_never_a_nan_probability(tmp_path: Path) -> None:
    from brahmasifier.inference.parts import Part, merge_parts, write_part

    frame = pd.DataFrame({"position": [0, 1, 2], "id": ["a", "b", "c"], "stem": ["a", "b", "c"], "n_nan": [0, 0, 0],
                          "error": ["", "", ""], "file": ["", "", ""], "logit": [0.5, np.nan, np.inf],
                          "logit_m": [0.5, np.nan, np.inf]})
    write_part(tmp_path / "parts", 0, frame)
    result = merge_parts(tmp_path / "parts", [Part(0, 0, 3)], ["logit_m"], 0.5, tmp_path / "s.csv", tmp_path / "p.csv",
                         pd.DataFrame(columns=["stem", "file", "reason"]))
    assert (result.n_found, result.n_scored, result.n_rejected) == (3, 1, 2)
    rejected = read_csv_text(tmp_path / "rejected.csv")
    assert set(rejected["stem"]) == {"b", "c"} and rejected["reason"].str.contains("no finite score").all()
    assert read_csv_text(tmp_path / "p.csv")["id"].tolist() == ["a"]


def test_pixel_limit_is_far_beyond_any_real_cutout() -> None:
    # mag -6 in one pixel at the challenge's nJy zero point (31.4): nothing in a lens search is this bright,
    # and float32 arithmetic on the model's normalisations stays finite below it (see pixels.py).
    assert 31.4 - 2.5 * np.log10(PIXEL_LIMIT) < -6
    x = np.full((1, len(BANDS), STAMP_SIZE, STAMP_SIZE), PIXEL_LIMIT, dtype=np.float32)
    assert np.isfinite(((x - (-x)) ** 2).sum(dtype=np.float32))
