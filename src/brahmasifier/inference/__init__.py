"""Prediction: ensemble × TTA over FITS trees or stores, resumable parts, submission, ONNX.

Heavy modules (torch, Lightning) load on first use of :func:`~brahmasifier.inference.predictor.predict` /
:func:`~brahmasifier.inference.onnx.export_onnx`.
"""

from __future__ import annotations

from typing import Any

from brahmasifier.errors import SubmissionError
from brahmasifier.inference.submission import SUBMISSION_COLUMNS, read_submission, write_submission

__all__ = [
    "SUBMISSION_COLUMNS",
    "TTA_VIEWS",
    "PredictConfig",
    "PredictionSummary",
    "SubmissionError",
    "TTAModel",
    "export_onnx",
    "predict",
    "read_submission",
    "write_submission",
]

_LAZY = {
    "PredictConfig": "brahmasifier.inference.config",
    "predict": "brahmasifier.inference.predictor",
    "PredictionSummary": "brahmasifier.inference.predictor",
    "export_onnx": "brahmasifier.inference.onnx",
    "TTA_VIEWS": "brahmasifier.inference.tta",
    "TTAModel": "brahmasifier.inference.tta",
}


def __getattr__(name: str) -> Any:
    """Load torch-based parts on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'brahmasifier.inference' has no attribute {name!r}")
