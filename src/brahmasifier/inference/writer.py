"""Per-rank part writer: turns the prediction loop's batch outputs into resumable part files.

Lightning calls :meth:`PartWriter.write_on_batch_end` on every rank with what
``predict_step`` returned. Batches of a part arrive consecutively (each rank reads its parts
in order, workers keep order), so the writer buffers at most one part, writes it atomically
when its last batch arrives, and frees it: memory stays bounded whatever the survey size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lightning.pytorch.callbacks import BasePredictionWriter

from brahmasifier._progress import progress_bar
from brahmasifier.inference.parts import Part, write_part
from brahmasifier.survey.checks import PIXEL_COLUMNS

__all__ = ["PartWriter", "part_frame"]


def part_frame(outputs: Sequence[dict[str, Any]], model_columns: Sequence[str],
               parameter_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A part's table from the batch outputs of ``predict_step`` (see predictor).

    ``parameter_columns`` name the columns of its ``parameters`` (a multi-task ensemble's predictive).
    """
    frame = pd.DataFrame({
        "position": np.concatenate([o["position"] for o in outputs]).astype(np.int64),
        "id": pd.array([i for o in outputs for i in o["id"]], dtype=object),
        "stem": pd.array([s for o in outputs for s in o["stem"]], dtype=object),
        "n_nan": np.concatenate([o["n_nan"] for o in outputs]).astype(np.int32),
        "error": pd.array([e for o in outputs for e in o["error"]], dtype=object),
        "file": pd.array([f for o in outputs for f in o["file"]], dtype=object),
        "id_source": pd.array([s for o in outputs for s in o.get("id_source") or [""] * len(o["id"])], dtype=object),
        "stamp": pd.array([s for o in outputs for s in o.get("stamp") or [""] * len(o["id"])], dtype=object),
        "logit": np.concatenate([o["logit"] for o in outputs]).astype(np.float64),
    })
    for column in PIXEL_COLUMNS:
        if all(column in (o.get("pixels") or {}) for o in outputs):
            frame[column] = np.concatenate([np.asarray(o["pixels"][column]) for o in outputs])
    model_logits = np.concatenate([o["model_logits"] for o in outputs], axis=1)
    for k, column in enumerate(model_columns):
        frame[column] = model_logits[k].astype(np.float64)
    if outputs and "ood_score" in outputs[0]:
        frame["ood_score"] = np.concatenate([o["ood_score"] for o in outputs]).astype(np.float64)
    if parameter_columns:
        values = np.concatenate([o["parameters"] for o in outputs], axis=0)
        frame = pd.concat([frame, pd.DataFrame(values.astype(np.float64), columns=list(parameter_columns))], axis=1)
    return frame


class PartWriter(BasePredictionWriter):
    """Writes ``part-NNNNN.parquet`` files as parts complete; shows objects/s on rank 0."""

    def __init__(
        self,
        parts_dir: str | os.PathLike[str],
        parts: Sequence[Part],
        model_columns: Sequence[str],
        progress: bool = True,
        parameter_columns: Sequence[str] = (),
    ) -> None:
        super().__init__(write_interval="batch")
        self.parts_dir = Path(parts_dir)
        self.parts = {p.number: p for p in parts}
        self.model_columns = list(model_columns)
        self.parameter_columns = list(parameter_columns)
        self.progress = progress
        self.total_objects = 0  # set by the data module: this rank's objects to score
        self.written: list[int] = []
        self._buffer: list[dict[str, Any]] = []
        self._buffered = 0
        self._part: int | None = None
        self._bar: Any = None

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        """Open the progress bar (rank 0)."""
        if self.progress and trainer.is_global_zero:
            desc = "scoring" if trainer.world_size == 1 else f"scoring (rank 0 of {trainer.world_size})"
            self._bar = progress_bar(total=self.total_objects, unit="obj", desc=desc, smoothing=0.1, dynamic_ncols=True)

    def write_on_batch_end(
        self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Buffer a batch; write its part when the part's last batch arrives."""
        number = int(prediction["part"])
        if self._part is not None and number != self._part:
            raise RuntimeError(f"part {self._part} incomplete when part {number} began (batches out of order)")
        self._part = number
        self._buffer.append(prediction)
        n = len(prediction["position"])
        self._buffered += n
        part = self.parts[number]
        if self._buffered == len(part):
            write_part(self.parts_dir, number, part_frame(self._buffer, self.model_columns, self.parameter_columns))
            self.written.append(number)
            self._buffer, self._buffered, self._part = [], 0, None
        elif self._buffered > len(part):
            raise RuntimeError(f"part {number}: got {self._buffered} rows for {len(part)} positions")
        if self._bar is not None:
            self._bar.update(n)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        """Close the progress bar; a part left half-written is a bug (batches out of order)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._buffer and self._part is not None:
            raise RuntimeError(f"part {self._part}: prediction ended with {self._buffered} of "
                               f"{len(self.parts[self._part])} rows")
