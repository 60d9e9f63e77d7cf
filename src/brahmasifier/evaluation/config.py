"""Settings of ``brahmasifier evaluate`` (and :func:`brahmasifier.evaluation.report.evaluate`), checked once.

``brahmasifier evaluate``'s setting options are generated from :class:`EvaluateConfig`
(``brahmasifier.commands.evaluate.SETTINGS``), ``--config FILE`` sets the same names, and
``evaluate()`` makes one from its arguments, so each value is checked here only. Defaults:

- ``threshold=None``, ``temperature=None``: the model card's (checked when the card is read),
  else 0.5 and no calibration plot's temperature.
- ``prevalence=1e-3``: the lens fraction at which purity is predicted (of order the lens rate
  of a wide survey's galaxies).
- ``bootstrap=200`` resamples for the 68% intervals (0: none), drawn from ``seed``.
- ``gallery_size=8`` cutouts per gallery section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from brahmasifier.settings import Problems

__all__ = ["EvaluateConfig"]


@dataclass(frozen=True)
class EvaluateConfig:
    """What ``evaluate`` computes (see the module docstring); bad values raise one ``ConfigError``."""

    threshold: float | None = None
    prevalence: float = 1e-3
    bootstrap: int = 200
    seed: int = 0
    temperature: float | None = None
    gallery_size: int = 8

    def __post_init__(self) -> None:
        problems = Problems("")
        if not 0 < self.prevalence < 1:
            problems.add(f"prevalence must be in (0, 1), got {self.prevalence}")
        if self.bootstrap < 0:
            problems.add(f"n_bootstrap must be >= 0, got {self.bootstrap}")
        if self.temperature is not None and not self.temperature > 0:
            problems.add(f"temperature must be > 0, got {self.temperature}")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            problems.add(f"threshold must be a probability in [0, 1], got {self.threshold}")
        if self.gallery_size < 0:
            problems.add(f"gallery size must be 0 or more, got {self.gallery_size}")
        problems.check()

    def to_dict(self) -> dict[str, Any]:
        """Plain settings."""
        return asdict(self)
