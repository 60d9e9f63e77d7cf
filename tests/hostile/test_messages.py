"""Issue 16, "poor messages and states": each is one clear line (or the right state), through the real CLI."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .tiny import cli, labelled_store, predict, saved_model, write_blind


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_model(tmp_path_factory.mktemp("model") / "run")


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


# -- Ctrl-C while scoring or training: rc 130 and the one "interrupted; rerun" line ------------

def test_ctrl_c_while_predict_is_scoring(tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brahmasifier.inference.lightning import EnsembleModule

    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 2)
    monkeypatch.setattr(EnsembleModule, "predict_step", _interrupt)
    ran = predict(data, model, tmp_path / "out")
    assert ran.rc == 130 and "interrupted; rerun" in ran.err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works again afterwards


def test_ctrl_c_while_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brahmasifier.training.task import LensClassificationTask

    store = labelled_store(tmp_path / "store", n=32)
    monkeypatch.setattr(LensClassificationTask, "training_step", _interrupt)
    ran = cli("train", "--data", store, "--out", tmp_path / "run", "--epochs", "1", "--batch-size", "8",
              "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--val-fraction", "0.25", "--no-progress")
    assert ran.rc == 130 and "interrupted; rerun" in ran.err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
