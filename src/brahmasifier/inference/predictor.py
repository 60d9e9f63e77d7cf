"""Prediction at survey scale: ensemble × TTA over FITS trees or stores, resumable, 1..N devices.

Rule for combining (the reference system's, plus calibration):

1. each model scores every TTA view; its view logits are **averaged in logit space**;
2. the model's mean logit is divided by its card's ``temperature`` (temperature scaling,
   fitted on validation data, so models with different confidence scales weigh alike; it
   does not change a single model's ranking);
3. the models' calibrated logits are averaged (logit space), ``prob = sigmoid(mean)``.

Threshold ``"auto"``: from the cards (:func:`~brahmasifier.inference.ensemble.ensemble_threshold`);
a number is used as given on ``prob``. ``preds = prob >= threshold``.

Lens parameters: where models have a regression head, the submission's lens columns are filled
for objects predicted as lenses and its non-lens columns (``z_central``, ``mag_object_*``) for the
others, -999 where no model predicts a column; the probabilities file carries every estimate with
its uncertainty (:mod:`brahmasifier.inference.parameters`). The ONNX engine scores classifiers
only: with a multi-task model prediction runs on PyTorch (a note says so; ``--onnx`` asked
explicitly is an error).

The loop is Lightning's prediction loop (``Trainer.predict``) over the module-level classes of
:mod:`brahmasifier.inference.lightning`, with a per-rank
:class:`~brahmasifier.inference.writer.PartWriter`: one code path for one CPU, one GPU or
DDP over several devices/nodes; rank 0 merges the parts by ID at the end. Settings are one
:class:`~brahmasifier.inference.config.PredictConfig`; the engine/layout/worker policy is
:mod:`brahmasifier.inference.engine`, the device and precision :mod:`brahmasifier.hardware`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier._lightning import interrupt_as_keyboard_interrupt, quiet_lightning
from brahmasifier._outputs import check_free_space, check_output_files, check_outside_inputs
from brahmasifier._plan import read_plan, same_plan
from brahmasifier._runlock import RunLock
from brahmasifier.errors import ConfigError
from brahmasifier.inference.config import PredictConfig
from brahmasifier.inference.ensemble import LoadedModel, ensemble_targets, ensemble_threshold, load_models
from brahmasifier.inference.parts import (
    PLAN_FILE,
    ObjectCounts,
    Part,
    done_parts,
    drop_stale_parts,
    merge_parts,
    parts_dir_for,
    plan_parts,
)
from brahmasifier.io.reader import stem_id_line
from brahmasifier.pixels import masked_line
from brahmasifier.survey.checks import AUTO_GROUPS, NO_GROUPS, GroupSample, Registration, misregistered_line, sample_spans

__all__ = ["PredictionSummary", "ood_verdict", "predict"]

#: Bytes per object of what a run writes, for the free-space check: a submission row (ID and 40
#: parameter columns, mostly -999: 255 B measured for 24-character IDs), a probabilities/part
#: row without logits, and each model's logit column.
SUBMISSION_BYTES_PER_OBJECT = 320
TABLE_BYTES_PER_OBJECT = 160
LOGIT_BYTES = 25


@dataclass
class PredictionSummary(ObjectCounts):
    """What a prediction run did (printed by the CLI, returned by :func:`predict`)."""

    threshold: float
    models: list[str]
    tta: str
    precision: str
    engine: str
    device: str
    world_size: int
    parts_total: int
    parts_reused: int
    parts_scored: int
    seconds: float
    objects_per_second: float
    out: str | None
    probs_out: str | None
    rejected_out: str | None
    complete: bool = True
    rank: int = 0
    notes: list[str] = field(default_factory=list)
    n_with_masked: int = 0
    median_masked_fraction: float = 0.0
    n_misregistered: int = 0
    n_registered: int = 0
    register_bands: bool = False
    repair_score: float | None = None
    band_groups: str = ""
    suggested_groups: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def describe(self) -> str:
        """Human-readable lines for the CLI."""
        if not self.complete:
            return (f"stopped after {self.parts_scored} new part(s); {self.parts_reused + self.parts_scored} of "
                    f"{self.parts_total} parts done. Rerun the same command to continue.")
        lines = [
            f"found {self.n_found} objects: scored {self.n_scored} + rejected {self.n_rejected}"
            + (f" (listed in {self.rejected_out})" if self.rejected_out else ""),
            *([f"{self.n_stray_files} stray file{'s' if self.n_stray_files != 1 else ''} (not objects) also listed there"]
              if self.n_stray_files else []),
            *([stem_id_line(self.n_stem_ids)] if self.n_stem_ids else []),
            f"{self.n_ids} unique IDs" + (f"; {self.n_duplicate_ids} IDs appeared more than once "
                                          f"({self.n_duplicate_rows} rows), combined by mean logit"
                                          if self.n_duplicate_ids else ""),
            f"{self.n_positive} predicted lenses at threshold {self.threshold:.4g}",
            masked_line(self.n_with_masked, self.median_masked_fraction),
            misregistered_line(self.n_misregistered, self.n_scored, register_bands=self.register_bands,
                               n_registered=self.n_registered, repair_score=self.repair_score,
                               band_groups=self.band_groups, suggested_groups=self.suggested_groups),
            f"models: {', '.join(self.models)}; TTA {self.tta}; {self.engine} {self.precision} on {self.device}"
            + (f" x{self.world_size}" if self.world_size > 1 else ""),
            f"{self.n_scored} objects in {self.seconds:.1f} s ({self.objects_per_second:.0f} objects/s)"
            + (f"; reused {self.parts_reused} of {self.parts_total} parts" if self.parts_reused else ""),
            f"submission: {self.out}" + (f"; probabilities: {self.probs_out}" if self.probs_out else ""),
        ]
        return "\n".join(lines + self.notes)


def predict(config: PredictConfig) -> PredictionSummary:
    """Score every object of ``config.data`` with the ensemble ``config.models`` and write the submission.

    ``data``: FITS roots (either naming convention) and/or packed stores. ``out``: the
    submission CSV; ``rejected.csv`` is written next to it; ``probs_out``: per-object
    probabilities (CSV, or Parquet when the name ends in ``.parquet``). ``onnx``: ``None``
    picks the faster engine (:func:`~brahmasifier.inference.engine.resolve_engine`);
    ``channels_last`` (PyTorch path) ``None`` means on for CPUs, where it measured faster. Work
    is saved in parts of ``part_size`` objects under ``OUT.parts/``; ``resume`` reuses parts
    of an interrupted run with the same plan, ``max_parts`` stops after scoring that many new
    parts on each rank (for time-limited jobs; the summary then has ``complete=False``).
    ``devices``/``num_nodes`` > 1 runs DDP (one process per device).
    """
    started = time.perf_counter()
    config.check_complete()
    out = Path(config.out)
    inputs = [*config.data, *(_model_folder(m) for m in config.models)]
    check_output_files({"--out": out, "--probs": config.probs_out,
                        "the reject list (rejected.csv beside --out)": out.with_name("rejected.csv")}, inputs=inputs)
    check_outside_inputs({"the parts folder (beside --out)": parts_dir_for(out)}, inputs)
    with contextlib.ExitStack() as stack:
        return _predict(config, out, started, stack)


def _model_folder(model: str) -> str:
    """The folder a model is read from (a run dir's ``model/``): outputs may go beside it, into the run dir."""
    from brahmasifier.errors import ModelFormatError
    from brahmasifier.models.card import resolve_model_dir

    try:
        return str(resolve_model_dir(model))
    except ModelFormatError:
        return model  # not a model: load_models says so in its own words


def _output_lock(out: Path) -> Any:
    """The run lock of ``--out`` (``.NAME.lock`` beside it), taken by the launching process only (not by DDP ranks)."""
    if int(os.environ.get("LOCAL_RANK", 0)) != 0 or int(os.environ.get("NODE_RANK", 0)) != 0:
        return contextlib.nullcontext()
    return RunLock(out.with_name(f".{out.name}.lock"), f"{out}: another `brahmasifier predict` (PID {{pid}}) is writing "
                   "this output right now; wait for it or choose another --out")


def _predict(config: PredictConfig, out: Path, started: float, stack: contextlib.ExitStack) -> PredictionSummary:
    """:func:`predict` once the outputs are checked; ``stack`` holds the output's lock from before the first write."""
    import lightning.pytorch as pl

    from brahmasifier.hardware import resolve_device, resolve_precision
    from brahmasifier.inference.engine import default_channels_last, default_workers, resolve_engine
    from brahmasifier.inference.lightning import EnsembleModule, PartsDataModule
    from brahmasifier.inference.parameters import parameter_columns
    from brahmasifier.inference.sources import open_source
    from brahmasifier.inference.writer import PartWriter

    accelerator, device_label = resolve_device(config.accelerator)
    # --onnx with precision auto: the ONNX path is fp32 (auto would pick bf16 on a CPU with bf16 units)
    precision = resolve_precision("32-true" if config.onnx and config.precision == "auto" else config.precision, device_label)
    loaded = load_models(config.models)
    targets = ensemble_targets(loaded)
    notes: list[str] = []
    engine = resolve_engine(config.onnx, device_label, precision)
    if targets is not None and engine == "onnx":
        if config.onnx:
            raise ConfigError("--onnx: ONNX export covers classification models only; a model with a regression head "
                              "(lens parameters) predicts with PyTorch: drop --onnx")
        engine = "torch"
        notes.append("note: lens-parameter models run on PyTorch (the ONNX engine scores classifiers only)")
    off_views = sorted({m.calibration_tta for m in loaded if m.calibration_tta != config.tta})
    if off_views:
        notes.append(f"note: temperature and threshold were fitted on --tta {'/'.join(off_views)} views; scored with "
                     f"--tta {config.tta}, the probabilities are calibrated less well (retrain, or score with those views)")
    channels_last = default_channels_last(engine, device_label) if config.channels_last is None else config.channels_last
    workers = default_workers(device_label) if config.workers is None else int(config.workers)
    param_columns = parameter_columns(targets) if targets is not None else []
    model_columns = [f"logit_{m.name}" for m in loaded]
    threshold = ensemble_threshold(loaded) if config.threshold == "auto" else float(config.threshold)

    stack.enter_context(_output_lock(out))  # models loaded, settings checked: from here on this run writes --out
    source = open_source(config.data)
    per_object = SUBMISSION_BYTES_PER_OBJECT + 2 * (TABLE_BYTES_PER_OBJECT + LOGIT_BYTES * len(loaded))  # probs + parts
    check_free_space(out.parent, len(source) * per_object, "--out",
                     f"{len(source):,} objects × {per_object:,} bytes of submission, probabilities and parts")
    parts = plan_parts(len(source), config.part_size)
    parts_dir = parts_dir_for(out)
    groups, sampled = _band_groups(config.band_groups, source)
    said = "" if sampled is None else sampled.describe(config.register_bands)
    if said:
        notes.append(said)
    plan = {
        "format": "brahmasifier-prediction-parts", "version": 2,
        "models": [{"name": m.name, "fingerprint": m.fingerprint} for m in loaded],
        "tta": config.tta, "precision": precision, "engine": engine,
        "data": [str(Path(p).resolve()) for p in config.data],
        "objects": len(source), "objects_fingerprint": source.fingerprint(), "part_size": config.part_size,
        "register_bands": config.register_bands,
        **({"repair_score": config.repair_score} if config.repair_score is not None else {}),
        **({"band_groups": groups} if groups else {}),
        **({"band_groups_read": True} if groups and sampled is not None else {}),  # auto: with the per-band fallback
    }
    run = _RunInfo(loaded, config.tta, precision, engine, device_label, 1, parts, started)
    registration = Registration(config.register_bands, config.repair_score, groups, groups_read=sampled is not None)

    stale = drop_stale_parts(parts_dir, parts, source.stamps) if config.resume and _same_plan(parts_dir, plan) else []
    already = _reusable_parts(parts_dir, plan) if config.resume else set()
    if len(already) < len(parts):
        module = EnsembleModule(loaded, config.tta, precision, engine, channels_last, parts_dir / "onnx")
        writer = PartWriter(parts_dir, parts, model_columns, progress=config.progress, parameter_columns=param_columns)
        datamodule = PartsDataModule(source, parts, plan, parts_dir, config.resume, config.batch_size, workers,
                                     config.max_parts, writer, registration)
        distributed = str(config.devices) != "1" or config.num_nodes > 1
        with quiet_lightning(startup_lines=False):
            trainer = pl.Trainer(
                accelerator=accelerator, devices=config.devices, num_nodes=config.num_nodes,
                strategy="ddp" if distributed else "auto", precision="32-true", logger=False,
                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[writer],
                use_distributed_sampler=False, inference_mode=True,
            )
            with interrupt_as_keyboard_interrupt(trainer):
                trainer.predict(module, datamodule=datamodule, return_predictions=False)
            run.world_size = trainer.world_size
            if run.world_size > 1:
                trainer.strategy.barrier("brahmasifier-parts-written")
            if not trainer.is_global_zero:
                stub = run.incomplete()
                stub.rank = trainer.global_rank
                return stub
        already = datamodule.reused

    finished = done_parts(parts_dir)
    scored_now = sum(len(p) for p in parts if p.number in finished and p.number not in already)
    if len(finished & {p.number for p in parts}) < len(parts):
        summary = run.incomplete()
        summary.parts_reused = len(already)
        summary.parts_scored = len(finished - already)
        return summary
    result = merge_parts(parts_dir, parts, model_columns, threshold, out, config.probs_out, source.rejected, targets)
    if not config.keep_parts:
        shutil.rmtree(parts_dir, ignore_errors=True)
    if result.ood_scores is not None and loaded[0].embedding is not None:
        notes.append(ood_verdict(loaded[0], result.ood_scores))
    elif loaded[0].embedding is not None and engine == "onnx":
        notes.append("note: no ood_score (the ONNX engine's graph gives logits only; --no-onnx adds the data-shift score)")
    seconds = time.perf_counter() - started
    return PredictionSummary(
        n_found=result.n_found, n_scored=result.n_scored, n_rejected=result.n_rejected, n_ids=result.n_ids,
        n_duplicate_ids=result.n_duplicate_ids, n_duplicate_rows=result.n_duplicate_rows, n_positive=result.n_positive,
        n_stray_files=result.n_stray_files, n_stem_ids=result.n_stem_ids,
        threshold=threshold, models=[m.name for m in loaded], tta=config.tta,
        precision=precision, engine=engine, device=device_label, world_size=run.world_size,
        parts_total=len(parts), parts_reused=len(already), parts_scored=len(parts) - len(already),
        seconds=seconds, objects_per_second=(scored_now / seconds if seconds > 0 else 0.0),
        n_with_masked=result.n_with_masked, median_masked_fraction=result.median_masked_fraction,
        n_misregistered=result.n_misregistered, n_registered=result.n_registered, register_bands=config.register_bands,
        repair_score=registration.repair_from, band_groups=groups, suggested_groups=result.suggested_groups,
        out=str(out), probs_out=config.probs_out, rejected_out=str(result.rejected_out),
        notes=notes + result.notes + ([_stale_note(stale, parts)] if stale else [])
        + ([f"lens parameters: {', '.join(targets.output_columns)} (lens columns for predicted lenses, "
            "non-lens columns for the others)"] if targets is not None else []),
    )


def _band_groups(setting: str, source: Any) -> tuple[str, GroupSample | None]:
    """The groups ``--band-groups`` means (``""``: each band alone) and, for ``auto``, the sample they were read from.

    ``auto`` reads :func:`~brahmasifier.survey.checks.sample_spans` of the input (at most 4,096
    objects, the same on every rank and on a resumed run: positions alone choose them), estimates
    their band angles as the run itself does, and takes the groups the flagged objects' bands
    turn in (:func:`~brahmasifier.survey.checks.suggest_band_groups`: none unless 5% and 50 of
    them are flagged). Objects the reader could not read are left out.
    """
    if setting in ("", NO_GROUPS):
        return "", None
    if setting != AUTO_GROUPS:
        return setting, None
    sample = GroupSample()
    for start, stop in sample_spans(len(source)):
        batch = source.read_range(start, stop)
        read = np.array([not e for e in batch.errors], dtype=bool) if batch.errors else np.ones(len(batch.images), bool)
        if read.any():
            sample.add(batch.images[read], batch.n_nan[read], None if batch.n_masked is None else batch.n_masked[read])
    return sample.groups, sample


def ood_verdict(model: Any, scores: np.ndarray) -> str:
    """The data-shift line of ``predict``: the embedding's tail fraction against the training data's."""
    from brahmasifier.shift.compare import EMBEDDING_TAIL_LIMIT

    tail = model.embedding.tail_fraction(scores)
    verdict = ("looks like the training data" if tail <= EMBEDDING_TAIL_LIMIT
               else "differs from the training data")
    return (f"data shift ({model.name}'s embedding): {verdict}: {100 * tail:.1f}% of objects beyond the training 99th "
            "percentile (ood_score in the probabilities; `brahmasifier check` compares noise, PSF, masks)")


@dataclass
class _RunInfo:
    """What every summary of one run shares (for the ranks that do not merge, or a run cut short)."""

    models: Sequence[LoadedModel]
    tta: str
    precision: str
    engine: str
    device: str
    world_size: int
    parts: Sequence[Part]
    started: float

    def incomplete(self) -> PredictionSummary:
        """Summary of a rank that does not merge, or of a run stopped by ``max_parts``."""
        return PredictionSummary(
            n_found=0, n_scored=0, n_rejected=0, n_ids=0, n_duplicate_ids=0, n_duplicate_rows=0, n_positive=0,
            n_stray_files=0, n_stem_ids=0,
            threshold=float("nan"), models=[m.name for m in self.models], tta=self.tta, precision=self.precision,
            engine=self.engine, device=self.device, world_size=self.world_size, parts_total=len(self.parts),
            parts_reused=0, parts_scored=0, seconds=time.perf_counter() - self.started, objects_per_second=0.0,
            out=None, probs_out=None, rejected_out=None, complete=False,
        )


def _same_plan(parts_dir: Path, plan: dict[str, Any]) -> bool:
    """Whether ``parts_dir`` holds parts of ``plan`` (read-only check, safe on every rank)."""
    return same_plan(read_plan(parts_dir / PLAN_FILE), plan)


def _reusable_parts(parts_dir: Path, plan: dict[str, Any]) -> set[int]:
    """Parts an earlier run with the same plan left (read-only check, safe on every rank)."""
    return done_parts(parts_dir) if _same_plan(parts_dir, plan) else set()


def _stale_note(stale: Sequence[int], parts: Sequence[Part]) -> str:
    """The summary line for parts rescored because their input files changed."""
    n_objects = sum(len(parts[k]) for k in stale)
    return (f"rescored {len(stale)} part(s) ({n_objects} objects) of the earlier run: their input files changed "
            "(size or modification time) since they were scored")
