"""The ONNX export cache: export once per (weights, card, TTA, code), reuse after, fall back when unwritable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import brahmasifier.inference.onnx as onnx_module
from brahmasifier.inference.onnx import OnnxLogits, cached_export, export_cache_key, onnx_cache_dir
from brahmasifier.inference.tta import TTAModel
from brahmasifier.models import ModelCard, build_model


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelCard(model_kwargs={"widths": [8, 16], "depths": [0, 1]})).eval()


def test_export_once_then_reuse(model: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAHMASIFIER_CACHE_DIR", str(tmp_path / "cache"))
    first = cached_export(model, "fp-a", "flips", tmp_path / "fallback", name="m")
    assert first.parent == onnx_cache_dir() == tmp_path / "cache" / "onnx"
    x = torch.randn(3, 5, 41, 41) + 5
    with torch.inference_mode():
        np.testing.assert_allclose(OnnxLogits(first, threads=1)(x), TTAModel(model, "flips")(x).numpy(), atol=1e-4)

    def no_export(*args: object, **kwargs: object) -> Path:
        raise AssertionError("exported again although the cache holds the file")

    monkeypatch.setattr(onnx_module, "export_onnx", no_export)
    assert cached_export(model, "fp-a", "flips", tmp_path / "fallback", name="m") == first
    assert not (tmp_path / "fallback").exists()


def test_key_depends_on_model_and_views() -> None:
    keys = {export_cache_key(fp, tta) for fp in ("fp-a", "fp-b") for tta in ("none", "flips", "d4")}
    assert len(keys) == 6
    assert export_cache_key("fp-a", "flips") == export_cache_key("fp-a", "flips")


def test_unwritable_cache_falls_back(model: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("BRAHMASIFIER_CACHE_DIR", str(blocker))
    path = cached_export(model, "fp-a", "none", tmp_path / "fallback", name="m")
    assert path.parent == tmp_path / "fallback" and path.is_file()
