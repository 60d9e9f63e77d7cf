"""``LensClassificationTask``: the LightningModule (torchgeo-style hooks) that trains a lens classifier.

The wrapped ``self.model`` is a :class:`~brahmasifier.models.LensClassifier` built from a
model card, so the network trained here is exactly the one exported and predicted with
(normalisation and resize included). Validation metrics are
:func:`brahmasifier.binary_metrics.validation_metrics` on the epoch's logits (gathered over
DDP ranks by torchmetrics), the same definition the end of the run and ``evaluate`` use.
Loss: BCE with logits. Optimiser: AdamW with cosine
annealing over all steps after an optional linear warm-up. Augmentation: a random D4
element per sample, then the survey augmentations that are on
(:class:`brahmasifier.data.augment.SurveyAugment`: flux, seeing, shifts, sky residuals, noise),
applied to the raw batch on its device before the model's normalisation, all drawn from one
generator seeded by ``(seed, global_step, rank)`` so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torchmetrics.aggregation import CatMetric
from torchmetrics.classification import BinaryAccuracy

from brahmasifier.binary_metrics import validation_metrics
from brahmasifier.data.augment import SurveyAugment
from brahmasifier.data.transforms import random_d4
from brahmasifier.errors import DataProblem
from brahmasifier.models.card import ModelCard
from brahmasifier.models.classifier import build_model

__all__ = ["LensClassificationTask", "lr_factor"]


class LensClassificationTask(pl.LightningModule):
    """Binary lens classifier; ``card`` is a :class:`ModelCard` dict (saved in the checkpoint)."""

    def __init__(
        self,
        card: dict[str, Any],
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_epochs: float = 0.0,
        augment: bool = True,
        survey_augment: dict[str, float] | None = None,
        channels_last: bool = False,
        seed: int = 0,
        pretrained_file: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self._pretrained_file = pretrained_file
        self._last_batch_time: float | None = None
        self.survey_augment = SurveyAugment.from_dict(survey_augment)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    # -- torchgeo-style hooks ---------------------------------------------------------------
    def configure_models(self) -> None:
        """Build ``self.model`` from the card (pretrained stem weights from a local file if given)."""
        card = ModelCard.from_dict(dict(self.hparams["card"]), source="training card")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.hparams["seed"]))
            self.model = build_model(card, pretrained_file=self._pretrained_file)
        if self.hparams["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)

    def configure_losses(self) -> None:
        """Binary cross-entropy on logits."""
        self.criterion = torch.nn.BCEWithLogitsLoss()

    def configure_metrics(self) -> None:
        """Validation logits and labels collected over the epoch (all ranks); training accuracy."""
        self.val_logits = CatMetric()
        self.val_labels = CatMetric()
        self.train_accuracy = BinaryAccuracy()

    # -- steps -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw ``(B, 5, 41, 41)`` → logits ``(B,)``."""
        if self.hparams["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def _augment(self, x: torch.Tensor, negatives: torch.Tensor | None = None) -> torch.Tensor:
        seed = hash((int(self.hparams["seed"]), int(self.global_step), int(self.global_rank))) & 0x7FFFFFFF
        generator = torch.Generator().manual_seed(seed)
        if self.hparams["augment"]:
            x = random_d4(x, generator)[0]
        return self.survey_augment.apply(x, generator, negatives)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Seed torch's generator (dropout) by (seed, step, rank): a resumed run draws what the uninterrupted one did."""
        torch.manual_seed(hash((int(self.hparams["seed"]), int(self.global_step), int(self.global_rank), 1)) & 0x7FFFFFFF)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """One optimisation step: augment, BCE loss, training accuracy and throughput."""
        x, y = batch["image"], batch["label"].float()
        if self.hparams["augment"] or self.survey_augment.active:
            x = self._augment(x, y == 0)
        logits = self(x)
        loss = self.criterion(logits.float(), y)
        self.train_accuracy(logits.detach().float(), y.long())
        size = x.shape[0]
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log("train_acc", self.train_accuracy, on_step=False, on_epoch=True, batch_size=size)
        now = time.perf_counter()
        if self._last_batch_time is not None:
            rate = size * self.trainer.world_size / max(now - self._last_batch_time, 1e-9)
            self.log("samples_per_s", rate, prog_bar=True, on_step=True, on_epoch=False, batch_size=size, rank_zero_only=True)
        self._last_batch_time = now
        return loss

    def on_train_epoch_start(self) -> None:
        """Restart the throughput clock (the first batch of an epoch waits for the loader)."""
        self._last_batch_time = None

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Loss, and the logits kept for the epoch's metrics."""
        x, y = batch["image"], batch["label"].float()
        logits = self(x).float()
        loss = self.criterion(logits, y)
        self.val_logits.update(logits)
        self.val_labels.update(y)
        self.log("val_loss", loss, prog_bar=True, on_epoch=True, sync_dist=True, batch_size=x.shape[0])

    def on_validation_epoch_end(self) -> None:
        """``val_auc``, ``val_accuracy``, ``val_precision``, ``val_recall`` (the shared definition, NaN if undefined)."""
        logits = self.val_logits.compute().detach().cpu().double().numpy()
        labels = self.val_labels.compute().detach().cpu().numpy()
        bad = int((~np.isfinite(logits)).sum())
        if bad:  # sklearn would stop the run with only "Input contains NaN."
            raise DataProblem(f"epoch {self.current_epoch}: {bad} of {logits.size} validation logits are NaN or infinite: "
                              "the training diverged; lower --lr (or check the data with `brahmasifier info`)")
        self.log_dict({f"val_{k}": v for k, v in validation_metrics(logits, labels).items()}, prog_bar=True)
        self.val_logits.reset()
        self.val_labels.reset()

    # -- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        """AdamW + per-step schedule: linear warm-up, then cosine annealing to 0 over all steps."""
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        max_epochs = max(int(self.trainer.max_epochs or 1), 1)
        warmup = min(round(self.hparams["warmup_epochs"] * total / max_epochs), total - 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Multiplier of the base lr at ``step``: linear warm-up over ``warmup`` steps, then cosine to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))

