"""Lightning callbacks of a training run that are ours (Lightning's own are configured in :mod:`brahmasifier.training.run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info

__all__ = ["DataSummaryReport"]


class DataSummaryReport(pl.Callback):
    """Once Lightning has set the data module up (after packing, on every rank): log interval and one summary line.

    The split only exists after :meth:`~brahmasifier.data.datamodule.LensDataModule.setup`,
    which Lightning runs inside ``fit``; the log interval is capped at one epoch's batches so
    that small data sets still log every epoch.
    """

    def __init__(self, description: str, lr: float, precision: str, run_dir: Path, batch_size: int) -> None:
        super().__init__()
        self.description, self.lr, self.precision, self.run_dir, self.batch_size = description, lr, precision, run_dir, batch_size

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Set ``trainer.log_every_n_steps`` and report the split (rank 0)."""
        summary: dict[str, Any] = getattr(trainer, "datamodule").summary  # noqa: B009 - set by Lightning in fit
        n_batches = max(1, -(-summary["n_train"] // self.batch_size))
        # Lightning sets this attribute in its logger connector and reads it when deciding to log;
        # the Trainer class does not declare it.
        trainer.log_every_n_steps = min(50, n_batches)  # type: ignore[attr-defined]
        rank_zero_info(f"training {self.description}: lr {self.lr:g}, precision {self.precision}, {summary['n_train']} train / "
                       f"{summary['n_val']} val objects -> {self.run_dir}")
