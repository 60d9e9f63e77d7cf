"""Evaluation figures as PNG files.

ROC (log FPR), precision-recall, score histograms, reliability diagram, completeness against
lens parameters.

Figures are built with ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot global
state), so plotting is safe in worker processes and never opens a window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brahmasifier.binary_metrics import roc_curve
from brahmasifier.display import save_figure
from brahmasifier.evaluation.calibration import ReliabilityCurve
from brahmasifier.evaluation.metrics import ranking_scores

__all__ = [
    "CLASS_COLORS", "DPI", "SUBSET_COLORS", "plot_completeness", "plot_precision_recall", "plot_reliability",
    "plot_roc", "plot_score_histograms",
]

#: Colours per subset; the same everywhere in the report.
SUBSET_COLORS: dict[str, str] = {"overall": "black", "slsim": "tab:blue", "hsc": "tab:orange", "unknown": "tab:gray"}
CLASS_COLORS: dict[int, str] = {1: "tab:red", 0: "tab:blue"}
DPI = 110


def _subsets(table: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """("overall", all) then each domain present, when there is more than one."""
    out = [("overall", np.ones(len(table), dtype=bool))]
    domains = sorted(set(table["domain"]))
    if len(domains) > 1:
        out += [(d, (table["domain"] == d).to_numpy()) for d in domains]
    return out


def _color(name: str) -> str:
    return SUBSET_COLORS.get(name, "tab:green")


def plot_roc(table: pd.DataFrame, path: str | os.PathLike[str], fprs: tuple[float, ...] = (1e-2, 1e-3, 1e-4)) -> Path:
    """ROC curves per domain with log-scale FPR; the lowest measurable FPR (1/N) is marked."""
    scores, score_name = ranking_scores(table)
    labels = table["label"].to_numpy()
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    drawn = False
    for name, mask in _subsets(table):
        y, s = labels[mask], scores[mask]
        n_neg = int((y == 0).sum())
        if n_neg == 0 or n_neg == y.size:
            continue
        fpr, tpr, _ = roc_curve(s, y)
        floor = 1.0 / n_neg
        # a zero FPR cannot be drawn on a log axis: draw it at half the lowest measurable FPR
        ax.step(np.maximum(fpr, floor / 2), tpr, where="post", color=_color(name), label=f"{name} ({n_neg} non-lenses)")
        ax.axvline(floor, color=_color(name), lw=0.6, ls=":")
        drawn = True
    for f in fprs:
        ax.axvline(f, color="0.8", lw=0.8, zorder=0)
    ax.set_xscale("log")
    ax.set_xlim(right=1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false-positive rate (dotted: 1 / number of non-lenses)")
    ax.set_ylabel("true-positive rate (completeness)")
    ax.set_title(f"ROC (ranking by {score_name})")
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "needs both lenses and non-lenses", transform=ax.transAxes, ha="center")
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_precision_recall(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Precision-recall curves per domain, with each set's lens fraction as the chance level."""
    from sklearn.metrics import precision_recall_curve

    scores, _ = ranking_scores(table)
    labels = table["label"].to_numpy()
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    for name, mask in _subsets(table):
        y, s = labels[mask], scores[mask]
        if y.sum() == 0 or y.sum() == y.size:
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        ax.step(recall, precision, where="post", color=_color(name), label=f"{name} (lens fraction {y.mean():.3f})")
        ax.axhline(y.mean(), color=_color(name), lw=0.6, ls=":")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (completeness)")
    ax.set_ylabel("precision (purity in this labelled set)")
    ax.set_title("Precision-recall")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_score_histograms(table: pd.DataFrame, path: str | os.PathLike[str], threshold: float) -> Path:
    """Histograms of the lens probability per class, one panel per subset (log counts)."""
    subsets = _subsets(table)
    fig = Figure(figsize=(4.2 * len(subsets), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(subsets), squeeze=False)[0])
    bins = np.linspace(0, 1, 41)
    probs = table["prob"].to_numpy()
    labels = table["label"].to_numpy()
    for ax, (name, mask) in zip(axes, subsets, strict=False):
        for label, text in ((0, "non-lenses"), (1, "lenses")):
            sel = mask & (labels == label)
            if sel.any():
                ax.hist(probs[sel], bins=bins, histtype="step", lw=1.5, color=CLASS_COLORS[label],
                        label=f"{text} ({int(sel.sum())})")
        ax.axvline(threshold, color="k", ls="--", lw=0.8, label=f"threshold {threshold:g}")
        ax.set_yscale("log")
        ax.set_xlabel("lens probability")
        ax.set_title(name)
        ax.legend(fontsize=7, loc="upper center")
    axes[0].set_ylabel("objects")
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_reliability(curves: Mapping[str, ReliabilityCurve], path: str | os.PathLike[str]) -> Path:
    """Reliability diagram: lens fraction against mean predicted probability per bin, with ECE."""
    fig = Figure(figsize=(9.6, 4.6))
    ax, ax_counts = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="perfectly calibrated")
    styles = ["o-", "s-", "^-", "d-"]
    colors = ["tab:red", "tab:green", "tab:purple", "tab:brown"]
    for k, (name, curve) in enumerate(curves.items()):
        filled = curve.count > 0
        ax.plot(curve.confidence[filled], curve.accuracy[filled], styles[k % 4], color=colors[k % 4], ms=4,
                label=f"{name} (ECE {curve.ece:.4f})")
        centers = 0.5 * (curve.bin_edges[1:] + curve.bin_edges[:-1])
        ax_counts.step(centers, curve.count.astype(float), where="mid", color=colors[k % 4], label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted lens probability in bin")
    ax.set_ylabel("fraction of lenses in bin")
    ax.set_title("Reliability")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ax_counts.set_yscale("log")
    ax_counts.set_ylim(bottom=0.8)
    ax_counts.set_xlim(0, 1)
    ax_counts.set_xlabel("predicted lens probability")
    ax_counts.set_ylabel("objects per bin")
    ax_counts.set_title("Bin counts")
    return save_figure(fig, path, dpi=DPI, tight=True)


def plot_completeness(block: Mapping[str, Any], path: str | os.PathLike[str], xlabel: str) -> Path:
    """Completeness at the threshold in bins of a lens parameter, with 68% intervals and counts."""
    bins = [b for b in block["bins"] if b["n_lenses"] > 0]
    x = np.array([b["center"] for b in bins])
    y = np.array([b["completeness"] for b in bins])
    lo = np.array([b["ci68"][0] for b in bins])
    hi = np.array([b["ci68"][1] for b in bins])
    xerr = np.array([[b["center"] - b["lo"] for b in bins], [b["hi"] - b["center"] for b in bins]])
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    ax.errorbar(x, y, yerr=[y - lo, hi - y], xerr=xerr, fmt="o", color="tab:red", capsize=3)
    for b, xi, yi in zip(bins, x, y, strict=True):
        ax.annotate(f"{b['n_found']}/{b['n_lenses']}", (xi, yi), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"completeness at prob >= {block['threshold']:g}")
    ax.set_title(f"Completeness vs {block['parameter']} ({block['n_lenses_with_value']} lenses)")
    ax.grid(alpha=0.3)
    return save_figure(fig, path, dpi=DPI, tight=True)
