"""Regression metrics per parameter and domain, overall and in bins of θ_E and arc S/N.

For each output column, with ``d = true − pred`` (wrapped into ``[−P/2, P/2)`` for position
angles of period P = 180°) and the error ``err`` of the column's kind:

- ``linear``: ``err = pred − true`` (θ_E in arcsec, magnitudes, positions, ellipticities);
- ``relative``: ``err = (pred − true) / true`` (σ_v, sizes, Sérsic indices);
- ``redshift``: ``err = (pred − true) / (1 + true)`` (the photometric-redshift convention);
- ``angle``: ``err = −d`` wrapped (degrees or radians, as the column is written).

the metrics are: ``bias`` = median(err); ``nmad`` = 1.4826 · median|err − median(err)|;
``p16``/``p84`` = the 16th/84th percentiles of err; ``outlier_fraction`` = the fraction of
catastrophic outliers, ``|err| > threshold`` where a physical threshold is set in
:data:`OUTLIER_THRESHOLDS` (3× the issue-15 targets: 0.3″ for θ_E, 30% for σ_v; the
photo-z convention 0.15 for redshifts), otherwise ``|err − bias| > 3 · nmad`` (a robust 3σ);
``coverage_68``/``coverage_95`` = the fraction of rows whose truth lies inside the predicted
interval ``[pred − minus, pred + plus]`` (as :func:`brahmasifier.models.target_decode.decode` gives them).
Rows where the truth (-999/NaN) or the prediction is missing are left out and counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_BINS", "OUTLIER_THRESHOLDS", "binned_metrics", "coverage_curve", "errors", "nmad", "parameter_metrics",
    "regression_metrics",
]

#: Physical catastrophic-outlier thresholds in the column's error units (see module docstring).
OUTLIER_THRESHOLDS: dict[str, float] = {"Rein": 0.3, "vel_disp": 0.3, "zlens": 0.15, "zsrc": 0.15, "z_central": 0.15}
#: Bin edges of the truth columns the metrics are also computed in: θ_E (″) and arc S/N.
DEFAULT_BINS: dict[str, tuple[float, ...]] = {
    "Rein": (0.0, 0.5, 0.75, 1.0, 1.5, 3.0),
    "sim_arc_snr": (0.0, 40.0, 60.0, 100.0, 200.0, np.inf),
}
_NMAD = 1.4826


def nmad(err: np.ndarray) -> float:
    """Normalised median absolute deviation, ``1.4826 · median|err − median(err)|`` (NaN if empty)."""
    err = np.asarray(err, dtype=np.float64)
    if err.size == 0:
        return float("nan")
    return float(_NMAD * np.median(np.abs(err - np.median(err))))


def _wrap(d: np.ndarray, period: float) -> np.ndarray:
    return np.mod(d + period / 2.0, period) - period / 2.0


def errors(kind: str, pred: np.ndarray, true: np.ndarray, period: float = 180.0) -> tuple[np.ndarray, np.ndarray]:
    """``(err, d)``: the error of ``kind`` (see module docstring) and ``d = true − pred`` (wrapped for angles)."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    d = true - pred
    if kind == "linear":
        return -d, d
    if kind == "relative":
        return -d / true, d
    if kind == "redshift":
        return -d / (1.0 + true), d
    if kind == "angle":
        d = _wrap(d, period)
        return -d, d
    raise ValueError(f"unknown error kind {kind!r}")


def parameter_metrics(
    pred: np.ndarray,
    true: np.ndarray,
    kind: str = "linear",
    intervals: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
    threshold: float | None = None,
    period: float = 180.0,
) -> dict[str, Any]:
    """Metrics of one parameter on one set of rows (see module docstring).

    Args:
        pred: predicted values.
        true: true values (-999/NaN rows are left out).
        kind: error kind.
        intervals: level → ``(minus, plus)`` distances from ``pred`` to the interval's ends.
        threshold: physical catastrophic-outlier threshold on ``|err|`` (None: 3 · NMAD about the bias).
        period: period of angles.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    ok = np.isfinite(pred) & np.isfinite(true) & (true != -999.0)
    if kind == "relative":
        ok &= true != 0
    out: dict[str, Any] = {"n": int(ok.sum()), "n_missing": int((~ok).sum())}
    keys = ["bias", "nmad", "p16", "p84", "outlier_fraction"] + [f"coverage_{round(100 * lv)}" for lv in (intervals or {})]
    if not ok.any():
        return out | dict.fromkeys(keys)
    err, d = errors(kind, pred[ok], true[ok], period)
    bias, scatter = float(np.median(err)), nmad(err)
    outlier = np.abs(err) > threshold if threshold is not None else np.abs(err - bias) > 3.0 * scatter
    out |= {"bias": bias, "nmad": scatter, "p16": float(np.percentile(err, 16)), "p84": float(np.percentile(err, 84)),
            "outlier_fraction": float(outlier.mean()),
            "outlier_definition": f"|err| > {threshold:g}" if threshold is not None else "|err - bias| > 3 nmad"}
    for lv, (minus, plus) in (intervals or {}).items():
        lo, hi = np.asarray(minus, dtype=np.float64)[ok], np.asarray(plus, dtype=np.float64)[ok]
        out[f"coverage_{round(100 * lv)}"] = float(np.mean((d >= -lo) & (d <= hi)))
    return out


Intervals = Mapping[float, tuple[np.ndarray, np.ndarray]]


def _subset_intervals(intervals: Intervals | None, rows: np.ndarray) -> dict[float, tuple[np.ndarray, np.ndarray]] | None:
    return None if intervals is None else {lv: (m[rows], p[rows]) for lv, (m, p) in intervals.items()}


def binned_metrics(
    pred: np.ndarray,
    true: np.ndarray,
    by: np.ndarray,
    edges: Sequence[float],
    kind: str = "linear",
    intervals: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
    threshold: float | None = None,
    period: float = 180.0,
) -> list[dict[str, Any]]:
    """:func:`parameter_metrics` in bins ``[edges[k], edges[k+1])`` of ``by`` (rows with NaN/-999 ``by`` left out)."""
    by = np.asarray(by, dtype=np.float64)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = np.isfinite(by) & (by != -999.0) & (by >= lo) & (by < hi)
        entry = parameter_metrics(np.asarray(pred)[sel], np.asarray(true)[sel], kind, _subset_intervals(intervals, sel),
                                  threshold, period)
        rows.append({"lo": float(lo), "hi": float(hi), **entry})
    return rows


def regression_metrics(
    values: pd.DataFrame,
    truth: pd.DataFrame,
    kinds: Mapping[str, str],
    minus: Mapping[float, pd.DataFrame] | None = None,
    plus: Mapping[float, pd.DataFrame] | None = None,
    domains: np.ndarray | None = None,
    by: pd.DataFrame | None = None,
    bins: Mapping[str, Sequence[float]] = DEFAULT_BINS,
    period: float = 180.0,
) -> dict[str, dict[str, Any]]:
    """Metrics for every column of ``kinds``: ``{column: {"all": …, "<domain>": …, "by_<var>": [bins…]}}``.

    ``values``/``minus``/``plus`` are aligned row by row with ``truth`` (canonical columns,
    NaN where not applicable, as ``TargetSet.canonical_truth`` gives); ``by`` holds the binning
    variables (truth θ_E ``Rein``, ``sim_arc_snr``), binned only where present.
    """
    if len(values) != len(truth):
        raise ValueError(f"{len(values)} predictions for {len(truth)} truth rows")
    domains = None if domains is None else np.asarray(domains).astype(str)
    result: dict[str, dict[str, Any]] = {}
    for col, kind in kinds.items():
        if col not in values.columns or col not in truth.columns:
            continue
        pred, true = values[col].to_numpy(dtype=np.float64), truth[col].to_numpy(dtype=np.float64)
        intervals = None
        if minus is not None and plus is not None:
            intervals = {lv: (minus[lv][col].to_numpy(dtype=np.float64), plus[lv][col].to_numpy(dtype=np.float64))
                         for lv in minus}
        threshold = OUTLIER_THRESHOLDS.get(col)
        entry: dict[str, Any] = {"kind": kind, "all": parameter_metrics(pred, true, kind, intervals, threshold, period)}
        if domains is not None:
            for dom in sorted(set(domains)):
                sel = domains == dom
                entry[dom] = parameter_metrics(pred[sel], true[sel], kind, _subset_intervals(intervals, sel), threshold, period)
        if by is not None:
            for var, edges in bins.items():
                if var in by.columns:
                    entry[f"by_{var}"] = binned_metrics(pred, true, by[var].to_numpy(dtype=np.float64), edges, kind,
                                                        intervals, threshold, period)
        result[col] = entry
    return result


def coverage_curve(residuals: np.ndarray, levels: Sequence[float] = tuple(np.linspace(0.05, 0.99, 48))
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Observed vs nominal coverage of central Gaussian intervals: ``(levels, observed)``.

    ``residuals`` are standardised, ``(target − μ)/σ`` on one learned dimension ``(N,)``; NaN is left out.
    """
    from scipy.stats import norm

    r = np.abs(np.asarray(residuals, dtype=np.float64))
    r = r[np.isfinite(r)]
    levels_arr = np.asarray(levels, dtype=np.float64)
    if r.size == 0:
        return levels_arr, np.full(levels_arr.shape, np.nan)
    z = norm.ppf(0.5 + levels_arr / 2.0)
    return levels_arr, (r[None, :] <= z[:, None]).mean(axis=1)
