"""Settings of ``brahmasifier check`` (and :func:`brahmasifier.shift.check.check_data`), checked once.

``brahmasifier check``'s options are generated from :class:`CheckConfig`
(``brahmasifier.commands.check.SETTINGS``) and ``--config FILE`` sets the same names;
``check_data`` makes one from its arguments, so the values are checked here only. Defaults:
``batch_size=256`` objects per read (a few MB of pixels: memory stays bounded whatever the
data's size), ``seed=0`` for the statistics' random sample. A reference is needed: ``model``
(its card's statistics) or ``against`` (a data set's); that is checked when the check runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from brahmasifier.settings import Problems

__all__ = ["CheckConfig"]


@dataclass(frozen=True)
class CheckConfig:
    """One ``check`` run: the data, the output folder, the reference, how to read."""

    data: tuple[str | os.PathLike[str], ...] = ()
    out: str | os.PathLike[str] = ""
    model: str | None = None
    against: Any = None
    batch_size: int = 256
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        problems = Problems("")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            problems.add(f"batch_size must be >= 1, got {self.batch_size}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            problems.add(f"seed must be >= 0, got {self.seed}")
        problems.check()

    def to_dict(self) -> dict[str, Any]:
        """Plain settings (paths as text)."""
        return {"data": [str(d) for d in self.data], "out": str(self.out), "model": self.model,
                "against": None if self.against is None else str(self.against), "batch_size": self.batch_size,
                "seed": self.seed, "progress": self.progress}
