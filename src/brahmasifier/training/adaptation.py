"""Unsupervised domain adaptation during training: DANN towards unlabelled target data (``train --adapt-to``).

:class:`DomainAdversarialTask` is the classification task plus a **domain classifier** on the
embedding (the pooled backbone features, :mod:`brahmasifier.shift.embedding`) behind a
**gradient-reversal layer** (Ganin & Lempitsky 2015): the domain head learns to tell labelled
source batches from unlabelled target batches, while the reversed gradient pushes the backbone
towards features in which the two are alike. The reversal factor follows DANN's schedule
``λ(p) = w · (2 / (1 + exp(−10 p)) − 1)`` over training progress ``p ∈ [0, 1]`` (global step /
total steps), ``w`` = ``--adapt-weight``. Loss: BCE of the lens labels on the source batch +
BCE of the domain labels on source and target (the target's own labels are never read:
:func:`target_rows` takes every row of the target store, whatever its label column says).

Each step draws one target batch of the training batch size, rows chosen by a generator seeded
by ``(seed, global_step)``, so a resumed run draws the same target batches; both batches get the
same augmentation pass. Logged per epoch: ``domain_acc`` (the domain classifier's accuracy on
the training steps: 0.5 means the features no longer tell the domains apart), ``domain_loss``
and ``adapt_lambda``. Validation and model selection use the labelled source validation split
only. The domain head is part of the checkpoint (so ``--resume`` continues it) and not of the
exported model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics.classification import BinaryAccuracy

from brahmasifier.training.task import LensClassificationTask

__all__ = ["DomainAdversarialTask", "GradientReversal", "dann_lambda", "target_rows"]


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient times ``−λ`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lam: float) -> torch.Tensor:  # noqa: D102
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return -ctx.lam * grad, None


def dann_lambda(progress: float, weight: float) -> float:
    """DANN's reversal factor ``weight · (2 / (1 + exp(−10 p)) − 1)`` at progress ``p`` (clipped to [0, 1])."""
    p = min(max(float(progress), 0.0), 1.0)
    return float(weight) * (2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0)


def target_rows(store: Any) -> np.ndarray:
    """Every row of the unlabelled target store (labels are not looked at)."""
    return np.arange(len(store), dtype=np.int64)


class DomainAdversarialTask(LensClassificationTask):
    """:class:`LensClassificationTask` + a gradient-reversed domain classifier towards ``target_store``."""

    def __init__(self, card: dict[str, Any], target_store: str | list[str] = "", adapt_weight: float = 1.0,
                 domain_hidden: int = 64, **kwargs: Any) -> None:
        super().__init__(card, **kwargs)
        width = int(self.model.num_features)
        self.domain_head = nn.Sequential(nn.Linear(width, domain_hidden), nn.ReLU(), nn.Linear(domain_hidden, 1))
        self.domain_accuracy = BinaryAccuracy()
        self._target: Any = None
        self._target_rows = np.empty(0, dtype=np.int64)

    def setup(self, stage: str) -> None:
        """Open the target store(s), read as one, (read-only) on every rank."""
        from brahmasifier.errors import DataProblem
        from brahmasifier.io.store import open_stores

        if self._target is None:
            self._target = open_stores(self.hparams["target_store"])
            self._target_rows = target_rows(self._target)
            if len(self._target_rows) == 0:
                raise DataProblem(f"{self._target.name}: the --adapt-to data holds no object")

    def _target_batch(self, size: int, device: torch.device) -> torch.Tensor:
        seed = hash(("adapt", int(self.hparams["seed"]), int(self.global_step), int(self.global_rank))) & 0x7FFFFFFF
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(self._target_rows, size=size, replace=len(self._target_rows) < size))
        return torch.from_numpy(self._target.read_batch(rows).images).to(device)

    def _lambda(self) -> float:
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        return dann_lambda(self.global_step / total, float(self.hparams["adapt_weight"]))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """Source BCE + domain BCE through the gradient reversal (see module docstring)."""
        xs, y = batch["image"], batch["label"].float()
        n = xs.shape[0]
        x = torch.cat([xs, self._target_batch(n, xs.device).to(xs.dtype)])
        if self.hparams["augment"] or self.survey_augment.active:
            x = self._augment(x, torch.cat([y == 0, torch.zeros(len(x) - n, dtype=torch.bool, device=y.device)]))
        if self.hparams["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.model.features_prepared(self.model.prepare(x))
        logits = self.model.logit_from_features(features[:n]).float()
        loss = self.criterion(logits, y)
        lam = self._lambda()
        domain_logits = self.domain_head(GradientReversal.apply(features, lam)).reshape(-1).float()
        domain = torch.cat([torch.zeros(n, device=x.device), torch.ones(x.shape[0] - n, device=x.device)])
        domain_loss = nn.functional.binary_cross_entropy_with_logits(domain_logits, domain)
        self.train_accuracy(logits.detach(), y.long())
        self.domain_accuracy(domain_logits.detach(), domain.long())
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        self.log("train_acc", self.train_accuracy, on_step=False, on_epoch=True, batch_size=n)
        self.log("domain_loss", domain_loss, on_step=False, on_epoch=True, batch_size=x.shape[0])
        self.log("domain_acc", self.domain_accuracy, prog_bar=True, on_step=False, on_epoch=True, batch_size=x.shape[0])
        self.log("adapt_lambda", lam, on_step=False, on_epoch=True, batch_size=n)
        return loss + domain_loss


def resolve_target(adapt_to: list[str], data: list[str], cache_dir: Any, progress: bool = True) -> list[str]:
    """The target store folders of ``--adapt-to`` (FITS roots packed once into ``cache_dir``), refusing the training data itself.

    Labels in the target are never read, so a labelled target leaks nothing; the one refusal is a
    target that *is* the training data (the same folder): adapting to it is a no-op that looks like
    an adaptation. Overlap with a test set is the user's choice (transductive use; docs/data-shift.md).
    """
    from pathlib import Path

    from brahmasifier.data.datamodule import pack_if_needed
    from brahmasifier.errors import ConfigError

    same = sorted({str(t) for t in adapt_to for d in data if Path(t).resolve() == Path(d).resolve()})
    if same:
        raise ConfigError(f"--adapt-to {', '.join(same)} is the training data itself; adapt to other (unlabelled) data")
    return [str(p) for p in pack_if_needed(adapt_to, cache_dir, progress=progress)]


__all__ += ["resolve_target"]
