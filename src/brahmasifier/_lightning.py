"""Lightning's console chatter, silenced in one place for training and prediction; Ctrl-C given back.

Lightning logs start-up lines on every ``Trainer`` ('GPU available: ...', 'TPU available: ...',
an advertisement for a cloud product) and warns about settings we choose on purpose. Both
commands keep the console for what matters to the user; the warnings ignored here are each
justified below, matched by message, and only inside the ``with`` block.

Lightning turns a Ctrl-C inside ``fit``/``predict`` into ``sys.exit(1)`` after ignoring SIGINT
(its "graceful shutdown"), so the command line would end with rc 1 and no word.
:func:`interrupt_as_keyboard_interrupt` turns that exit back into ``KeyboardInterrupt`` (and
restores the SIGINT handler), so :func:`brahmasifier.cli.main` prints its one
"interrupted; rerun …" line with rc 130 for every command alike.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["EXPECTED_LIGHTNING_WARNINGS", "interrupt_as_keyboard_interrupt", "quiet_lightning"]

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


@contextlib.contextmanager
def interrupt_as_keyboard_interrupt(trainer: Any) -> Iterator[None]:
    """Around ``trainer.fit``/``trainer.predict``: a Ctrl-C reaches the caller as ``KeyboardInterrupt``.

    Args:
        trainer: the ``lightning.pytorch.Trainer`` whose loop runs inside the block.
    """
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SystemExit:
        if not getattr(trainer, "interrupted", False):
            raise
        if threading.current_thread() is threading.main_thread() and handler is not None:
            signal.signal(signal.SIGINT, handler)  # Lightning set SIG_IGN for its shutdown
        raise KeyboardInterrupt from None
