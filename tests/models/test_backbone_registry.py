"""A backbone is one decorated builder in one file: this file registers a toy net, which trains, saves, loads, scores and exports.

Registration goes through the public API only (``register_backbone``), as a user's module would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from brahmasifier.cli import main
from brahmasifier.inference.onnx import OnnxLogits, export_onnx, graph_sources
from brahmasifier.models import load_model
from brahmasifier.models.backbones import (
    backbone_names,
    backbone_sources,
    create_backbone,
    default_input_size,
    default_lr,
    register_backbone,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
    "ignore:.*does not have many workers.*",
)


class ToyNet(nn.Module):
    """One 3×3 conv, ReLU, global mean, one linear logit."""

    def __init__(self, in_chans: int, num_classes: int = 1, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chans, width, 3, padding=1)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(-2, -1)))


@register_backbone("toy_registry_net", lr=5e-3)
def toy_registry_net(in_chans: int, num_classes: int = 1, **kwargs: Any) -> nn.Module:
    """A toy backbone registered by a test file."""
    return ToyNet(in_chans, num_classes, **kwargs)


def test_the_registry_entry_gives_the_defaults_and_the_sources() -> None:
    names = backbone_names()
    assert names[:2] == ("compact", "plain_cnn") and "toy_registry_net" in names
    assert default_lr("toy_registry_net") == 5e-3 and default_lr("compact") == 2e-3 and default_lr("plain_cnn") == 1e-3
    assert default_lr("resnet18") == 1e-3 and default_lr("resnet18", pretrained=True) == 1e-4  # timm: not registered
    assert default_input_size("toy_registry_net", {}) == 41
    assert backbone_sources("toy_registry_net") == (Path(__file__).resolve(),)
    assert {p.name for p in backbone_sources("plain_cnn")} == {"plain_cnn.py"}
    assert isinstance(create_backbone("toy_registry_net", 5, {"width": 3}), ToyNet)
    with pytest.raises(ValueError, match="already registered"):
        register_backbone("toy_registry_net", lr=1e-3)(lambda in_chans, num_classes=1: ToyNet(in_chans))


def test_a_registered_backbone_trains_saves_loads_predicts_and_exports(
        tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, truth = tiny_challenge_tree
    run, sub, probs = tmp_path / "run", tmp_path / "pred" / "submission.csv", tmp_path / "pred" / "probs.csv"
    assert main(["train", "--data", str(root), "--out", str(run), "--arch", "toy_registry_net",
                 "--model-kwargs", json.dumps({"width": 6}), "--epochs", "1", "--batch-size", "8",
                 "--val-fraction", "0.34", "--threads", "1", "--seed", "3", "--no-progress"]) == 0
    model, card = load_model(run)
    assert card.architecture == "toy_registry_net" and card.input_size == 41
    assert isinstance(model.backbone, ToyNet) and model.backbone.conv.out_channels == 6
    assert yaml.safe_load((run / "config.yaml").read_text())["lr"] == 5e-3  # the registry's learning rate (no --lr given)
    assert Path(__file__).resolve() in graph_sources(model)  # this file is in the ONNX cache key

    assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(sub), "--probs", str(probs),
                 "--onnx", "--no-progress"]) == 0
    table = pd.read_csv(probs, dtype={"id": str})
    assert len(table) == len(truth) and np.isfinite(table["logit"]).all()

    graph = export_onnx(model, tmp_path / "toy.onnx")
    x = torch.randn(3, 5, 41, 41) * 10
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(OnnxLogits(graph, threads=1)(x), expected, rtol=1e-4, atol=1e-4)
