"""``LensMultiTaskTask``: the Lightning task that trains the lens logit and the lens parameters together.

The network is :class:`~brahmasifier.models.regression.MultiTaskLensModel` (the classifier of
the card, its pooled features also feeding a :class:`~brahmasifier.models.regression.RegressionHead`),
built from a card whose ``regression`` entry holds the (unfitted) target spec and the head settings.

Contract:

- Truth comes from the store's index (``pack`` joins ``parameters.fits`` to it, one canonical name
  per parameter). In :meth:`LensMultiTaskTask.setup` the spec's standardisation is fitted on the
  training rows of the data module's split and every labelled row is encoded once
  (``TargetSet.encode``: -999, NaN and the other group's columns are masked); a batch looks its
  targets up by store row (``batch["index"]``). The fit is deterministic (same store, split,
  spec), so a resumed run refits the same values.
- Truth is checked first (:func:`check_truth`, issue 25): a target no training object has valid
  truth for is refused in one line (all -999, NaN, text, missing columns, IDs that join no
  image), one with fewer than :data:`MIN_TRUTH` is warned about, and every present but invalid
  value (outside :mod:`brahmasifier.ranges`) is listed in ``RUN/truth_rejected.csv``.
- Loss: :func:`~brahmasifier.training.losses.multitask_loss`, BCE + ``weight`` × masked β-NLL
  (masked entries enter neither the loss nor its gradient).
- Augmentation: the D4 element drawn for each image acts on its targets too
  (``TargetSet.d4_action``: a signed permutation of the standardised targets), so flips and
  quarter turns change ellipticity/shear components and source positions consistently; then the
  survey augmentations' shifts and any-angle turns (:class:`~brahmasifier.data.augment.AugmentGeometry`)
  move them (``TargetSet.move_targets``: positions shifted and turned, e/PA pairs turned by twice
  the angle). Seeing, sky, noise, correlated noise and masks leave every target as it is;
  ``misregister`` (zero-mean per-band turns), ``resample_bands`` (turned there and back) and
  ``repair_bands`` (turned, then back by the estimated angles) keep the targets' frame; flux scaling would change
  the magnitudes and break their relation to redshift and σ_v, so
  :class:`~brahmasifier.training.config.TrainConfig` refuses ``aug_flux`` with ``targets``.
- Validation logs ``val_auc`` (the checkpoint monitor, as for the classifier) and ``val_nll``.

The classifier task's hooks (optimiser, schedule, metrics) are reused unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from brahmasifier._atomic import atomic_path
from brahmasifier.d4 import D4_SIZE
from brahmasifier.data.augment import AugmentGeometry
from brahmasifier.data.transforms import random_d4
from brahmasifier.errors import DataProblem
from brahmasifier.models.card import ModelCard
from brahmasifier.models.regression import build_network
from brahmasifier.models.targets import GROUPS, LENS, NONLENS, TargetSet, truth_column
from brahmasifier.ranges import invalid_truth
from brahmasifier.training.losses import multitask_loss
from brahmasifier.training.task import LensClassificationTask

__all__ = ["MIN_TRUTH", "TRUTH_REJECTED", "LensMultiTaskTask", "check_truth", "d4_target_tables"]


#: Below this many training objects with truth, a target is trained with a warning (its estimates are weak).
MIN_TRUTH = 20
#: What ``train`` writes into the run folder: every present but invalid truth value, with the reason.
TRUTH_REJECTED = "truth_rejected.csv"


def check_truth(spec: TargetSet, index: pd.DataFrame, labels: np.ndarray, rows: np.ndarray,
                run_dir: str | os.PathLike[str] | None = None, announce: bool = True) -> list[str]:
    """Refuse targets without truth, warn about thin ones, list invalid truth (issue 25); returns the printed lines.

    ``spec`` is fitted on ``rows`` (its ``n_fit`` counts the training objects with valid truth per
    learned dimension). A target with none is refused (:class:`~brahmasifier.errors.DataProblem`
    naming it and the targets that do have truth); below :data:`MIN_TRUTH` a warning says how many;
    truth that is present but invalid (:func:`~brahmasifier.ranges.invalid_truth`) is
    masked and written to ``run_dir/truth_rejected.csv`` (``id, column, value, reason``).
    """
    train_labels = np.asarray(labels)[rows]
    counts = [(t, int(spec.n_fit[sl.start]), int((train_labels == GROUPS[t.group]).sum())) for t, sl in spec.target_slices()]
    group_word = {LENS: "lenses", NONLENS: "non-lenses"}
    none = [f"{t.name} (0 of {n_group} {group_word[t.group]})" for t, n, n_group in counts if n == 0]
    if none:
        have = [t.name for t, n, _ in counts if n > 0]
        raise DataProblem(f"regression: no training object has valid truth for {', '.join(none)}; the parameter "
                          "tables (parameters.fits) must join by ID with numbers in range. "
                          + (f"Train only those with truth: --targets {','.join(have)}" if have
                             else "No target has truth: train without --regress/--targets"))
    lines = ["regression truth (training split): " + ", ".join(f"{t.name} {n}/{g}" for t, n, g in counts)]
    thin = [f"{t.name} ({n})" for t, n, _ in counts if n < MIN_TRUTH]
    if thin:
        lines.append(f"warning: fewer than {MIN_TRUTH} training objects with truth for {', '.join(thin)}: "
                     "their estimates will be poor")
    invalid = []
    ids = index["id"].astype(str).to_numpy() if "id" in index else index.index.astype(str).to_numpy()
    for t in spec.targets:
        in_group = np.asarray(labels) == GROUPS[t.group]
        for column, aliases in zip(t.columns, t.aliases, strict=True):
            values = truth_column(index, aliases)
            found, found_reasons = invalid_truth(values, column)
            bad = found & in_group
            reasons = [r for r, keep in zip(found_reasons, in_group[found], strict=True) if keep]
            invalid.append(pd.DataFrame({"id": ids[bad], "column": column, "value": values[bad], "reason": reasons}))
    table = pd.concat(invalid, ignore_index=True) if invalid else pd.DataFrame()
    if len(table):
        where = ""
        if run_dir is not None:
            path = Path(run_dir) / TRUTH_REJECTED
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            where = f" (listed in {path})"
        per_column = table.groupby("column", sort=False).size()
        lines.append(f"warning: {len(table)} truth values are invalid and were not used{where}: "
                     + ", ".join(f"{c} {n}" for c, n in per_column.items()))
    if announce:
        for line in lines:
            print(line, file=sys.stderr)
    return lines


def d4_target_tables(spec: TargetSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Per D4 element the signed permutation of the standardised targets: ``perm`` (8, D) long, ``sign`` (8, D)."""
    actions = [spec.d4_action(e) for e in range(D4_SIZE)]
    return (torch.tensor(np.stack([a[0] for a in actions]), dtype=torch.long),
            torch.tensor(np.stack([a[1] for a in actions]), dtype=torch.float32))


class LensMultiTaskTask(LensClassificationTask):
    """Lens classifier + lens-parameter regression; ``card`` is a :class:`ModelCard` dict with ``regression``."""

    def __init__(self, card: dict[str, Any], regression_weight: float = 1.0, regression_beta: float = 0.5,
                 **kwargs: Any) -> None:
        self.spec: TargetSet | None = None  # set by configure_models (called by the base __init__), fitted in setup
        super().__init__(card, **kwargs)
        self.save_hyperparameters()
        self._targets = torch.zeros(0)
        self._mask = torch.zeros(0, dtype=torch.bool)

    def configure_models(self) -> None:
        """The multi-task network of the card (same seeded initialisation of the classifier part)."""
        card = ModelCard.from_dict(dict(self.hparams["card"]), source="training card")
        if card.regression is None:
            raise ValueError("LensMultiTaskTask needs a card with a 'regression' entry")
        self.spec = card.target_set()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.hparams["seed"]))
            self.model = build_network(card, pretrained_file=self._pretrained_file)  # type: ignore[assignment]
        if self.hparams["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        assert self.spec is not None
        self._perm, self._sign = d4_target_tables(self.spec)

    def setup(self, stage: str) -> None:
        """Fit the standardisation on the training rows and encode every row's targets (see module docstring)."""
        trainer: Any = self._trainer
        datamodule: Any = getattr(trainer, "datamodule", None)
        if datamodule is None or getattr(datamodule, "store", None) is None or self.spec is None:
            return
        index = datamodule.store.index
        labels = index["label"].to_numpy()
        rows = datamodule.train_rows
        self.spec = self.spec.fit(index.iloc[rows], labels[rows])
        check_truth(self.spec, index, labels, rows, getattr(trainer, "default_root_dir", None),
                    announce=int(getattr(trainer, "global_rank", 0)) == 0)
        targets, mask = self.spec.encode(index, labels)
        self._targets, self._mask = torch.from_numpy(targets), torch.from_numpy(mask)

    def _batch_targets(self, batch: dict[str, Any], elements: torch.Tensor | None,
                       geometry: AugmentGeometry | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor(batch["index"], dtype=torch.long).cpu()
        target, mask = self._targets[rows], self._mask[rows]
        if elements is not None:  # the image's D4 element acts on its targets (signed permutation)
            perm = self._perm[elements]
            target = torch.gather(target, 1, perm) * self._sign[elements]
            mask = torch.gather(mask, 1, perm)
        moved = geometry is not None and bool(geometry.shift.any() or geometry.rotation.any())
        if moved and self.spec is not None:  # then the survey augmentation's shift and turn (models/targets.py)
            assert geometry is not None
            values = self.spec.move_targets(target.numpy(), geometry.shift.numpy(), geometry.rotation.numpy(),
                                            self.survey_augment.pixel_scale)
            target = torch.from_numpy(np.where(mask.numpy(), values, 0.0)).to(target.dtype)
        return target.to(self.device), mask.to(self.device)

    def _outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.hparams["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        logits, mean, log_var = self.model(x)
        return logits.float(), mean.float(), log_var.float()

    def _augment_with_elements(self, x: torch.Tensor, negatives: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None, AugmentGeometry]:
        """As the classifier task's ``_augment`` (same generator and order), also returning the D4 elements and moves."""
        seed = hash((int(self.hparams["seed"]), int(self.global_step), int(self.global_rank))) & 0x7FFFFFFF
        generator = torch.Generator().manual_seed(seed)
        elements = None
        if self.hparams["augment"]:
            x, elements = random_d4(x, generator)
        x, geometry = self.survey_augment.apply_with_geometry(x, generator, negatives)
        return x, elements, geometry

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """One step: D4, then the survey augmentations on images, and their moves on targets; BCE + weighted masked β-NLL."""
        x, y = batch["image"], batch["label"].float()
        elements, geometry = None, None
        if self.hparams["augment"] or self.survey_augment.active:
            x, elements, geometry = self._augment_with_elements(x, y == 0)
        target, mask = self._batch_targets(batch, elements, geometry)
        logits, mean, log_var = self._outputs(x)
        loss, parts = multitask_loss(logits, y, mean, log_var, target, mask, weight=float(self.hparams["regression_weight"]),
                                     beta=float(self.hparams["regression_beta"]))
        self.train_accuracy(logits.detach(), y.long())
        size = x.shape[0]
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log_dict({"train_bce": parts["bce"], "train_nll": parts["nll"]}, on_step=False, on_epoch=True, batch_size=size)
        self.log("train_acc", self.train_accuracy, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """BCE and plain NLL (β = 0), and the logits kept for the epoch's AUC."""
        x, y = batch["image"], batch["label"].float()
        target, mask = self._batch_targets(batch, None)
        logits, mean, log_var = self._outputs(x)
        _, parts = multitask_loss(logits, y, mean, log_var, target, mask)
        self.val_logits.update(logits)
        self.val_labels.update(y)
        size = x.shape[0]
        self.log("val_loss", parts["bce"], prog_bar=True, on_epoch=True, sync_dist=True, batch_size=size)
        self.log("val_nll", parts["nll"], prog_bar=True, on_epoch=True, sync_dist=True, batch_size=size)
