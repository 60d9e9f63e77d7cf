"""The metrics as text: labels of metric keys, value formatting, the terminal and HTML table rows."""

from __future__ import annotations

from typing import Any

__all__ = ["METRIC_LABELS", "format_table", "format_value", "metric_label", "table_rows", "undefined_notes"]

METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy", "precision": "precision", "recall": "recall (completeness)", "f1": "F1",
    "fpr": "FPR", "auc_roc": "AUC-ROC", "average_precision": "average precision", "tpr0": "TPR0",
    "tpr10": "TPR10", "purity_at_threshold": "purity at threshold",
}


def metric_label(name: str) -> str:
    """Human-readable name of a metric key."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    if name.startswith("tpr_at_fpr_"):
        return f"TPR at FPR={float(name.removeprefix('tpr_at_fpr_')):g}"
    if name.startswith("purity_at_tpr_"):
        return f"purity at TPR={name.removeprefix('purity_at_tpr_')}"
    return name


def format_value(entry: dict[str, Any], digits: int = 4) -> str:
    """``0.9731 [0.9612, 0.9803]``, ``n/a`` for undefined, ``*`` for unsupported low FPRs."""
    value = entry.get("value")
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    if entry.get("ci68"):
        lo, hi = entry["ci68"]
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if entry.get("supported") is False:
        text += " *"
    return text


def table_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (metric × subset) for the text and HTML tables."""
    subsets = {"overall": metrics["overall"], **metrics["by_domain"]}
    header = ["metric"] + [f"{name} (n={s['n']}: {s['n_lenses']} L / {s['n_nonlenses']} N)" for name, s in subsets.items()]
    names = list(metrics["overall"]["metrics"])
    rows = [[metric_label(n)] + [format_value(s["metrics"][n]) for s in subsets.values()] for n in names]
    return header, rows


def format_table(metrics: dict[str, Any]) -> str:
    """Readable fixed-width table for the terminal."""
    header, rows = table_rows(metrics)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    s = metrics["settings"]
    lines.append(f"values [68% bootstrap interval, {s['n_bootstrap']} resamples]; decision {s['decision']}; "
                 f"purity at prevalence {s['prevalence']:g}; * = too few non-lenses to measure this FPR")
    return "\n".join(lines)


def undefined_notes(metrics: dict[str, Any]) -> list[str]:
    """Unique explanations of undefined or weakly supported numbers, for the report."""
    notes: list[str] = []
    for subset, block in {"overall": metrics["overall"], **metrics["by_domain"]}.items():
        for name, entry in block["metrics"].items():
            for key in ("reason", "note"):
                if key in entry:
                    text = f"{subset}: {metric_label(name)}: {entry[key]}"
                    if text not in notes:
                        notes.append(text)
    return notes

