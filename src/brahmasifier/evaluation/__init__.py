"""Evaluation that lens searches trust: low-FPR metrics, calibration, plots, gallery, report.

Only calibration (numpy only) is imported eagerly; the rest is imported from the submodules
(``inputs``, ``bootstrap``, ``completeness``, ``metrics``, ``tables``, ``plots``, ``gallery``,
``report``) so that importing this package does not pull in matplotlib. The metric definitions
themselves are :mod:`brahmasifier.binary_metrics`, shared with training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brahmasifier.evaluation.calibration import ReliabilityCurve, expected_calibration_error, reliability_curve

if TYPE_CHECKING:
    from brahmasifier.evaluation.report import evaluate

__all__ = ["ReliabilityCurve", "evaluate", "expected_calibration_error", "reliability_curve"]


def __getattr__(name: str) -> Any:
    """Lazy access to :func:`brahmasifier.evaluation.report.evaluate` (heavy imports)."""
    if name == "evaluate":
        from brahmasifier.evaluation.report import evaluate

        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
