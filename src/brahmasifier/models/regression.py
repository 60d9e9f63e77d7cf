"""A heteroscedastic regression head and the multi-task model (lens logit + parameter Gaussians).

:class:`RegressionHead` maps a backbone's pooled feature vector ``(B, F)`` to a mean and a
log-variance per learned dimension ``(B, D)`` each (the dimensions of a
:class:`~brahmasifier.models.targets.TargetSet`): a small MLP, so the parameters get some
capacity of their own on top of the features the lens logit uses.
:class:`MultiTaskLensModel` wraps a :class:`~brahmasifier.models.LensClassifier` and a head;
its logit is exactly the classifier's (same features, same final layer), so a model without a
head is the classifier unchanged, with the same ONNX graph.

:func:`build_network` builds what a card describes: the classifier alone, or (a card with
``regression``) the classifier with a head of ``TargetSet.n_dims`` outputs and the card's
``regression["head"]`` settings (``hidden``, ``dropout``).

The log-variance is bounded smoothly to ``[LOG_VAR_MIN, LOG_VAR_MAX]`` (in standardised units:
σ from 0.007 to 20 standard deviations of the training targets), which keeps the Gaussian NLL
finite early in training without the dead gradient of a hard clamp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from brahmasifier.models.card import ModelCard
from brahmasifier.models.classifier import LensClassifier, build_model

__all__ = ["DEFAULT_HIDDEN", "LOG_VAR_MAX", "LOG_VAR_MIN", "MultiTaskLensModel", "RegressionHead", "build_network",
           "regression_card_entry"]

LOG_VAR_MIN = -10.0
LOG_VAR_MAX = 6.0
#: Hidden width of the head (the baseline experiment's; 256 measured no worse than wider heads there).
DEFAULT_HIDDEN = 256


class RegressionHead(nn.Module):
    """Features ``(B, F)`` → ``(mean, log_var)``, each ``(B, n_dims)``.

    Args:
        in_features: width of the backbone's pooled features.
        n_dims: learned dimensions (``TargetSet.n_dims``).
        hidden: width of the hidden layer (0: a single linear layer).
        dropout: dropout before the output layer.
    """

    def __init__(self, in_features: int, n_dims: int, hidden: int = 256, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_dims = int(n_dims)
        layers: list[nn.Module] = []
        width = int(in_features)
        if hidden > 0:
            layers += [nn.Linear(width, int(hidden)), nn.GELU()]
            width = int(hidden)
        layers += [nn.Dropout(dropout), nn.Linear(width, 2 * self.n_dims)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and bounded log-variance per learned dimension."""
        out = self.net(features)
        mean, raw = out[:, : self.n_dims], out[:, self.n_dims :]
        span = LOG_VAR_MAX - LOG_VAR_MIN
        log_var = LOG_VAR_MIN + span * torch.sigmoid(4.0 * raw / span + _SIGMOID_OFFSET)
        return mean, log_var


#: Offset so that a raw output of 0 gives log-variance 0 (σ = 1 training standard deviation).
_SIGMOID_OFFSET = float(torch.logit(torch.tensor(-LOG_VAR_MIN / (LOG_VAR_MAX - LOG_VAR_MIN))))


class MultiTaskLensModel(nn.Module):
    """Raw ``(B, 5, 41, 41)`` → ``(logits (B,), mean (B, D), log_var (B, D))``.

    ``classifier.prepare`` (bands + normalisation) is shared, so test-time augmentation can
    prepare once and run :meth:`score_prepared` per view, as for the classifier.
    """

    view_invariant_prepare: bool = True

    def __init__(self, classifier: LensClassifier, head: RegressionHead) -> None:
        super().__init__()
        self.classifier = classifier
        self.head = head

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Raw pixels → normalised input (the classifier's)."""
        return self.classifier.prepare(x)

    def score_prepared(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prepared images → logits, means and log-variances."""
        features = self.classifier.features_prepared(x)
        mean, log_var = self.head(features)
        return self.classifier.logit_from_features(features), mean, log_var

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw pixels → logits ``(B,)``, means ``(B, D)``, log-variances ``(B, D)`` (standardised units)."""
        return self.score_prepared(self.prepare(x))


def regression_card_entry(targets: Any, hidden: int = DEFAULT_HIDDEN, dropout: float = 0.0,
                          **extra: Any) -> dict[str, Any]:
    """The card's ``regression`` field for a :class:`~brahmasifier.models.targets.TargetSet` and head settings.

    ``extra`` keys (e.g. how the σ recalibration was fitted) are stored alongside.
    """
    return {"targets": targets.to_dict(), "head": {"hidden": int(hidden), "dropout": float(dropout)}, **extra}


def build_network(card: ModelCard, pretrained_file: str | Path | None = None) -> LensClassifier | MultiTaskLensModel:
    """The network a card describes: the classifier, or the multi-task model when the card has ``regression``."""
    classifier = build_model(card, pretrained_file=pretrained_file)
    spec = card.target_set()
    if spec is None:
        return classifier
    head = dict((card.regression or {}).get("head", {}))
    return MultiTaskLensModel(classifier, RegressionHead(classifier.num_features, spec.n_dims,
                                                         hidden=int(head.get("hidden", DEFAULT_HIDDEN)),
                                                         dropout=float(head.get("dropout", 0.0))))
