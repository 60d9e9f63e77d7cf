"""``TrainConfig``: every setting of a training run, loadable from YAML and overridable.

Precedence (lowest first): dataclass defaults < ``--config FILE`` < the run's saved
``config.yaml`` (on ``--resume``) < explicit command-line options. The resolved config is
saved as ``RUN/config.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

from brahmasifier.errors import ConfigError
from brahmasifier.hardware import canonical_precision, check_devices
from brahmasifier.settings import checked_keys, read_settings_file

__all__ = ["LEGACY_KEYS", "SURVEY_AUGMENTATIONS", "TrainConfig", "check_max_time", "merge_settings", "read_config_file"]

#: ``aug_<name>`` settings → :class:`brahmasifier.data.augment.SurveyAugment` fields (a test keeps them in step).
SURVEY_AUGMENTATIONS: tuple[str, ...] = (
    "flux", "seeing", "shift", "sky", "noise", "rotate", "mask", "correlated_noise", "misregister", "misregister_negatives",
    "resample_bands", "repair_bands", "probability")
#: Old setting names still read (with a deprecation note) → their names now.
LEGACY_KEYS: dict[str, str] = {"model": "arch"}


def check_max_time(text: str) -> None:
    """Refuse a ``max_time`` that is not ``DD:HH:MM:SS`` with hours < 24 and minutes, seconds < 60."""
    fields = str(text).split(":")
    ok = len(fields) == 4 and all(f.isdigit() for f in fields)
    if ok:
        _, hours, minutes, seconds = (int(f) for f in fields)
        ok = hours < 24 and minutes < 60 and seconds < 60 and any(int(f) for f in fields)
    if not ok:
        raise ConfigError(f"max_time {text!r}: expected DD:HH:MM:SS (e.g. 00:12:00:00), hours < 24, minutes and "
                          "seconds < 60, not all zero")


@dataclass
class TrainConfig:
    """Settings of one training run (see ``brahmasifier train --help`` for each)."""

    data: list[str] = field(default_factory=list)
    out: str = ""
    # model
    arch: str = "compact"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    normalization: str | dict[str, Any] | None = None
    colour_residuals: str | None = None  # asinh_mad: colour-residual channels against this band (models/normalization.py)
    band_mapping: str | None = None
    pretrained_file: str | None = None
    init_from: str | None = None
    input_size: int | None = None
    # optimisation
    epochs: int = 30
    batch_size: int = 128
    lr: float | None = None
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    augment: bool = True
    # survey augmentation (brahmasifier.data.augment; strength 0 = off), applied after D4 with aug_probability each.
    # Shifts up to ±2 px and any-angle rotation are on by default (off before 2026-12-07): trained on 4,000 objects of
    # our engine, two seeds, TPR at FPR 1e-2 on a 6,000-object SLSim-engine set with ±2 px offsets 0.425 / 0.394 ->
    # 0.583 / 0.543, on its rotated, noise-correlated, masked and misregistered copies +0.10 to +0.21, on the same objects
    # centred 0.610 / 0.625 -> 0.632 / 0.606 (docs/survey-pixels.md §5, "The default trains for offsets and rotations").
    aug_flux: float = 0.0
    aug_seeing: float = 0.0
    aug_shift: float = 2.0
    aug_sky: float = 0.0
    aug_noise: float = 0.0
    aug_rotate: float = 180.0
    aug_mask: float = 0.0
    aug_correlated_noise: float = 0.0
    aug_misregister: float = 0.0
    aug_misregister_negatives: float = 0.0
    aug_resample_bands: float = 0.0
    aug_repair_bands: float = 0.0
    aug_probability: float = 0.5
    # lens-parameter regression (models/targets.py): None = classification only; "default" = every
    # challenge parameter; or comma-separated target names (e.g. "Rein,zlens,vel_disp")
    targets: str | None = None
    regression_weight: float = 1.0
    regression_beta: float = 0.5
    regression_hidden: int = 256
    # unsupervised domain adaptation (training/adaptation.py): DANN towards unlabelled data (labels in it ignored)
    adapt_to: list[str] | None = None
    adapt_weight: float = 1.0
    seed: int = 0
    val_fraction: float = 0.1
    # hardware
    precision: str = "auto"
    channels_last: bool = False
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    workers: int = 0
    threads: int | None = None
    # run control
    patience: int | None = 10
    top_k: int = 2
    max_time: str | None = None
    checkpoint_every_steps: int = 100
    limit_train_batches: float | int | None = None
    limit_val_batches: float | int | None = None
    cache_dir: str | None = None
    resume: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        """Normalise paths to strings and check the numbers."""
        if isinstance(self.data, (str, os.PathLike)):
            self.data = [str(self.data)]
        self.data = [str(p) for p in self.data]
        self.out = str(self.out)
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not (self.regression_weight >= 0 and 0 <= self.regression_beta <= 1 and self.regression_hidden >= 0):
            raise ConfigError(f"regression_weight must be >= 0, regression_beta in [0, 1] and regression_hidden >= 0 "
                              f"(got {self.regression_weight}, {self.regression_beta}, {self.regression_hidden})")
        if self.targets is not None:
            from brahmasifier.models.targets import select_targets

            select_targets(self.targets)  # a ConfigError naming an unknown target now, not after packing
            if self.aug_flux > 0:  # shifts and turns move the targets with the image (TargetSet.move_targets)
                raise ConfigError("aug_flux changes the magnitudes the lens-parameter regression learns and breaks "
                                  "their relation to zlens and vel_disp; use it without --targets (aug_shift, "
                                  "aug_rotate, aug_seeing, aug_sky, aug_noise work with --targets)")
        if self.colour_residuals is not None:
            from brahmasifier.models.card import normalization_problem

            problem = normalization_problem({"colour_residuals": self.colour_residuals})  # the cards' one rule
            if problem:
                raise ConfigError(problem)
            if self.init_from:
                raise ConfigError("colour_residuals widens the model's input; --init-from keeps the model it starts "
                                  "from (train from scratch, or start from a model trained with them)")
            name = self.normalization if isinstance(self.normalization, str) else (self.normalization or {}).get("name")
            if name not in (None, "asinh_mad"):
                raise ConfigError(f"colour_residuals is a parameter of the asinh_mad normalisation, not {name!r}")
        if self.input_size is not None and not 8 <= int(self.input_size) <= 1024:
            raise ConfigError(f"input_size must be in [8, 1024] pixels, got {self.input_size}")
        if not 0 <= int(self.seed) < 2**32:
            raise ConfigError(f"seed must be in [0, 2^32), got {self.seed}")
        self.precision = canonical_precision(self.precision)  # the one place a precision name is canonicalised
        check_devices(self.devices)
        if self.max_time is not None:
            check_max_time(self.max_time)
        if isinstance(self.adapt_to, (str, os.PathLike)):
            self.adapt_to = [str(self.adapt_to)]
        if self.adapt_to is not None:
            self.adapt_to = [str(p) for p in self.adapt_to] or None
        if not self.adapt_weight >= 0:
            raise ConfigError(f"adapt_weight must be >= 0, got {self.adapt_weight}")
        if self.adapt_to and self.targets is not None:
            raise ConfigError("--adapt-to trains the classifier only; it cannot be combined with --targets yet")
        for name, value in self.survey_augment().items():
            if not value >= 0 or (name == "probability" and value > 1):
                raise ConfigError(f"aug_{name} must be {'in [0, 1]' if name == 'probability' else '>= 0'}, got {value}")

    def check_complete(self) -> None:
        """Raise :class:`ConfigError` unless an output run directory and data are given."""
        if not self.out:
            raise ConfigError("training needs an output run directory (--out RUN_DIR)")
        if not self.data:
            raise ConfigError("training needs --data (a packed store or FITS roots)")

    def survey_augment(self) -> dict[str, float]:
        """The survey augmentation settings (:class:`brahmasifier.data.augment.SurveyAugment` fields)."""
        return {name: float(getattr(self, f"aug_{name}")) for name in SURVEY_AUGMENTATIONS}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON-serialisable)."""
        return asdict(self)

    def to_yaml(self) -> str:
        """YAML text of the config."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of all settings."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> TrainConfig:
        """Config from a dict, rejecting unknown keys (naming ``source``); legacy keys are renamed."""
        return cls(**_checked_keys(data, source))


def _checked_keys(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` with legacy keys renamed (one note each), or a :class:`ConfigError` naming unknown keys."""
    return checked_keys(data, source, TrainConfig.field_names(), what="training settings", aliases=LEGACY_KEYS)


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Settings from a YAML file (validated keys, not yet a config): :func:`brahmasifier.settings.read_settings_file`."""
    return read_settings_file(path, TrainConfig.field_names(), what="training settings", aliases=LEGACY_KEYS)


def merge_settings(*layers: dict[str, Any]) -> TrainConfig:
    """A config from layered settings dicts (later layers win)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return TrainConfig.from_dict(merged)
