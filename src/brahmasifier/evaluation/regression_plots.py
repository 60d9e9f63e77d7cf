"""Figures of the parameter regression: predicted vs true, coverage curves, errors against θ_E / arc S/N.

Built on ``matplotlib.figure.Figure`` (no pyplot state), written atomically, like
:mod:`brahmasifier.evaluation.plots` (whose colours and resolution they share).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from brahmasifier.display import save_figure
from brahmasifier.evaluation.plots import DPI, SUBSET_COLORS

__all__ = ["plot_binned_errors", "plot_coverage", "plot_interval_coverage", "plot_predicted_vs_true"]


def plot_predicted_vs_true(
    values: pd.DataFrame,
    truth: pd.DataFrame,
    columns: Sequence[str],
    path: str | os.PathLike[str],
    domains: np.ndarray | None = None,
    n_cols: int = 6,
) -> Path:
    """One panel per column: predicted against true (points per domain) with the 1:1 line."""
    columns = [c for c in columns if c in values.columns and c in truth.columns]
    n_rows = max(1, math.ceil(len(columns) / n_cols))
    fig = Figure(figsize=(2.3 * n_cols, 2.3 * n_rows))
    doms = np.full(len(values), "all") if domains is None else np.asarray(domains).astype(str)
    for k, col in enumerate(columns):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        pred, true = values[col].to_numpy(dtype=np.float64), truth[col].to_numpy(dtype=np.float64)
        ok = np.isfinite(pred) & np.isfinite(true)
        for dom in sorted(set(doms[ok])):
            sel = ok & (doms == dom)
            ax.scatter(true[sel], pred[sel], s=2, alpha=0.35, lw=0, color=SUBSET_COLORS.get(dom, "tab:green"), label=dom)
        if ok.any():
            lo, hi = np.percentile(np.r_[true[ok], pred[ok]], [0.5, 99.5])
            ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
        ax.set_title(f"{col} (n={int(ok.sum())})", fontsize=8)
        ax.tick_params(labelsize=6)
        if k == 0 and domains is not None:
            ax.legend(fontsize=6, markerscale=4, loc="upper left")
    fig.supxlabel("true", fontsize=9)
    fig.supylabel("predicted", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_coverage(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike[str],
                  band: tuple[float, float] = (0.63, 0.73)) -> Path:
    """Observed against nominal coverage per learned dimension (``coverage_curve`` output).

    The diagonal is perfect calibration, the grey box the accepted 68% coverage ``band``.
    """
    fig = Figure(figsize=(5.2, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="black", lw=1)
    ax.add_patch(_box(0.6827, band))
    cmap = colormaps["tab20"]
    for k, (name, (levels, observed)) in enumerate(curves.items()):
        ax.plot(levels, observed, lw=0.9, color=cmap(k % 20), label=name)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if len(curves) <= 40:
        ax.legend(fontsize=5, ncol=2, loc="upper left", frameon=False)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI, tight=True)


def _box(x: float, band: tuple[float, float]) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.01, band[0]), 0.02, band[1] - band[0], color="0.6", alpha=0.6, zorder=5)


def plot_binned_errors(entries: Mapping[str, Sequence[Mapping[str, Any]]], path: str | os.PathLike[str], xlabel: str,
                       ylabel: str = "error (pred − true)") -> Path:
    """Bias (median) and 16–84% error range per bin, one line per parameter (``binned_metrics`` rows)."""
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for k, (name, rows) in enumerate(entries.items()):
        rows = [r for r in rows if r.get("bias") is not None]
        if not rows:
            continue
        hi_edge = [r["hi"] if np.isfinite(r["hi"]) else 2 * r["lo"] for r in rows]
        x = np.array([(r["lo"] + h) / 2 for r, h in zip(rows, hi_edge, strict=True)])
        bias = np.array([r["bias"] for r in rows])
        lo, hi = np.array([r["p16"] for r in rows]), np.array([r["p84"] for r in rows])
        ax.errorbar(x * (1 + 0.02 * k), bias, yerr=[bias - lo, hi - bias], marker="o", ms=3, capsize=2, lw=1, label=name)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_interval_coverage(metrics: Mapping[str, Mapping[str, Any]], path: str | os.PathLike[str],
                           band: tuple[float, float] = (0.63, 0.73)) -> Path:
    """Observed coverage of the 68% and 95% intervals per column (``regression_metrics`` output), nominal lines and ``band``."""
    columns = [c for c in metrics if metrics[c]["all"].get("coverage_68") is not None]
    fig = Figure(figsize=(max(5.0, 0.28 * len(columns) + 1.5), 3.6))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(columns))
    ax.axhspan(*band, color="0.85", zorder=0)
    for level, key, color in ((0.6827, "coverage_68", "tab:blue"), (0.95, "coverage_95", "tab:orange")):
        ax.axhline(level, color=color, lw=0.8, ls="--")
        ax.plot(x, [metrics[c]["all"].get(key) for c in columns], "o", ms=4, color=color, label=f"{key[-2:]}% interval")
    ax.set_xticks(x, columns, rotation=90, fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("observed coverage")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI, tight=True)
