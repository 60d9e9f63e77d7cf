"""The Lightning pieces of prediction: the ensemble module and the per-rank parts data module.

Both are plain module-level classes (importable and testable on their own);
:func:`brahmasifier.inference.predictor.predict` runs them with ``Trainer.predict`` and a
:class:`~brahmasifier.inference.writer.PartWriter`. Precision: the module autocasts to
bf16/fp16 itself for ``bf16-mixed``/``16-mixed`` and the Trainer runs at ``32-true``, because
the ONNX Runtime engine (numpy in, numpy out) must not be wrapped in torch's autocast.

Models with a regression head (PyTorch engine only) also give parameter estimates: each model's
TTA-combined Gaussians become its calibrated
:class:`~brahmasifier.models.target_decode.Predictive` (its own standardisation and σ factors), the
models' predictives combine with the ensemble rule
(:func:`~brahmasifier.inference.gaussian_ensemble.combine_predictives`), and the batch output's
``parameters`` holds ``(B, 3·D)``: the means, variances and pair covariances in the encoded
physical units (:func:`brahmasifier.inference.parameters.parameter_columns` names them in the part files).

When the first model's card holds the training embedding's density (:mod:`brahmasifier.shift`),
the batch output also has ``ood_score``: the Mahalanobis distance of that model's embedding of
the unchanged view, captured by a forward hook during the scoring pass (no second pass).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from brahmasifier.inference.ensemble import LoadedModel
from brahmasifier.inference.parts import Part, batches_of, done_parts, parts_for_rank, prepare_parts_dir
from brahmasifier.inference.sources import BatchDataset, ObjectSource
from brahmasifier.inference.tta import TTAModel
from brahmasifier.inference.writer import PartWriter
from brahmasifier.survey.checks import Registration

__all__ = ["EnsembleModule", "PartsDataModule"]


class EnsembleModule(pl.LightningModule):
    """Scores a batch with every model × TTA view; returns calibrated logits per model."""

    temperatures: torch.Tensor  # a buffer (moves with the module)

    def __init__(self, models: Sequence[LoadedModel], tta: str, precision: str, engine: str,
                 channels_last: bool, onnx_dir: Path) -> None:
        super().__init__()
        self.engine = engine
        self.tta = tta
        self.precision_mode = precision
        self.channels_last = channels_last
        self.onnx_dir = onnx_dir
        self.onnx_models = list(models) if engine == "onnx" else []
        self.sessions: list[Any] = []
        self.nets = nn.ModuleList([] if engine == "onnx" else [TTAModel(m.module, tta, channels_last) for m in models])
        self.specs = [None if engine == "onnx" else m.targets for m in models]
        self.ensemble_spec = next((spec for spec in self.specs if spec is not None), None)
        self.register_buffer("temperatures", torch.tensor([m.temperature for m in models], dtype=torch.float32),
                             persistent=False)
        # The OOD score reuses the forward pass: a hook on the first model's last layer keeps its input (the
        # embedding, all TTA views stacked, the unchanged view first) when that model's card has a density.
        self.density = models[0].embedding if engine != "onnx" and models else None
        self._embedding: torch.Tensor | None = None
        if self.density is not None:
            from brahmasifier.shift.embedding import embedding_layer

            embedding_layer(models[0].module).register_forward_hook(self._keep_embedding)

    def _keep_embedding(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if self._embedding is None:  # the first model's pass only
            self._embedding = inputs[0].detach()

    def on_predict_start(self) -> None:
        """ONNX engine: export (or reuse) each model's graph and open its session."""
        if self.engine == "onnx" and not self.sessions:
            from brahmasifier.inference.onnx import OnnxLogits, cached_export

            # After the data module's setup, so a stale parts folder is already cleared.
            files = [cached_export(m.module, m.fingerprint, self.tta, self.onnx_dir, name=m.name) for m in self.onnx_models]
            self.sessions = [OnnxLogits(f) for f in files]

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision_mode == "32-true" or self.engine == "onnx":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision_mode == "bf16-mixed" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def raw_logits(self, images: torch.Tensor) -> torch.Tensor:
        """``(M, B)`` TTA-averaged logits of each model, before temperature."""
        return self.raw_outputs(images)[0]

    def raw_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, np.ndarray | None]:
        """``(M, B)`` TTA-averaged logits, and the ensemble's parameter predictive ``(B, 3·D)`` (None without heads)."""
        if self.engine == "onnx":
            x = images.detach().cpu().numpy()
            return torch.from_numpy(np.stack([s(x) for s in self.sessions])), None
        from brahmasifier.inference.gaussian_ensemble import combine_predictives
        from brahmasifier.models.target_decode import predictive

        logits, members = [], []
        self._embedding = None
        with self._autocast():
            for module, spec in zip(self.nets, self.specs, strict=True):
                net = cast(TTAModel, module)
                if spec is None:
                    logits.append(net(images).float())
                    continue
                logit, mean, var = net.with_parameters(images, spec)
                logits.append(logit.float())
                members.append(predictive(spec, mean, var))
        if not members:
            return torch.stack(logits), None
        assert self.ensemble_spec is not None
        pred = combine_predictives(members, self.ensemble_spec)
        return torch.stack(logits), np.concatenate([pred.mean, pred.var, pred.cov12], axis=1)

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Calibrated logits of each model and their mean (+ parameter predictive), with the batch's object metadata."""
        raw, parameters = self.raw_outputs(batch["image"])
        calibrated = raw.to(self.temperatures.device) / self.temperatures[:, None]
        out = {
            "part": batch["part"],
            "position": batch["position"].cpu().numpy(),
            "n_nan": batch["n_nan"].cpu().numpy(),
            "id": batch["id"], "stem": batch["stem"], "error": batch["error"], "file": batch["file"],
            "id_source": batch.get("id_source") or [""] * len(batch["id"]),
            "stamp": batch.get("stamp") or [""] * len(batch["id"]),
            "model_logits": calibrated.cpu().numpy(),
            "logit": calibrated.mean(dim=0).cpu().numpy(),
            "pixels": {name: np.asarray(values) for name, values in (batch.get("pixels") or {}).items()},
        }
        if parameters is not None:
            out["parameters"] = parameters
        if self.density is not None and self._embedding is not None:
            features = self._embedding[: len(batch["id"])].float().cpu().numpy()
            out["ood_score"] = self.density.distance(features)
        return out


class PartsDataModule(pl.LightningDataModule):
    """Builds each rank's DataLoader over its own parts once the rank is known."""

    def __init__(self, source: ObjectSource, parts: Sequence[Part], plan: dict[str, Any], parts_dir: Path, resume: bool,
                 batch_size: int, workers: int, max_parts: int | None, writer: PartWriter,
                 registration: Registration | None = None) -> None:
        super().__init__()
        self.source, self.parts, self.plan, self.parts_dir = source, list(parts), plan, parts_dir
        self.resume, self.batch_size, self.workers, self.max_parts = resume, batch_size, workers, max_parts
        self.writer = writer
        self.registration = registration or Registration()
        self.reused: set[int] = set()
        self.todo: list[Part] = []

    def setup(self, stage: str) -> None:
        """Rank 0 prepares the parts folder; every rank then takes its unfinished parts."""
        trainer = self.trainer
        assert trainer is not None, "Lightning attaches the trainer before setup"
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
        trainer = self.trainer
        return (torch.cuda.is_available() and trainer is not None
                and trainer.accelerator.__class__.__name__ == "CUDAAccelerator")

    def predict_dataloader(self) -> DataLoader[Any]:
        """Whole batches of this rank's parts, in order (a reader thread, or worker processes)."""
        dataset = BatchDataset(self.source, batches_of(self.todo, self.batch_size), self.registration)
        if not self.workers:
            from brahmasifier.inference.prefetch import ThreadPrefetchedBatches

            return DataLoader(ThreadPrefetchedBatches(dataset, depth=2), batch_size=None, num_workers=0,
                              pin_memory=self._pin_memory())
        return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=self.workers,
                          pin_memory=self._pin_memory(), prefetch_factor=4, persistent_workers=False,
                          # forked workers of a process whose thread pools (OpenMP, ONNX Runtime)
                          # already ran can hang on an inherited lock; forkserver starts clean.
                          multiprocessing_context="forkserver")
