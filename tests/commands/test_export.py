"""`brahmasifier export`: an ONNX file with a dynamic batch that reproduces PyTorch to 1e-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from brahmasifier.cli import main
from brahmasifier.inference.onnx import MIN_OPSET, OnnxLogits, export_onnx
from brahmasifier.inference.tta import TTAModel
from brahmasifier.models import ModelCard, build_model, load_model, save_model


def _saved_model(folder: Path, architecture: str = "compact", **kwargs: object) -> Path:
    card = ModelCard(architecture=architecture, model_kwargs=dict(kwargs))
    torch.manual_seed(5)
    model = build_model(card).eval()
    with torch.no_grad():
        for module in model.modules():  # non-trivial BatchNorm statistics, so they are tested too
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        head.weight.mul_(100.0)  # random-init logits barely vary otherwise
    return save_model(model, card, folder)


def _images(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, 41, 41, generator=generator) * 3 + torch.rand(n, 5, 1, 1, generator=generator) * 20


@pytest.mark.parametrize("tta", ["none", "d4"])
def test_export_command_matches_pytorch(tmp_path: Path, tta: str, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = _saved_model(tmp_path / "model", widths=[8, 16], depths=[1, 1])
    code = main(["export", "--model", str(model_dir), "--out", str(tmp_path / "m.onnx"), "--tta", tta])
    assert code == 0
    assert "max |ONNX - PyTorch|" in capsys.readouterr().out
    graph = onnx.load(str(tmp_path / "m.onnx"))
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= MIN_OPSET
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic (dynamic) batch axis
    model, _ = load_model(model_dir)
    session = OnnxLogits(tmp_path / "m.onnx", threads=1)
    for n in (1, 5):  # dynamic batch
        x = _images(n, seed=n)
        with torch.inference_mode():
            expected = TTAModel(model, tta)(x).numpy()
        got = session(x)
        assert got.shape == (n,)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert np.ptp(session(_images(6, 0))) > 1e-3  # outputs vary, so the comparison means something


def test_convnext_exports_within_tolerance(tmp_path: Path) -> None:
    """A timm backbone (LayerNorm, depthwise convs) exports and matches too."""
    model_dir = _saved_model(tmp_path / "cnx", "convnext_atto")
    model, _ = load_model(model_dir)
    path = export_onnx(model, tmp_path / "cnx.onnx")
    x = _images(3, seed=7)
    with torch.inference_mode():
        expected = model(x).numpy()
    np.testing.assert_allclose(OnnxLogits(path, threads=1)(x), expected, atol=1e-4, rtol=0)


def test_export_errors(tmp_path: Path) -> None:
    model_dir = _saved_model(tmp_path / "model", widths=[8], depths=[1])
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model_dir, tmp_path / "m.onnx", opset=13)
    assert not (tmp_path / "m.onnx").exists()
