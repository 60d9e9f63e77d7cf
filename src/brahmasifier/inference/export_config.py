"""Settings of an ONNX export (``brahmasifier export``, :func:`brahmasifier.inference.onnx.export_onnx`), checked once.

``brahmasifier export``'s options are generated from :class:`ExportConfig`
(``brahmasifier.commands.export.SETTINGS``) and ``--config FILE`` sets the same names;
``export_onnx`` makes one from its ``tta`` and ``opset``, so they are checked here only.
This module imports neither torch nor onnx: the CLI builds its parser from it cheaply.

- ``opset`` >= :data:`MIN_OPSET` = 17: LayerNorm (ConvNeXt) is a native op from 17 on.
- ``tta="none"``: one view; another of :data:`~brahmasifier.inference.config.TTA_ELEMENTS`
  bakes its views into the graph (mean logit).
- ``verify=True``: ONNX Runtime's logits are compared with PyTorch's after the export.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from brahmasifier.inference.config import TTA_ELEMENTS
from brahmasifier.settings import Problems

__all__ = ["MIN_OPSET", "ExportConfig"]

#: Lowest opset we export: LayerNorm (ConvNeXt) is a native op from 17 on.
MIN_OPSET: int = 17


@dataclass(frozen=True)
class ExportConfig:
    """One export: the model, the ONNX file, the baked-in TTA views, the opset and the check."""

    model: str | os.PathLike[str] = ""
    out: str | os.PathLike[str] = ""
    tta: str = "none"
    opset: int = MIN_OPSET
    verify: bool = True

    def __post_init__(self) -> None:
        problems = Problems("")
        if self.tta not in TTA_ELEMENTS:
            problems.add(f"unknown TTA mode {self.tta!r}; expected one of {', '.join(TTA_ELEMENTS)}")
        if self.opset < MIN_OPSET:
            problems.add(f"opset must be >= {MIN_OPSET}, got {self.opset}")
        problems.check()

    def to_dict(self) -> dict[str, Any]:
        """Plain settings (paths as text)."""
        return {**asdict(self), "model": str(self.model), "out": str(self.out)}
