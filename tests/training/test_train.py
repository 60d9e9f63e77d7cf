"""train(): run-dir contents, exported model, fine-tuning, config, lr schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from brahmasifier.errors import ConfigError
from brahmasifier.hardware import resolve_precision
from brahmasifier.models import load_model, resolve_preset
from brahmasifier.training import TrainConfig, merge_settings, train
from brahmasifier.training.task import lr_factor

from .helpers import TINY_MODEL, tiny_store

pytestmark = pytest.mark.filterwarnings(
    # lightning 2.6 on torch 2.14 (Lightning's pytree helper, not our code)
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("train")
    tiny_store(tmp / "store", 160, n_unlabelled=4)
    config = TrainConfig(data=[str(tmp / "store")], out=str(tmp / "run"), model_kwargs=TINY_MODEL, epochs=2,
                         batch_size=16, lr=3e-3, checkpoint_every_steps=4, progress=False, seed=1)
    return tmp, config, train(config)


def test_run_directory_contract(trained_run) -> None:
    _, config, result = trained_run
    run = Path(config.out)
    assert result.model_dir == run / "model" and result.epochs_completed == 2
    assert result.global_step == 2 * math.ceil(144 / 16)  # 160 labelled, 16 val, 4 unlabelled excluded
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert len(list((run / "checkpoints").glob("epoch*-auc*.ckpt"))) == 2  # top-k
    assert (run / "logs" / "csv" / "metrics.csv").is_file() and list((run / "logs" / "tensorboard").glob("events.*"))
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["lr"] == 3e-3 and saved["precision"] in {"32-true", "bf16-mixed"} and saved["resume"] is False
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("val_auc", "val_accuracy", "val_precision", "val_recall", "threshold", "threshold_method", "temperature"):
        assert key in metrics
    assert metrics["val_auc"] > 0.9  # the ring is easy to learn
    assert metrics["data"]["n_unlabelled_excluded"] == 4


def test_exported_model_reproduces_val_predictions(trained_run) -> None:
    tmp, config, result = trained_run
    preds = pd.read_csv(Path(config.out) / "val_predictions.csv", dtype={"id": str})
    assert list(preds.columns) == ["id", "stem", "label", "domain", "logit", "logit_tta"] and len(preds) == 16
    model, card = load_model(config.out)
    assert card.training["val_auc"] == pytest.approx(result.metrics["val_auc"])
    assert card.threshold == pytest.approx(result.metrics["threshold"]) and card.temperature > 0
    from brahmasifier.io.store import open_store

    store = open_store(tmp / "store")
    rows = store.index.reset_index().set_index("id").loc[preds["id"], "index"].to_numpy()
    from brahmasifier.inference.tta import TTAModel

    with torch.no_grad():
        logits = model(torch.from_numpy(store.read(rows))).numpy()
        logits_tta = TTAModel(model, card.training["calibration_tta"])(torch.from_numpy(store.read(rows))).numpy()
    np.testing.assert_allclose(logits, preds["logit"].to_numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits_tta, preds["logit_tta"].to_numpy(), rtol=1e-4, atol=1e-4)
    assert card.training["calibration_tta"] == "flips" and not np.allclose(logits, logits_tta)


def test_temperature_and_threshold_are_fitted_on_the_tta_logits(trained_run) -> None:
    """Issue 22: calibration on the views predict averages (predict's default TTA), not on single-view logits."""
    from brahmasifier.training.export import choose_threshold, fit_temperature_or_none

    _, config, result = trained_run
    preds = pd.read_csv(Path(config.out) / "val_predictions.csv", dtype={"id": str})
    temperature, _ = fit_temperature_or_none(preds["logit_tta"].to_numpy(), preds["label"].to_numpy())
    assert result.metrics["temperature"] == pytest.approx(temperature, rel=1e-3)
    probs = 1 / (1 + np.exp(-preds["logit_tta"].to_numpy() / temperature))
    assert result.metrics["threshold"] == pytest.approx(choose_threshold(probs, preds["label"].to_numpy()), abs=1e-3)
    assert result.metrics["calibration_tta"] == "flips"


def test_init_from_fine_tunes_and_refuses_to_overwrite(trained_run) -> None:
    tmp, config, _ = trained_run
    with pytest.raises(FileExistsError, match="--resume"):
        train(config)
    tuned = train(TrainConfig(data=config.data, out=str(tmp / "tuned"), init_from=config.out, epochs=1, batch_size=32,
                              progress=False, limit_train_batches=2))
    _, card = load_model(tuned.model_dir)
    # the preset's kwargs (e.g. its activation) under the run's own, carried over from the source run
    assert card.model_kwargs == {**resolve_preset("compact")["model_kwargs"], **TINY_MODEL}
    assert card.training["init_from"] == config.out
    assert tuned.metrics["lr"] == 2e-3  # compact's default lr


def test_config_layers_and_unknown_keys() -> None:
    config = merge_settings({"epochs": 5, "lr": 1e-3}, {"epochs": 7})
    assert (config.epochs, config.lr) == (7, 1e-3)
    with pytest.raises(ValueError, match="unknown training settings"):
        merge_settings({"epoch": 5}, {})
    # training and prediction share one resolver: a precision given is kept where the device supports it;
    # fp16 autocast on a CPU is refused (prediction's answer) rather than left to Lightning to swap for bf16
    assert resolve_precision("16-mixed", "cuda") == "16-mixed" and resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert resolve_precision("32", "cpu") == "32-true"
    with pytest.raises(ConfigError, match="16-mixed.*GPUs"):
        resolve_precision("16-mixed", "cpu")


def test_lr_schedule_warmup_then_cosine() -> None:
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0)


def test_training_logs_the_same_validation_metrics_as_the_end_of_the_run(trained_run) -> None:
    """One definition (binary_metrics.validation_metrics) for the per-epoch log and metrics.json."""
    from brahmasifier.binary_metrics import validation_metrics

    _, config, result = trained_run
    run = Path(config.out)
    log = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    epochs = log.dropna(subset=["val_auc"]).set_index("epoch")
    best = epochs["val_auc"].idxmax()
    preds = pd.read_csv(run / "val_predictions.csv", dtype={"id": str})
    # the exported model is the best epoch's: its logged AUC is the end-of-run AUC of the same logits
    assert epochs.loc[best, "val_auc"] == pytest.approx(result.metrics["val_auc"], abs=1e-6)
    assert result.metrics["val_auc"] == pytest.approx(validation_metrics(preds["logit"], preds["label"])["auc"], abs=1e-12)
    plain = validation_metrics(preds["logit"], preds["label"], threshold=0.5)
    assert epochs.loc[best, "val_accuracy"] == pytest.approx(plain["accuracy"], abs=1e-6)
    assert result.metrics["at_threshold_0.5"]["accuracy"] == pytest.approx(plain["accuracy"])


def test_colour_residuals_train_a_wider_model_that_predicts(trained_run) -> None:
    """``--colour-residuals i``: the card keeps the band, the stem takes 9 channels, predict reads it like any model."""
    from brahmasifier.inference import PredictConfig, predict

    tmp, config, _ = trained_run
    run = train(TrainConfig(data=config.data, out=str(tmp / "colour"), model_kwargs=TINY_MODEL, epochs=1, batch_size=32,
                            colour_residuals="i", progress=False, limit_train_batches=2, seed=1))
    model, card = load_model(run.model_dir)
    assert card.normalization["colour_residuals"] == "i"
    assert next(p for p in model.backbone.parameters() if p.dim() == 4).shape[1] == 9  # 5 bands + 4 residuals
    probs = tmp / "colour_probs.csv"
    predict(PredictConfig(models=[str(run.model_dir)], data=config.data, out=str(tmp / "colour_sub.csv"),
                          probs_out=str(probs), progress=False))
    assert np.isfinite(pd.read_csv(probs)["logit"]).all()


@pytest.mark.parametrize(("change", "message"), [({"colour_residuals": "q"}, "one band of grizy"),
                                                 ({"colour_residuals": "i", "normalization": "per_image"}, "asinh_mad"),
                                                 ({"colour_residuals": "i", "init_from": "run"}, "init-from")])
def test_colour_residuals_refused_where_they_cannot_work(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(data=["store"], out="run", **change)
