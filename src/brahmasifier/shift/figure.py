"""The check's figure (``check.png``) and terminal table.

The figure has one panel per statistic family (the i band for the per-band ones): the
reference's cumulative distribution (from its stored quantiles) against the new data's (from
its sample), plus the normalised-pixel histograms and, with a model, the OOD score's
distribution against the training validation quantiles. Built with ``matplotlib.figure.Figure``
(Agg canvas, no pyplot state), like the evaluation plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier.display import save_figure

__all__ = ["PANELS", "check_figure", "format_check_table"]

#: Statistics drawn as cumulative distributions, with their axis labels.
PANELS: tuple[tuple[str, str], ...] = (
    ("sigma_i", "sky noise σ, i band"), ("corr_i", "neighbour correlation (high-passed sky), i"),
    ("fwhm_i", "PSF size proxy: core FWHM (px), i"), ("flux_i", "central flux, i"),
    ("misalign", "band misalignment (px)"), ("masked", "masked-pixel fraction"),
)


def _cdf(ax: Any, ref: dict[str, Any], levels: list[float], values: np.ndarray, label: str) -> None:
    if ref.get("quantiles") is not None:
        ax.plot(ref["quantiles"], levels, color="0.3", lw=2, label="reference")
    v = np.sort(values[np.isfinite(values)])
    if v.size:
        ax.plot(v, np.arange(1, v.size + 1) / v.size, color="C3", lw=1.5, label="new data")
    ax.set_xlabel(label, fontsize=8)
    ax.set_ylabel("cumulative fraction", fontsize=8)
    ax.tick_params(labelsize=7)


def check_figure(result: Any, density: Any, path: str | Path) -> Path:
    """Write the check's figure to ``path`` (PNG, atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 6.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 4).ravel()
    ref = result.reference_summary
    levels = ref["quantile_levels"]
    flagged = {f.statistic for f in result.findings if f.flagged}
    for ax, (column, label) in zip(axes, PANELS, strict=False):
        values = np.asarray(result.values.get(column, np.empty(0)))
        _cdf(ax, ref["columns"].get(column, {}), levels, values, label)
        if column in flagged:
            ax.set_title("differs", color="C3", fontsize=9)
    ax = axes[6]
    edges = np.asarray(ref["pixel_histogram"]["edges_asinh"])
    centres = np.concatenate([[edges[0] - 0.25], 0.5 * (edges[1:] + edges[:-1]), [edges[-1] + 0.25]])
    ax.step(centres, ref["pixel_histogram"]["fractions"], where="mid", color="0.3", lw=2, label="reference")
    ax.step(centres, result.summary["pixel_histogram"]["fractions"], where="mid", color="C3", lw=1.5, label="new data")
    ax.set_yscale("log")
    ax.set_xlabel("asinh((pixel − sky)/σ), all bands", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax = axes[7]
    if density is not None and result.ood_scores.size:
        ax.plot(density.distance_quantiles, levels, color="0.3", lw=2, label="training (validation)")
        s = np.sort(result.ood_scores)
        ax.plot(s, np.arange(1, s.size + 1) / s.size, color="C3", lw=1.5, label="new data")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no embedding\n(no model with statistics)", ha="center", va="center", fontsize=8)
    ax.set_xlabel("OOD score: embedding Mahalanobis distance", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.suptitle(result.verdict, fontsize=10, color="C3" if flagged else "0.1")
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def format_check_table(result: Any) -> str:
    """The terminal table: statistic, reference, new data, effect, distance, flag."""
    rows = [("statistic", "reference", "new data", "distance", "differs")]
    for f in result.findings:
        ref = "" if f.train is None else f"{f.train:.4g}"
        new = "" if f.new is None else f"{f.new:.4g}"
        dist = "" if f.distance is None else f"{f.distance_kind} {f.distance:.3f}"
        rows.append((f.label, ref, new, dist, f.describe() if f.flagged else ""))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
