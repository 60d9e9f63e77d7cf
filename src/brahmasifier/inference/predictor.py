"""Prediction at survey scale: ensemble × TTA over FITS trees or stores, resumable, 1..N devices.

Rule for combining (the reference system's, plus calibration):

1. each model scores every TTA view; its view logits are **averaged in logit space**;
2. the model's mean logit is divided by its card's ``temperature`` (temperature scaling,
   fitted on validation data, so models with different confidence scales weigh alike; it
   does not change a single model's ranking);
3. the models' calibrated logits are averaged (logit space), ``prob = sigmoid(mean)``.

Threshold ``"auto"``: each card's ``threshold`` is a probability threshold chosen on that
model's calibrated validation probabilities ``sigmoid(raw logit / T)`` (see
:mod:`brahmasifier.training.export`); the thresholds' logits ``logit(t)`` are averaged over the
models, so a single model decides exactly as on validation, and an ensemble whose models share
a threshold ``t`` uses ``t``. A number is used as given on ``prob``. ``preds = prob >= threshold``.

The loop is Lightning's prediction loop (``Trainer.predict``) with a per-rank
:class:`~brahmasifier.inference.writer.PartWriter`: one code path for one CPU, one GPU or
DDP over several devices/nodes; rank 0 merges the parts by ID at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier.inference.parts import (
    ObjectCounts,
    Part,
    batches_of,
    done_parts,
    merge_parts,
    parts_dir_for,
    parts_for_rank,
    plan_parts,
    prepare_parts_dir,
)

PathLike = str | os.PathLike[str]

#: Objects per resumable part file.
DEFAULT_PART_SIZE: int = 8192
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")


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
            f"{self.n_ids} unique IDs" + (f"; {self.n_duplicate_ids} IDs appeared more than once "
                                          f"({self.n_duplicate_rows} rows), combined by mean logit"
                                          if self.n_duplicate_ids else ""),
            f"{self.n_positive} predicted lenses at threshold {self.threshold:.4g}",
            f"models: {', '.join(self.models)}; TTA {self.tta}; {self.engine} {self.precision} on {self.device}"
            + (f" x{self.world_size}" if self.world_size > 1 else ""),
            f"{self.n_scored} objects in {self.seconds:.1f} s ({self.objects_per_second:.0f} objects/s)"
            + (f"; reused {self.parts_reused} of {self.parts_total} parts" if self.parts_reused else ""),
            f"submission: {self.out}" + (f"; probabilities: {self.probs_out}" if self.probs_out else ""),
        ]
        return "\n".join(lines + self.notes)


# ---------------------------------------------------------------------------------------------
# Choices made once, from what was measured (see benchmarks/bench_predict.py and docs).


def resolve_device(device: str) -> tuple[str, str]:
    """``(accelerator, label)`` for Lightning from ``auto``/``cpu``/``cuda``/``gpu``/``mps``."""
    import torch

    device = device.lower()
    if device == "auto":
        return ("gpu", "cuda") if torch.cuda.is_available() else ("cpu", "cpu")
    if device in ("cuda", "gpu"):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but torch sees no CUDA device")
        return "gpu", "cuda"
    if device in ("cpu", "mps"):
        return device, device
    raise ValueError(f"unknown device {device!r}; expected auto, cpu, cuda or mps")


def resolve_precision(precision: str, device: str) -> str:
    """``fp32``/``bf16``/``fp16`` for ``precision`` on ``device`` (``auto``: what measured fastest).

    GPUs: bf16 autocast where supported, else fp16. CPUs: fp32. On the AVX2 CPUs we measured,
    bf16 autocast was slower than fp32 for both the compact net and ConvNeXt-Tiny (no native
    bf16 matrix units; see ``benchmarks/bench_predict.py``).
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision == "fp16" and device == "cpu":
            raise ValueError("fp16 autocast is for GPUs; use bf16 or fp32 on the CPU")
        return precision
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def resolve_engine(onnx: bool | None, device: str, precision: str) -> str:
    """``"onnx"`` or ``"torch"``; ``None`` means auto: ONNX Runtime on the CPU in fp32.

    Measured on this project's shared 2-core AVX2 CPU, model only, 3 TTA views
    (``benchmarks/bench_predict.py``, two runs, batch 128): ONNX Runtime was 1.7-1.8x
    (compact) and 2.0-2.4x (ConvNeXt-Tiny@41) faster than eager fp32 PyTorch and ahead of
    channels_last fp32 (1.2-1.4x, 1.05-1.7x); bf16 autocast was 6-12x *slower* (no native
    bf16 units). On GPUs we stay with PyTorch.
    """
    if onnx is None:
        return "onnx" if device == "cpu" and precision == "fp32" else "torch"
    if onnx and device != "cpu":
        raise ValueError("the ONNX Runtime path scores on the CPU; use --device cpu or drop --onnx")
    if onnx and precision != "fp32":
        raise ValueError("the ONNX Runtime path is fp32; use --precision fp32 (or auto) with --onnx")
    return "onnx" if onnx else "torch"


def default_workers(device: str = "cpu") -> int:
    """Data-loading worker *processes* for ``device`` (0 = read on a thread of the scoring process).

    On the CPU the scoring engine already uses every core and reading is a small share of the
    work (~0.3 ms per object with the fast FITS reader against ~1.5 ms of scoring with the
    default model and 3 views, on the development machine), so one reader thread suffices and
    worker start-up (seconds each) is pure cost; from 8 cores up, where scoring outpaces one
    reader thread, one process per 8 cores. For GPUs, reading is the bottleneck: half the
    CPUs, at least 1, at most 8.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device == "cpu":
        return min(8, cpus // 8)
    return max(1, min(8, cpus // 2))


# ---------------------------------------------------------------------------------------------
# Models


@dataclass
class LoadedModel:
    """A model ready to score, with what the ensemble needs from its card."""

    name: str
    path: Path
    module: Any  # torch.nn.Module
    threshold: float
    temperature: float
    architecture: str
    fingerprint: str


def _model_name(path: Path) -> str:
    base = path.parent.name if path.name in ("model", "model.json") else path.name
    if path.name == "model.json" and path.parent.name == "model":
        base = path.parent.parent.name
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_") or "model"
    return name


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def load_models(paths: Sequence[PathLike]) -> list[LoadedModel]:
    """Load each saved model (run dir, model folder or ``model.json``) in eval mode on the CPU."""
    from brahmasifier.models import load_model, resolve_model_dir

    if not paths:
        raise ValueError("no models given: pass at least one run dir or model folder")
    loaded: list[LoadedModel] = []
    used: dict[str, int] = {}
    for raw in paths:
        path = Path(raw)
        model_dir = resolve_model_dir(path)
        module, card = load_model(path)
        name = _model_name(model_dir if model_dir.name != "model" else model_dir.parent)
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name}_{used[name]}"
        digest = _file_digest(model_dir / "model.safetensors") + ":" + hashlib.sha256(card.to_json().encode()).hexdigest()[:16]
        loaded.append(LoadedModel(name, path, module, float(card.threshold), float(card.temperature),
                                  card.architecture, digest))
    return loaded


def ensemble_threshold(models: Sequence[LoadedModel]) -> float:
    """The ``auto`` threshold on the ensemble probability (see module docstring)."""
    logits = []
    for m in models:
        t = min(max(m.threshold, 1e-12), 1 - 1e-12)
        logits.append(math.log(t / (1 - t)))  # cards' thresholds are on calibrated probabilities
    return float(1.0 / (1.0 + math.exp(-float(np.mean(logits)))))


# ---------------------------------------------------------------------------------------------
# Lightning pieces (built lazily so importing this module stays cheap)


def _lightning_classes() -> tuple[type, type]:
    import lightning.pytorch as pl
    import torch
    from torch import nn

    from brahmasifier.inference.tta import TTAModel

    class EnsembleModule(pl.LightningModule):
        """Scores a batch with every model × TTA view; returns calibrated logits per model."""

        def __init__(self, models: Sequence[LoadedModel], tta: str, precision: str, engine: str,
                     channels_last: bool, onnx_dir: Path | None = None) -> None:
            super().__init__()
            self.engine = engine
            self.tta = tta
            self.precision_mode = precision
            self.channels_last = channels_last
            self.onnx_dir = onnx_dir
            self.onnx_models = list(models) if engine == "onnx" else []
            self.sessions: list[Any] = []
            self.nets = nn.ModuleList([] if engine == "onnx" else [TTAModel(m.module, tta, channels_last)
                                                                   for m in models])
            self.register_buffer("temperatures", torch.tensor([m.temperature for m in models], dtype=torch.float32),
                                 persistent=False)

        def on_predict_start(self) -> None:
            if self.engine == "onnx" and not self.sessions:
                from brahmasifier.inference.onnx import OnnxLogits

                # After the data module's setup, so a stale parts folder is already cleared.
                files = _export_for_scoring(self.onnx_models, self.tta, self.onnx_dir)
                self.sessions = [OnnxLogits(f) for f in files]

        def _autocast(self) -> Any:
            if self.precision_mode == "fp32" or self.engine == "onnx":
                return contextlib.nullcontext()
            dtype = torch.bfloat16 if self.precision_mode == "bf16" else torch.float16
            return torch.autocast(device_type=self.device.type, dtype=dtype)

        def raw_logits(self, images: torch.Tensor) -> torch.Tensor:
            """``(M, B)`` TTA-averaged logits of each model, before temperature."""
            if self.engine == "onnx":
                x = images.detach().cpu().numpy()
                return torch.from_numpy(np.stack([s(x) for s in self.sessions]))
            with self._autocast():
                return torch.stack([net(images).float() for net in self.nets])

        def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
            raw = self.raw_logits(batch["image"])
            calibrated = raw.to(self.temperatures.device) / self.temperatures[:, None]
            return {
                "part": batch["part"],
                "position": batch["position"].cpu().numpy(),
                "n_nan": batch["n_nan"].cpu().numpy(),
                "id": batch["id"], "stem": batch["stem"], "error": batch["error"], "file": batch["file"],
                "model_logits": calibrated.cpu().numpy(),
                "logit": calibrated.mean(dim=0).cpu().numpy(),
            }  # fmt: skip

    class PartsDataModule(pl.LightningDataModule):
        """Builds each rank's DataLoader over its own parts once the rank is known."""

        def __init__(self, source: Any, parts: Sequence[Part], plan: dict[str, Any], parts_dir: Path, resume: bool,
                     batch_size: int, workers: int, max_parts: int | None, writer: Any) -> None:
            super().__init__()
            self.source, self.parts, self.plan, self.parts_dir = source, list(parts), plan, parts_dir
            self.resume, self.batch_size, self.workers, self.max_parts = resume, batch_size, workers, max_parts
            self.writer = writer
            self.reused: set[int] = set()
            self.todo: list[Part] = []

        def setup(self, stage: str) -> None:
            trainer = self.trainer
            if trainer.is_global_zero:
                prepare_parts_dir(self.parts_dir, self.plan, self.resume)
            trainer.strategy.barrier("brahmasifier-parts-ready")
            self.reused = done_parts(self.parts_dir)
            mine = parts_for_rank(self.parts, trainer.global_rank, trainer.world_size)
            self.todo = [p for p in mine if p.number not in self.reused]
            if self.max_parts is not None:
                self.todo = self.todo[: self.max_parts]
            self.writer.total_objects = sum(len(p) for p in self.todo)

        def _pin_memory(self) -> bool:
            return torch.cuda.is_available() and self.trainer.accelerator.__class__.__name__ == "CUDAAccelerator"

        def predict_dataloader(self) -> Any:
            from torch.utils.data import DataLoader

            from brahmasifier.inference.sources import BatchDataset

            dataset = BatchDataset(self.source, batches_of(self.todo, self.batch_size))
            if not self.workers:
                from brahmasifier.inference.prefetch import ThreadPrefetchedBatches

                return DataLoader(ThreadPrefetchedBatches(dataset, depth=2), batch_size=None, num_workers=0,
                                  pin_memory=self._pin_memory())
            return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=self.workers,
                              pin_memory=self._pin_memory(),
                              prefetch_factor=4 if self.workers else None, persistent_workers=False,
                              # forked workers of a process whose thread pools (OpenMP, ONNX Runtime)
                              # already ran can hang on an inherited lock; forkserver starts clean.
                              multiprocessing_context="forkserver" if self.workers else None)

    return EnsembleModule, PartsDataModule


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Keep Lightning's start-up chatter ('GPU available: ...', tips) off the console.

    Its warnings about our deliberate choices are ignored narrowly: few workers, and no batch
    indices (our batches carry their object positions themselves); so is
    Lightning 2.6's own use of a torch pytree API that torch >= 2.10 deprecates (not ours to fix).
    """
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                                              "lightning.fabric.utilities.distributed", "lightning.pytorch")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*`predict_dataloader`.*num_workers.*")
            warnings.filterwarnings("ignore", message=r"Couldn't infer the batch indices fetched from your dataloader")
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


# ---------------------------------------------------------------------------------------------
# Public API


def predict(
    models: Sequence[PathLike] | PathLike,
    data: Sequence[PathLike] | PathLike,
    out: PathLike,
    probs_out: PathLike | None = None,
    tta: str = "flips",
    threshold: str | float = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    device: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    precision: str = "auto",
    onnx: bool | None = None,
    channels_last: bool | None = None,
    progress: bool = True,
    resume: bool = True,
    part_size: int = DEFAULT_PART_SIZE,
    max_parts: int | None = None,
    keep_parts: bool = False,
) -> PredictionSummary:
    """Score every object of ``data`` with the ensemble ``models`` and write the submission.

    ``data``: FITS roots (either naming convention) and/or packed stores. ``out``: the
    submission CSV; ``rejected.csv`` is written next to it; ``probs_out``: per-object
    probabilities (CSV, or Parquet when the name ends in ``.parquet``). ``tta``: ``none``,
    ``flips`` or ``d4``. ``threshold``: ``"auto"`` (from the cards) or a probability.
    ``onnx``: ``None`` picks the faster engine (see :func:`resolve_engine`); ``channels_last``
    (PyTorch path) ``None`` means on for CPUs, where it measured faster. Work is saved in
    parts of ``part_size`` objects under ``OUT.parts/``; ``resume`` reuses parts of an
    interrupted run with the same plan, ``max_parts`` stops after scoring that many new parts
    on each rank (for time-limited jobs; the summary then has ``complete=False``).
    ``devices``/``num_nodes`` > 1 runs DDP (one process per device).
    """
    import lightning.pytorch as pl
    import torch

    from brahmasifier.inference.sources import open_source
    from brahmasifier.inference.tta import tta_views
    from brahmasifier.inference.writer import PartWriter

    started = time.perf_counter()
    tta_views(tta)
    model_paths = [models] if isinstance(models, (str, os.PathLike)) else list(models)
    out = Path(out)
    accelerator, device_label = resolve_device(device)
    precision_used = resolve_precision(precision, device_label)
    engine = resolve_engine(onnx, device_label, precision_used)
    if channels_last is None:
        channels_last = engine == "torch" and device_label == "cpu"
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    workers = default_workers(device_label) if workers is None else int(workers)

    loaded = load_models(model_paths)
    model_columns = [f"logit_{m.name}" for m in loaded]
    if threshold == "auto":
        threshold_value = ensemble_threshold(loaded)
    else:
        threshold_value = float(threshold)
        if not 0.0 <= threshold_value <= 1.0:
            raise ValueError(f"threshold must be 'auto' or a probability in [0, 1], got {threshold!r}")

    source = open_source(data)
    parts = plan_parts(len(source), part_size)
    parts_dir = parts_dir_for(out)
    plan = {
        "format": "brahmasifier-prediction-parts", "version": 1,
        "models": [{"name": m.name, "fingerprint": m.fingerprint} for m in loaded],
        "tta": tta, "precision": precision_used, "engine": engine,
        "data": [str(Path(p).resolve()) for p in ([data] if isinstance(data, (str, os.PathLike)) else data)],
        "objects": len(source), "objects_fingerprint": source.fingerprint(), "part_size": part_size,
    }  # fmt: skip

    already = _reusable_parts(parts_dir, plan) if resume else set()
    world_size = 1
    scored_now = 0
    if len(already) < len(parts):
        EnsembleModule, PartsDataModule = _lightning_classes()
        module = EnsembleModule(loaded, tta, precision_used, engine, channels_last, parts_dir / "onnx")
        writer = PartWriter(parts_dir, parts, model_columns, progress=progress)
        datamodule = PartsDataModule(source, parts, plan, parts_dir, resume, batch_size, workers, max_parts, writer)
        n_devices = devices
        with _quiet_lightning():
            trainer = pl.Trainer(
                accelerator=accelerator, devices=n_devices, num_nodes=num_nodes,
                strategy="ddp" if (n_devices not in (1, "1") or num_nodes > 1) else "auto",
                precision="32-true", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                enable_model_summary=False, callbacks=[writer], use_distributed_sampler=False,
                inference_mode=True,
            )  # fmt: skip
            trainer.predict(module, datamodule=datamodule, return_predictions=False)
            world_size = trainer.world_size
            if world_size > 1:
                trainer.strategy.barrier("brahmasifier-parts-written")
            if not trainer.is_global_zero:
                stub = _summary_stub(loaded, tta, precision_used, engine, device_label, world_size, parts, started)
                stub.rank = trainer.global_rank
                return stub
        already = datamodule.reused

    finished = done_parts(parts_dir)
    scored_now = sum(len(p) for p in parts if p.number in finished and p.number not in already)
    if len(finished & {p.number for p in parts}) < len(parts):
        summary = _summary_stub(loaded, tta, precision_used, engine, device_label, world_size, parts, started)
        summary.parts_reused = len(already)
        summary.parts_scored = len(finished - already)
        return summary
    result = merge_parts(parts_dir, parts, model_columns, threshold_value, out, probs_out, source.rejected)
    if not keep_parts:
        import shutil

        shutil.rmtree(parts_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    return PredictionSummary(
        **result.counts(), threshold=threshold_value, models=[m.name for m in loaded], tta=tta,
        precision=precision_used, engine=engine, device=device_label, world_size=world_size,
        parts_total=len(parts), parts_reused=len(already), parts_scored=len(parts) - len(already),
        seconds=seconds, objects_per_second=(scored_now / seconds if seconds > 0 else 0.0),
        out=str(out), probs_out=None if probs_out is None else str(probs_out), rejected_out=str(result.rejected_out),
    )  # fmt: skip


def _reusable_parts(parts_dir: Path, plan: dict[str, Any]) -> set[int]:
    """Parts an earlier run with the same plan left (read-only check, safe on every rank)."""
    plan_path = parts_dir / "plan.json"
    try:
        same = json.loads(plan_path.read_text()) == json.loads(json.dumps(plan))
    except (OSError, json.JSONDecodeError):
        return set()
    return done_parts(parts_dir) if same else set()


def _export_for_scoring(models: Sequence[LoadedModel], tta: str, fallback_dir: Path) -> list[Path]:
    """ONNX files (TTA baked in) for the ONNX Runtime path, from the export cache."""
    from brahmasifier.inference.onnx import cached_export

    return [cached_export(m.module, m.fingerprint, tta, fallback_dir, name=m.name) for m in models]


def _summary_stub(models: Sequence[LoadedModel], tta: str, precision: str, engine: str, device: str,
                  world_size: int, parts: Sequence[Part], started: float) -> PredictionSummary:
    """Summary of a rank that does not merge, or of a run stopped by ``max_parts``."""
    return PredictionSummary(
        **ObjectCounts(0, 0, 0, 0, 0, 0, 0).counts(), threshold=float("nan"), models=[m.name for m in models],
        tta=tta, precision=precision, engine=engine, device=device, world_size=world_size, parts_total=len(parts), parts_reused=0, parts_scored=0,
        seconds=time.perf_counter() - started, objects_per_second=0.0, out=None, probs_out=None, rejected_out=None,
        complete=False,
    )  # fmt: skip
