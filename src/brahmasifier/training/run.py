"""``train(config) -> RunResult``: one training run from data to an exported model.

Run directory layout::

    config.yaml            resolved settings (lr, precision... filled in)
    checkpoints/           top-k by val AUC + last.ckpt (also written every N steps mid-epoch)
    logs/csv/ logs/tensorboard/
    metrics.json           val AUC/accuracy/precision/recall, threshold (+ how), temperature
                           (+ ``regression``: validation coverage and σ factors, for a ``targets`` run)
    val_predictions.csv    id,stem,label,domain,logit (best checkpoint)
    model/                 model.safetensors + model.json (best checkpoint, via save_model)

With ``config.targets`` the run trains the multi-task model
(:class:`~brahmasifier.training.multitask.LensMultiTaskTask`); the card then carries the fitted
and recalibrated target spec (``regression``).

Resume (``config.resume``) continues from ``checkpoints/last.ckpt`` with Lightning's own
``ckpt_path`` mechanism (our own run dir, so the full training state is restored; the file is
read with ``weights_only=True``). Only global rank 0 writes files other than Lightning's own.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from brahmasifier._atomic import write_text_atomic
from brahmasifier._lightning import interrupt_as_keyboard_interrupt, quiet_lightning
from brahmasifier._outputs import check_output_folder
from brahmasifier.errors import ConfigError, OutputExistsError
from brahmasifier.training.config import TrainConfig

__all__ = ["RunResult", "train"]

log = logging.getLogger(__name__)


def _say(message: str) -> None:
    """An INFO message (stderr through the CLI's handler, :mod:`brahmasifier.log`), from global rank 0 only."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        log.info(message)


@dataclass
class RunResult:
    """What a finished run produced (paths are ``None`` on ranks other than 0)."""

    run_dir: Path
    model_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    best_checkpoint: str | None = None
    epochs_completed: int = 0
    global_step: int = 0
    config: TrainConfig | None = None


#: What a run writes directly in its folder (``store`` is where FITS inputs are packed by default).
RUN_ENTRIES: frozenset[str] = frozenset(
    {"config.yaml", "checkpoints", "logs", "metrics.json", "val_predictions.csv", "model", "store", "truth_rejected.csv",
     "adapt_store"})


def _devices(value: str | int) -> str | int:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _initial_card_and_state(config: TrainConfig) -> tuple[Any, Any, str]:
    """The model card to train (and starting weights for ``init_from``) plus a description."""
    from brahmasifier.models import ModelCard, load_model, preset_card, resolve_band_mapping, resolve_preset
    from brahmasifier.models.backbones import default_input_size
    from brahmasifier.models.card import DEFAULT_NORMALIZATION

    if config.init_from:
        source = Path(config.init_from)
        if source.suffix == ".ckpt":
            from brahmasifier.training.checkpoint import read_checkpoint_card, read_checkpoint_model_state

            card = ModelCard.from_dict(read_checkpoint_card(source), source=str(source))
            state = read_checkpoint_model_state(source)
        else:
            model, card = load_model(source)
            state = model.state_dict()
        card.training = {"init_from": str(source)}
        card.threshold, card.temperature = 0.5, 1.0
        return card, state, f"fine-tuning {card.architecture} from {source}"
    preset = resolve_preset(config.arch)
    kwargs = {**preset["model_kwargs"], **config.model_kwargs}
    if config.input_size:
        input_size = int(config.input_size)
    elif config.model_kwargs.get("img_size") is not None or preset["architecture"] == config.arch:
        input_size = default_input_size(preset["architecture"], kwargs)
    else:
        input_size = preset["input_size"]
    normalization = config.normalization or DEFAULT_NORMALIZATION
    if isinstance(normalization, str):
        normalization = {"name": normalization}
    if normalization.get("name") in ("asinh_mad", "per_image") and "valid_only" not in normalization:
        # statistics over valid pixels, invalid ones neutral (models/normalization.py): the same numbers on a clean
        # image, and a masked pixel's value cannot change the logit; cards written before it lack the key (False)
        normalization = {**normalization, "valid_only": True}
    if config.colour_residuals is not None:  # a band letter of the model's bands (checked by build_normalization)
        normalization = {**normalization, "colour_residuals": config.colour_residuals}
    card = preset_card(config.arch, model_kwargs=kwargs, bands=resolve_band_mapping(config.band_mapping),
                       normalization=dict(normalization), input_size=input_size)
    start = f"pretrained file {config.pretrained_file}" if config.pretrained_file else "scratch"
    return card, None, f"{card.architecture} from {start}"


def _load_initial_state(model: Any, state: dict[str, Any], source: str) -> None:
    """``init_from`` weights into ``model``: all of them, or the classifier part of a multi-task model (either way)."""
    from brahmasifier.models.io import load_state_into
    from brahmasifier.models.regression import MultiTaskLensModel

    prefix = "classifier."
    if any(k.startswith(prefix) for k in state) and not isinstance(model, MultiTaskLensModel):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # a multi-task model's classifier
    if isinstance(model, MultiTaskLensModel) and not any(k.startswith(prefix) for k in state):
        model = model.classifier  # a classifier's weights; the head starts fresh
    load_state_into(model, state, source)


def train(config: TrainConfig) -> RunResult:
    """Train, checkpoint, early-stop, export (see module docstring); returns a :class:`RunResult`."""
    with quiet_lightning(startup_lines=True):
        return _train(config)


def _train(config: TrainConfig) -> RunResult:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from brahmasifier.data.datamodule import LensDataModule
    from brahmasifier.hardware import resolve_device, resolve_precision
    from brahmasifier.models import default_lr
    from brahmasifier.training.callbacks import DataSummaryReport
    from brahmasifier.training.checkpoint import (
        AtomicCheckpointIO,
        batches_done_in_epoch,
        describe_resume,
        read_checkpoint_model_state,
        refused_checkpoint,
    )
    from brahmasifier.training.export import finalize_run
    from brahmasifier.training.task import LensClassificationTask

    config.check_complete()
    run_dir = Path(config.out)
    check_output_folder(run_dir, RUN_ENTRIES, "a training run")
    ckpt_dir = run_dir / "checkpoints"
    last_ckpt = ckpt_dir / "last.ckpt"
    resume_from: Path | None = None
    if config.resume:
        if last_ckpt.is_file():
            resume_from = last_ckpt
            _say(describe_resume(last_ckpt))
        else:
            _say(f"--resume: no {last_ckpt} yet; starting a fresh run")
    elif (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        raise OutputExistsError(
            f"{run_dir}: already holds a run's checkpoints; pass --resume to continue it or choose another --out")
    if config.threads:
        torch.set_num_threads(int(config.threads))
    # Dropout and the DDP sampler's shuffling use torch's seeded default generator (Lightning's way);
    # the model init, split and augmentation have their own seeded generators.
    pl.seed_everything(config.seed, workers=True, verbose=False)

    started = time.perf_counter()
    # Lightning packs FITS roots in prepare_data (once per node) and sets the split up on every rank.
    datamodule = LensDataModule(config.data, batch_size=config.batch_size, val_fraction=config.val_fraction, seed=config.seed,
                                workers=config.workers, cache_dir=config.cache_dir or run_dir / "store",
                                pin_memory=torch.cuda.is_available(), progress=config.progress)

    card, init_state, description = _initial_card_and_state(config)
    card.regression = None
    if config.targets is not None:
        from brahmasifier.models.regression import regression_card_entry
        from brahmasifier.models.targets import select_targets

        card.regression = regression_card_entry(select_targets(config.targets), hidden=config.regression_hidden)
        description += f" + regression of {len(card.target_set().output_columns)} parameter columns"
    pretrained = bool(config.pretrained_file or config.init_from)
    lr = float(config.lr) if config.lr else default_lr(card.architecture, pretrained=pretrained)
    precision = resolve_precision(config.precision, resolve_device(config.accelerator)[1])
    resolved = TrainConfig.from_dict({**config.to_dict(), "lr": lr, "precision": precision, "resume": False})

    task_kwargs: dict[str, Any] = {
        "lr": lr, "weight_decay": config.weight_decay, "warmup_epochs": config.warmup_epochs, "augment": config.augment,
        "survey_augment": config.survey_augment(), "channels_last": config.channels_last, "seed": config.seed,
        "pretrained_file": config.pretrained_file if resume_from is None else None}
    task: LensClassificationTask
    if config.adapt_to:
        from brahmasifier.training.adaptation import DomainAdversarialTask, resolve_target

        target = resolve_target(config.adapt_to, config.data, run_dir / "adapt_store", config.progress)
        task = DomainAdversarialTask(card.to_dict(), target_store=target if len(target) > 1 else target[0],
                                     adapt_weight=config.adapt_weight,
                                     **task_kwargs)
        description += f", adapted (DANN, weight {config.adapt_weight:g}) to {', '.join(config.adapt_to)}"
    elif card.regression is not None:
        from brahmasifier.training.multitask import LensMultiTaskTask

        task = LensMultiTaskTask(card.to_dict(), regression_weight=config.regression_weight,
                                 regression_beta=config.regression_beta, **task_kwargs)
    else:
        task = LensClassificationTask(card.to_dict(), **task_kwargs)
    if init_state is not None and resume_from is None:
        _load_initial_state(task.model, init_state, str(config.init_from))

    best_cb = ModelCheckpoint(dirpath=ckpt_dir, filename="epoch{epoch:03d}-auc{val_auc:.4f}", auto_insert_metric_name=False,
                              enable_version_counter=False, monitor="val_auc", mode="max", save_top_k=config.top_k,
                              save_last=True)
    periodic_cb = ModelCheckpoint(dirpath=ckpt_dir, filename="last", every_n_train_steps=max(1, config.checkpoint_every_steps),
                                  save_top_k=1, enable_version_counter=False)
    callbacks: list[Any] = [best_cb, periodic_cb, LearningRateMonitor(logging_interval="step"),
                            DataSummaryReport(description, lr, precision, run_dir, config.batch_size)]
    if config.patience:
        callbacks.append(EarlyStopping(monitor="val_auc", mode="max", patience=config.patience))
    loggers = [CSVLogger(run_dir / "logs", name="csv", version=""),
               TensorBoardLogger(run_dir / "logs", name="tensorboard", version="", default_hp_metric=False)]
    trainer_kwargs: dict[str, Any] = {}
    if config.limit_train_batches is not None:
        trainer_kwargs["limit_train_batches"] = config.limit_train_batches
    if config.limit_val_batches is not None:
        trainer_kwargs["limit_val_batches"] = config.limit_val_batches
    trainer = pl.Trainer(
        default_root_dir=run_dir, max_epochs=config.epochs, max_time=config.max_time, accelerator=config.accelerator,
        devices=_devices(config.devices), strategy=config.strategy, num_nodes=config.num_nodes,
        precision=cast(Any, precision),  # any Lightning precision name (resolved above); Lightning validates it
        callbacks=callbacks, logger=loggers, plugins=[AtomicCheckpointIO()], enable_progress_bar=config.progress,
        enable_model_summary=config.progress, log_every_n_steps=50, num_sanity_val_steps=0,
        deterministic=False, **trainer_kwargs,
    )
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", resolved.to_yaml())
    if resume_from is not None:
        datamodule.resume_skip = batches_done_in_epoch(resume_from)
    try:
        with interrupt_as_keyboard_interrupt(trainer):
            trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True if resume_from else None)
    except pickle.UnpicklingError as exc:  # only torch.load(weights_only=True) of --resume's checkpoint raises this
        if resume_from is None:
            raise
        raise refused_checkpoint(resume_from, exc) from None

    result = RunResult(run_dir=run_dir, model_dir=None, epochs_completed=int(trainer.current_epoch),
                       global_step=int(trainer.global_step), config=resolved)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return result
    best = best_cb.best_model_path or (str(last_ckpt) if last_ckpt.is_file() else "")
    if not best:
        raise ConfigError(f"{run_dir}: training ended without any checkpoint (was max_time or limit_train_batches 0?)")
    summary = {
        "data": datamodule.summary, "architecture": card.architecture, "epochs_completed": result.epochs_completed,
        "global_step": result.global_step, "max_epochs": config.epochs, "seed": config.seed, "lr": lr,
        "precision": precision, "best_checkpoint": str(best),
        "best_checkpoint_val_auc_lightning": float(best_cb.best_model_score) if best_cb.best_model_score is not None else None,
        "stopped_early": bool(result.epochs_completed < config.epochs),
        "train_seconds_this_session": round(time.perf_counter() - started, 1),
        "pretrained_file": config.pretrained_file, "init_from": config.init_from,
    }
    if config.adapt_to:
        last = {k: float(v) for k, v in trainer.callback_metrics.items() if k in ("domain_acc", "domain_loss", "adapt_lambda")}
        summary["adaptation"] = {"method": "DANN", "adapt_to": list(config.adapt_to), "adapt_weight": config.adapt_weight,
                                 "last_epoch": last, "per_epoch": "logs/csv/metrics.csv (domain_acc, domain_loss, adapt_lambda)"}
    state = read_checkpoint_model_state(best)
    assert datamodule.store is not None, "the trainer sets the data module up"
    if card.regression is not None:  # the standardisation fitted on the training rows (LensMultiTaskTask.setup)
        spec = getattr(task, "spec", None)
        assert spec is not None
        card.regression = {**card.regression, "targets": spec.to_dict()}
    metrics = finalize_run(run_dir, card, state, datamodule.store, datamodule.val_rows, summary,
                           train_rows=datamodule.train_rows)
    result.model_dir = run_dir / "model"
    result.metrics = metrics
    result.best_checkpoint = str(best)
    _say(f"val AUC {metrics['val_auc']:.4f}, accuracy {metrics['val_accuracy']:.4f} at threshold "
         f"{metrics['threshold']:.3f}; model: {result.model_dir}")
    return result
