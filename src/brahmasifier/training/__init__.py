"""Training: the LightningModule, ``TrainConfig`` and the ``train`` API (run dir + exported model)."""

from brahmasifier.training.config import TrainConfig, merge_settings, read_config_file
from brahmasifier.training.run import RunResult, train

__all__ = ["RunResult", "TrainConfig", "merge_settings", "read_config_file", "train"]
