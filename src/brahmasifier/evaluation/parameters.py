"""``evaluate``'s lens-parameter section: estimates in the probabilities file scored against the truth.

Input: ``probs.csv`` columns written by ``predict`` for a model with a regression head
(:mod:`brahmasifier.inference.parameters`: ``X``, ``X_sigma``, ``X_lo68``/``X_hi68``,
``X_lo95``/``X_hi95``), joined by ID to the labels table (a truth CSV or a store index, whose
parameter columns have the same names; :func:`estimate_columns` moves the estimates to
``est:X`` before the join so neither hides the other).

Which rows: a lens column is scored on the true lenses (label 1), a non-lens column
(``z_central``, ``mag_object_*``) on the true non-lenses, whatever the classification said
(the submission fills each group's columns by the *predicted* class; scoring by the true class
measures the regression itself). Rows whose truth is -999/NaN are left out and counted.

Metrics (:func:`brahmasifier.evaluation.regression.regression_metrics`): per column, overall and
per domain, and in bins of true θ_E and arc S/N (``sim_arc_snr``, ``sim_arc_snr_i``, where the
labels have them): bias = median(pred − true) in the column's error kind, NMAD, 16th/84th
percentiles of the error, the catastrophic-outlier fraction (``|err|`` > 0.3″ for θ_E, > 30% for
σ_v, > 0.15 in Δz/(1+z) for redshifts, else ``|err − bias|`` > 3 NMAD), and the coverage of the
predicted 68% and 95% intervals. ``headline`` adds the issue-15 targets: θ_E bias and 16–84%
error range for θ_E ≥ 0.5″, zlens and σ_v NMAD, and how many columns have 68% coverage in
[0.63, 0.73]. Given the decision threshold, ``headline_called`` is the same on the true lenses
the model calls lenses (``prob`` ≥ threshold; issue 22's targets are stated on those): the
parameters a catalogue of candidates would carry.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier.evaluation.regression import DEFAULT_BINS, parameter_metrics, regression_metrics
from brahmasifier.inference.parameters import INTERVAL_SUFFIXES
from brahmasifier.models.target_decode import LEVELS
from brahmasifier.models.targets import select_targets

__all__ = ["COVERAGE_BAND", "ESTIMATE_PREFIX", "estimate_columns", "format_parameter_table", "parameter_html",
           "parameter_section"]

ESTIMATE_PREFIX = "est:"
#: The accepted 68% coverage (issue 15).
COVERAGE_BAND: tuple[float, float] = (0.63, 0.73)
_SUFFIXES = ("_sigma", *(s for pair in INTERVAL_SUFFIXES.values() for s in pair))


def estimate_columns(predictions: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The predictions with every parameter estimate ``X`` (and its ``X_sigma``, intervals) renamed ``est:X...``.

    Returns the renamed table and the estimated columns ``X`` (those with an ``X_sigma``).
    """
    columns = [c for c in predictions.columns if f"{c}_sigma" in predictions.columns]
    renames = {f"{c}{s}": f"{ESTIMATE_PREFIX}{c}{s}" for c in columns for s in ("", *_SUFFIXES)
               if f"{c}{s}" in predictions.columns}
    return predictions.rename(columns=renames), columns


def parameter_section(table: pd.DataFrame, columns: list[str], out: Path,
                      threshold: float | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Metrics (see module docstring) and figures of the estimated ``columns``; returns (block, figures).

    ``threshold`` (on ``prob``): also the headline on the true lenses called lenses (``headline_called``).
    """
    from brahmasifier.evaluation.regression_plots import plot_binned_errors, plot_interval_coverage, plot_predicted_vs_true

    spec = select_targets(",".join(columns))
    columns = [c for c in spec.output_columns if c in columns]
    labels = table["label"].to_numpy()
    truth = spec.canonical_truth(table, labels)
    values = pd.DataFrame({c: table[f"{ESTIMATE_PREFIX}{c}"].to_numpy(np.float64) for c in columns}, index=table.index)
    minus, plus = {}, {}
    for level in LEVELS:
        lo, hi = INTERVAL_SUFFIXES[level]
        minus[level] = pd.DataFrame({c: values[c] - table[f"{ESTIMATE_PREFIX}{c}{lo}"] for c in columns})
        plus[level] = pd.DataFrame({c: table[f"{ESTIMATE_PREFIX}{c}{hi}"] - values[c] for c in columns})
    kinds = {c: k for t in spec.targets for c, k in zip(t.columns, t.errors, strict=True) if c in columns}
    bins = {**DEFAULT_BINS, "sim_arc_snr_i": DEFAULT_BINS["sim_arc_snr"]}
    by_columns = [c for c in bins if c in table.columns]
    by = table[by_columns].apply(pd.to_numeric, errors="coerce").astype(float).copy()
    by.loc[labels != 1, :] = np.nan
    period = spec.conventions.angle_period
    domains = table["domain"].astype(str).to_numpy()
    metrics = regression_metrics(values, truth, kinds, minus, plus, domains, by, bins, period)
    block: dict[str, Any] = {"columns": columns, "metrics": metrics, "headline": _headline(values, truth, kinds, minus, plus,
                                                                                          metrics, period),
                             "rows": "lens columns on true lenses, non-lens columns on true non-lenses"}
    if threshold is not None and "prob" in table.columns:
        called = (pd.to_numeric(table["prob"], errors="coerce").to_numpy(np.float64) >= threshold) & (labels == 1)
        lens_kinds = {c: k for c, k in kinds.items() if truth[c].notna().to_numpy()[labels == 1].any()}
        sub = {lv: frame[called] for lv, frame in minus.items()}, {lv: frame[called] for lv, frame in plus.items()}
        sub_metrics = regression_metrics(values[called], truth[called], lens_kinds, *sub, period=period)
        block["headline_called"] = {"threshold": float(threshold), "n_called_lenses": int(called.sum()),
                                    **_headline(values[called], truth[called], lens_kinds, *sub, sub_metrics, period)}
    figures: dict[str, str] = {}
    plot_predicted_vs_true(values, truth, columns, out / "parameters_pred_vs_true.png", domains)
    figures["parameters_pred_vs_true.png"] = "Predicted vs true lens parameters (true lenses; non-lens columns: true non-lenses)"
    headline = [c for c in ("Rein", "zlens", "vel_disp") if c in columns]
    if headline:
        plot_predicted_vs_true(values, truth, headline, out / "parameters_headline.png", domains, n_cols=len(headline))
        figures["parameters_headline.png"] = "Predicted vs true θ_E, zlens and σ_v (true lenses)"
    plot_interval_coverage(metrics, out / "parameters_coverage.png", COVERAGE_BAND)
    figures["parameters_coverage.png"] = "Observed coverage of the predicted 68% and 95% intervals per parameter"
    for var, file, label in (("Rein", "parameters_rein_error_vs_rein.png", "true θ_E (″)"),
                             ("sim_arc_snr", "parameters_rein_error_vs_snr.png", "arc S/N (sim_arc_snr)")):
        if "Rein" in metrics and f"by_{var}" in metrics["Rein"]:
            plot_binned_errors({"θ_E (″)": metrics["Rein"][f"by_{var}"]}, out / file, label)
            figures[file] = f"θ_E error (median, 16–84%) against {label}"
    block["figures"] = list(figures)
    return block, figures


def _headline(values: pd.DataFrame, truth: pd.DataFrame, kinds: dict[str, str], minus: dict[float, pd.DataFrame],
              plus: dict[float, pd.DataFrame], metrics: dict[str, Any], period: float) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if "Rein" in values.columns:
        big = (truth["Rein"] >= 0.5).to_numpy()
        intervals = {lv: (minus[lv]["Rein"].to_numpy()[big], plus[lv]["Rein"].to_numpy()[big]) for lv in minus}
        m = parameter_metrics(values["Rein"].to_numpy()[big], truth["Rein"].to_numpy()[big], kinds["Rein"], intervals,
                              None, period)
        head["rein_ge_0.5"] = {k: m.get(k) for k in ("n", "bias", "p16", "p84", "nmad", "coverage_68", "coverage_95")}
    for col in ("zlens", "vel_disp"):
        if col in metrics:
            head[f"{col}_nmad"] = metrics[col]["all"]["nmad"]
    cov = {c: metrics[c]["all"].get("coverage_68") for c in metrics}
    inside = [c for c, v in cov.items() if v is not None and COVERAGE_BAND[0] <= v <= COVERAGE_BAND[1]]
    head["coverage_68_in_band"] = f"{len(inside)}/{len(cov)}"
    head["coverage_68_outside_band"] = {c: v for c, v in cov.items() if c not in inside}
    return head


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


_TABLE_KEYS = ("bias", "nmad", "p16", "p84", "outlier_fraction", "coverage_68", "coverage_95")


def format_parameter_table(block: dict[str, Any]) -> str:
    """The parameter metrics (all rows of each column) as a text table, then the issue-15 headline."""
    names = {"outlier_fraction": "outliers", "coverage_68": "cov68", "coverage_95": "cov95"}
    lines = [f"{'parameter':<14}{'error':<9}{'n':>6}" + "".join(f"{names.get(k, k):>9}" for k in _TABLE_KEYS)]
    for col, entry in block["metrics"].items():
        a = entry["all"]
        lines.append(f"{col:<14}{entry['kind']:<9}{a['n']:>6}" + "".join(f"{_fmt(a.get(k)):>9}" for k in _TABLE_KEYS))
    for key, what in (("headline", "true lenses"), ("headline_called", "true lenses called lenses")):
        head = block.get(key)
        if head is None:
            continue
        if key == "headline_called":
            what += f" (prob >= {head['threshold']:.3f}: {head['n_called_lenses']})"
        lines.append(f"{what}:")
        if "rein_ge_0.5" in head:
            r = head["rein_ge_0.5"]
            lines.append(f"  theta_E >= 0.5\" ({r['n']} lenses): bias {_fmt(r['bias'])}, 16-84% {_fmt(r['p16'])} .. "
                         f"{_fmt(r['p84'])}, cov68 {_fmt(r['coverage_68'])}")
        lines.append("  " + ", ".join(f"{c} NMAD {_fmt(head.get(f'{c}_nmad'))}" for c in ("zlens", "vel_disp")))
        lines.append(f"  68% coverage in {COVERAGE_BAND[0]}-{COVERAGE_BAND[1]}: {head['coverage_68_in_band']} columns")
    return "\n".join(lines)


def parameter_html(block: dict[str, Any], figure_html: Any) -> str:
    """The report's "Lens parameters" section (``figure_html(file)`` renders one of its figures)."""
    rows = []
    for col, entry in block["metrics"].items():
        a = entry["all"]
        rows.append(f"<tr><td>{html.escape(col)}</td><td>{html.escape(entry['kind'])}</td><td class=num>{a['n']}</td>"
                    + "".join(f"<td class=num>{_fmt(a.get(k))}</td>" for k in _TABLE_KEYS) + "</tr>")
    head = block["headline"]
    notes = [f"Rows: {block['rows']}. Error kinds: linear = pred − true, relative = (pred − true)/true, "
             "redshift = (pred − true)/(1 + true), angle = wrapped difference. Outliers: |err| > 0.3″ (θ_E), > 30% (σ_v), "
             "> 0.15 (redshifts), else |err − bias| > 3 NMAD.",
             f"68% coverage within {COVERAGE_BAND[0]}–{COVERAGE_BAND[1]}: {head['coverage_68_in_band']} columns."]
    if "rein_ge_0.5" in head:
        r = head["rein_ge_0.5"]
        notes.append(f"θ_E ≥ 0.5″ ({r['n']} lenses): bias {_fmt(r['bias'])}″, 16–84% {_fmt(r['p16'])}″ … {_fmt(r['p84'])}″.")
    called = block.get("headline_called")
    if called is not None and "rein_ge_0.5" in called:
        r = called["rein_ge_0.5"]
        notes.append(f"On the {called['n_called_lenses']} true lenses called lenses (prob ≥ {called['threshold']:.3f}): "
                     f"θ_E ≥ 0.5″ ({r['n']}) bias {_fmt(r['bias'])}″, 16–84% {_fmt(r['p16'])}″ … {_fmt(r['p84'])}″; "
                     f"zlens NMAD {_fmt(called.get('zlens_nmad'))}, σ_v NMAD {_fmt(called.get('vel_disp_nmad'))}; "
                     f"68% coverage in band: {called['coverage_68_in_band']} columns.")
    header = "".join(f"<th>{h}</th>" for h in ("parameter", "error", "n", "bias", "NMAD", "p16", "p84", "outliers",
                                              "cov. 68%", "cov. 95%"))
    parts = ["<h2>Lens parameters</h2>", f"<table><tr>{header}</tr>{''.join(rows)}</table>",
             *(f"<p class=note>{html.escape(n)}</p>" for n in notes)]
    parts += [figure_html(f) for f in block["figures"]]
    return "\n".join(parts)
