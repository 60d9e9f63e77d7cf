"""Lightning's console chatter, silenced in one place for training and prediction.

Lightning logs start-up lines on every ``Trainer`` ('GPU available: ...', 'TPU available: ...',
an advertisement for a cloud product) and warns about settings we choose on purpose. Both
commands keep the console for what matters to the user; the warnings ignored here are each
justified below, matched by message, and only inside the ``with`` block.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

__all__ = ["EXPECTED_LIGHTNING_WARNINGS", "quiet_lightning"]

#: Lightning warnings that our deliberate settings trigger, and why they are fine.
EXPECTED_LIGHTNING_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # workers=0 by default for training (batched memmap reads are faster than worker processes,
    # bench_train.py) and a reader thread for prediction on CPUs (bench_predict.py).
    (r".*does not have many workers.*", UserWarning),
    (r".*`predict_dataloader`.*num_workers.*", UserWarning),
    # tiny data in tests/demos: fewer batches than the logging interval.
    (r".*smaller than the logging interval.*", UserWarning),
    # a resumed run's checkpoint folder is not empty (it holds the checkpoints we resume from).
    (r".*Checkpoint directory .* exists and is not empty.*", UserWarning),
    # prediction batches carry their object positions themselves; no batch indices are needed.
    (r"Couldn't infer the batch indices fetched from your dataloader", UserWarning),
    # lightning 2.6 + torch >= 2.10: Lightning's pytree helper uses torch's deprecated LeafSpec (not ours to fix).
    (r".*isinstance\(treespec, LeafSpec\)` is deprecated.*", FutureWarning),
)

#: Loggers of Lightning's start-up lines (accelerator availability, distributed set-up).
_STARTUP_LOGGERS: tuple[str, ...] = (
    "lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
    "lightning.fabric.utilities.distributed", "lightning.pytorch",
)


class _DropLightningTips(logging.Filter):
    """Lightning advertises a cloud-logging product on every Trainer; it says nothing about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


@contextlib.contextmanager
def quiet_lightning(startup_lines: bool = True) -> Iterator[None]:
    """Inside the block: no Lightning tips, none of the expected warnings, and no start-up lines unless asked.

    Args:
        startup_lines: keep Lightning's informational start-up lines (training shows them, and
            our own ``rank_zero_info`` messages share their logger); prediction passes ``False``.
    """
    tips = _DropLightningTips()
    rank_zero = logging.getLogger(_STARTUP_LOGGERS[0])
    rank_zero.addFilter(tips)
    loggers = [] if startup_lines else [logging.getLogger(name) for name in _STARTUP_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for message, category in EXPECTED_LIGHTNING_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        rank_zero.removeFilter(tips)
