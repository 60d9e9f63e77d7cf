"""``PredictConfig``: every setting of a prediction run, like :class:`~brahmasifier.training.TrainConfig` for training.

``brahmasifier predict`` generates its options from these fields (defaults shown from here),
and :func:`brahmasifier.inference.predict` takes one config. Invalid values are refused when
the config is made, with a :class:`~brahmasifier.errors.ConfigError` naming the setting.
"""

from __future__ import annotations

import math
import os
from dataclasses import InitVar, asdict, dataclass, field, fields
from typing import Any

from brahmasifier._deprecation import note_deprecated
from brahmasifier.bands import BANDS, band_groups
from brahmasifier.errors import ConfigError
from brahmasifier.hardware import PRECISIONS, canonical_precision, check_devices
from brahmasifier.inference.tta_views import TTA_ELEMENTS as _TTA_REGISTRY
from brahmasifier.survey.checks import AUTO_GROUPS, NO_GROUPS

__all__ = ["DEFAULT_PART_SIZE", "TTA_ELEMENTS", "PredictConfig"]

#: Objects per resumable part file.
DEFAULT_PART_SIZE: int = 8192

#: The ``tta`` settings: the registry of view sets (:mod:`.tta_views`, elements of D4), so a view set
#: registered there is a valid setting. Here, not in :mod:`.tta`, so that parsing options needs no torch.
TTA_ELEMENTS: dict[str, tuple[int, ...]] = _TTA_REGISTRY

PathLike = str | os.PathLike[str]


def _paths(value: Any) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        return [str(value)]
    return [str(p) for p in value]


@dataclass
class PredictConfig:
    """Settings of one prediction run (see ``brahmasifier predict --help`` for each)."""

    models: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    out: str = ""
    probs_out: str | None = None
    # what is computed
    tta: str = "flips"
    threshold: str | float = "auto"
    # on by default since it was measured (docs/survey-pixels.md §3, "On by default"): clean sets ±0.006 in TPR at
    # FPR 1e-2, misregistered sets +0.41 / +0.52 (30,000-object models without / with colour residuals)
    register_bands: bool = True
    # with register_bands, also repair the unflagged objects whose registration score reaches this (None: flagged
    # objects only; 0: every object, measured in docs/survey-pixels.md §3: the blind set's two-group form 0.476 ->
    # 0.819 in TPR at FPR 1e-2, clean -0.012; 0.1: +0.02 on per-band circle-cut sets, -0.01 on aligned rotated ones)
    repair_score: float | None = None
    # bands known to turn together ("gy,riz"; "none" or "" each band alone): one registration angle per group, measured
    # in docs/survey-pixels.md §3 ("Bands known to turn together"); "auto": the groups a sample of the input's flagged
    # objects turn in (survey.checks.GroupSample; none on aligned data or bands turned each on its own)
    band_groups: str = AUTO_GROUPS
    # hardware
    batch_size: int = 256
    workers: int | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    precision: str = "auto"
    onnx: bool | None = None
    channels_last: bool | None = None
    # run control
    part_size: int = DEFAULT_PART_SIZE
    max_parts: int | None = None
    resume: bool = True
    keep_parts: bool = False
    progress: bool = True
    device: InitVar[str | None] = None  # the old name of ``accelerator`` (deprecated; not a field)

    def __post_init__(self, device: str | None) -> None:
        """Normalise paths to strings, precision names to the one vocabulary; check the numbers (the one check)."""
        if device is not None:
            note_deprecated("PredictConfig(device=...)", "accelerator=", what="argument")
            self.accelerator = device
        self.models = _paths(self.models)
        self.data = _paths(self.data)
        self.out = str(self.out)
        self.probs_out = None if self.probs_out is None else str(self.probs_out)
        if self.tta not in TTA_ELEMENTS:
            raise ConfigError(f"unknown TTA mode {self.tta!r}; expected one of {', '.join(TTA_ELEMENTS)}")
        if self.threshold != "auto":
            try:
                value = float(self.threshold)
            except (TypeError, ValueError):
                value = float("nan")
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"threshold must be 'auto' or a probability in [0, 1], got {self.threshold!r}")
            self.threshold = value
        self.precision = canonical_precision(self.precision)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; expected one of {', '.join(PRECISIONS)}")
        for name in ("batch_size", "part_size", "num_nodes"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.repair_score is not None and not (math.isfinite(float(self.repair_score)) and self.repair_score >= 0):
            raise ConfigError(f"repair_score must be a finite number >= 0 (or None: flagged objects only), "
                              f"got {self.repair_score!r}")
        if self.band_groups not in ("", AUTO_GROUPS, NO_GROUPS):
            try:
                groups = band_groups(self.band_groups)
            except ValueError as err:
                raise ConfigError(str(err)) from None
            if len(groups) in (1, len(BANDS)):  # nothing turned against anything, or the per-band estimate itself
                raise ConfigError(f"band groups {self.band_groups!r}: give two to {len(BANDS) - 1} groups (e.g. 'gy,riz'); "
                                  f"for one angle per band give --band-groups {NO_GROUPS}")
        if self.max_parts is not None and self.max_parts < 1:
            raise ConfigError(f"max_parts must be >= 1, got {self.max_parts}")
        check_devices(self.devices)
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")

    def check_complete(self) -> None:
        """Raise :class:`ConfigError` unless models, data and an output are given."""
        if not self.models:
            raise ConfigError("no models given: pass at least one run dir or model folder (--model RUN_OR_MODEL)")
        if not self.data:
            raise ConfigError("no data given: pass at least one FITS folder or packed store (--data)")
        if not self.out:
            raise ConfigError("no output given: pass the submission CSV to write (--out)")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of all settings."""
        return [f.name for f in fields(cls)]
