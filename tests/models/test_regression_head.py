"""The feature path of every backbone, the regression head and the multi-task model."""

from __future__ import annotations

import pytest
import torch

from brahmasifier.models import ModelCard, build_model
from brahmasifier.models.regression import LOG_VAR_MAX, LOG_VAR_MIN, MultiTaskLensModel, RegressionHead

TINY_COMPACT = {"widths": [8, 16], "depths": [1, 1]}


def _x(n: int = 3) -> torch.Tensor:
    return torch.randn(n, 5, 41, 41, generator=torch.Generator().manual_seed(0)) * 3 + 10


@pytest.mark.parametrize(
    "card",
    [ModelCard(model_kwargs=TINY_COMPACT), ModelCard(architecture="resnet18"),
     ModelCard(architecture="vit_tiny_patch16_224", model_kwargs={"img_size": 44, "patch_size": 4, "depth": 2}, input_size=44)],
    ids=["compact", "resnet18", "vit"],
)
def test_logit_from_features_equals_forward(card: ModelCard) -> None:
    model = build_model(card).eval()
    x = _x()
    with torch.no_grad():
        features = model.features_prepared(model.prepare(x))
        assert features.shape == (3, model.num_features)
        torch.testing.assert_close(model.logit_from_features(features), model(x))


def test_compact_forward_is_unchanged_by_the_feature_interface() -> None:
    net = build_model(ModelCard(model_kwargs=TINY_COMPACT)).eval().backbone
    x = torch.randn(2, 5, 41, 41)
    with torch.no_grad():
        by_hand = net.head(net.drop(net.pool(net.stages(net.stem(x))).flatten(1)))
        torch.testing.assert_close(net(x), by_hand)
    assert net.get_classifier() is net.head


def test_multitask_model_shares_the_classifier_logit() -> None:
    torch.manual_seed(0)
    classifier = build_model(ModelCard(model_kwargs=TINY_COMPACT)).eval()
    model = MultiTaskLensModel(classifier, RegressionHead(classifier.num_features, 7, hidden=16)).eval()
    x = _x(4)
    with torch.no_grad():
        logits, mean, log_var = model(x)
        torch.testing.assert_close(logits, classifier(x))
    assert mean.shape == log_var.shape == (4, 7)
    assert torch.all(log_var >= LOG_VAR_MIN) and torch.all(log_var <= LOG_VAR_MAX)


def test_head_log_variance_is_smoothly_bounded() -> None:
    head = RegressionHead(4, 2, hidden=0)
    with torch.no_grad():
        head.net[-1].weight.zero_()
        head.net[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1e4]))
    with torch.no_grad():
        mean, log_var = head(torch.zeros(1, 4))
    assert float(log_var[0, 0]) == pytest.approx(0.0, abs=1e-5) and float(log_var[0, 1]) == pytest.approx(LOG_VAR_MAX)
    assert mean.shape == (1, 2)
