"""``evaluate(...)``: metrics.json, figures, gallery and one self-contained ``report.html``.

The HTML embeds every figure as a base64 PNG data URI and its CSS inline, so the single file
can be mailed, archived with a run, or opened from disk with no network.
"""

from __future__ import annotations

import base64
import html
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier import __version__
from brahmasifier._atomic import json_safe, write_json_atomic, write_text_atomic
from brahmasifier._outputs import check_outside_inputs, check_writable_folder
from brahmasifier.errors import EvaluationInputError, OutputPathError
from brahmasifier.evaluation.bootstrap import MetricSettings
from brahmasifier.evaluation.calibration import ReliabilityCurve, reliability_curve
from brahmasifier.evaluation.config import EvaluateConfig
from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
from brahmasifier.evaluation.metrics import compute_metrics
from brahmasifier.evaluation.tables import metric_label, table_rows, undefined_notes
from brahmasifier.models.card import read_card
from brahmasifier.models.temperature import apply_temperature, fit_temperature

__all__ = ["CALIBRATION_BINS", "METRICS_FILE", "REPORT_FILE", "evaluate", "render_html"]

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
CALIBRATION_BINS = 15


def _calibration_block(table: Any, temperature: float | None) -> tuple[dict[str, Any], dict[str, ReliabilityCurve]]:
    """ECE and reliability curves: as given, and before/after temperature when logits allow it."""
    labels = table["label"].to_numpy()
    curves: dict[str, ReliabilityCurve] = {}
    block: dict[str, Any] = {"n_bins": CALIBRATION_BINS,
                             "note": "measured at this labelled set's lens fraction "
                                     f"({labels.mean():.3f}), not at survey prevalence"}
    if len(table) == 0:
        return block, curves
    has_logit = "logit" in table.columns
    if temperature is not None and has_logit:
        logits = table["logit"].to_numpy(dtype=np.float64)
        curves["before: sigmoid(logit)"] = reliability_curve(apply_temperature(logits, 1.0), labels, CALIBRATION_BINS)
        after = apply_temperature(logits, temperature)
        curves[f"after: sigmoid(logit / {temperature:.3g})"] = reliability_curve(after, labels, CALIBRATION_BINS)
        block["temperature"] = temperature
    else:
        curves["prob as given"] = reliability_curve(table["prob"].to_numpy(), labels, CALIBRATION_BINS)
        if temperature is not None:
            block["temperature"] = temperature
            block["temperature_note"] = "probs.csv has no 'logit' column, so the temperature could not be applied"
    block["curves"] = {name: {"ece": c.ece, **c.to_dict()} for name, c in curves.items()}
    if has_logit and 0 < labels.sum() < labels.size:
        block["temperature_fitted_on_this_set"] = fit_temperature(table["logit"].to_numpy(), labels)
        block["temperature_fitted_note"] = "diagnostic only: fit the temperature on validation data, never on the test set"
    return block, curves


def evaluate(
    probs: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    out: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
    prevalence: float = 1e-3,
    n_bootstrap: int = 200,
    seed: int = 0,
    progress: bool = True,
    temperature: float | None = None,
    model: str | os.PathLike[str] | None = None,
    n_gallery: int = 8,
) -> dict[str, Any]:
    """Score ``probs`` against ``labels``; write metrics.json, PNGs and report.html into ``out``.

    ``threshold`` and ``temperature`` default to the model card's (``model``: run dir,
    model folder or model.json), else 0.5 and none. Returns the metrics dict as written.
    """
    from brahmasifier.evaluation import plots

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {out}: exists and is not a folder (the report is a folder)")
    from brahmasifier.models.card import resolve_model_dir

    model_folder = resolve_model_dir(model) if model is not None else None  # a run dir's model/: reports may go beside it
    check_outside_inputs({"--out": out}, [p for p in (probs, labels, images, model_folder) if p is not None])
    check_writable_folder(out, "--out")
    EvaluateConfig(threshold=threshold, prevalence=prevalence, bootstrap=n_bootstrap, seed=seed, temperature=temperature,
                   gallery_size=n_gallery)  # checks the given values, once
    card, card_path = read_card(model) if model is not None else (None, None)
    threshold_source = "given"
    if threshold is None:
        threshold, threshold_source = (card.threshold, f"model card {card_path}") if card else (0.5, "default")
    if temperature is None and card is not None:
        temperature = float(card.temperature)  # the card's values are checked when it is read

    from brahmasifier.evaluation.parameters import estimate_columns

    predictions, estimated = estimate_columns(load_predictions(probs))
    label_table = load_labels(labels)
    table, join = join_predictions(predictions, label_table)
    if table.empty:
        raise EvaluationInputError(f"{probs} and {labels}: no prediction matched a known label ({join.describe()})")

    settings = MetricSettings(threshold=threshold, prevalence=prevalence)
    metrics = compute_metrics(table, settings, n_bootstrap=n_bootstrap, seed=seed, progress=progress)
    calibration, curves = _calibration_block(table, temperature)

    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, str] = {}
    figures["roc.png"] = "ROC curve (log FPR)"
    plots.plot_roc(table, out / "roc.png", settings.fprs)
    figures["precision_recall.png"] = "Precision-recall"
    plots.plot_precision_recall(table, out / "precision_recall.png")
    figures["score_histograms.png"] = "Score distributions per class and domain"
    plots.plot_score_histograms(table, out / "score_histograms.png", threshold)
    if curves:
        figures["reliability.png"] = "Reliability diagram"
        plots.plot_reliability(curves, out / "reliability.png")
    completeness_files = {"Rein": ("completeness_rein.png", "Einstein radius [arcsec]"),
                          "source_magnitude": ("completeness_source_mag.png", "lensed source magnitude")}
    for key, block in metrics["completeness"].items():
        file, xlabel = completeness_files[key]
        if key == "source_magnitude":
            xlabel = f"{block['parameter']} [mag]"
        plots.plot_completeness(block, out / file, xlabel)
        block["figure"] = file
        figures[file] = f"Completeness vs {block['parameter']}"

    parameters: dict[str, Any] = {}
    if estimated:
        from brahmasifier.evaluation.parameters import parameter_section

        parameters, parameter_figures = parameter_section(table, estimated, out, threshold)
        figures.update(parameter_figures)

    gallery: dict[str, Any] = {}
    if images is not None:
        from brahmasifier.evaluation.gallery import make_gallery

        gallery = make_gallery(table, images, out, n=n_gallery, progress=progress)

    result = {
        "brahmasifier_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"probs": str(probs), "labels": str(labels), "images": None if images is None else str(images),
                   "model": None if card_path is None else str(card_path), "threshold_source": threshold_source},
        "join": join.to_dict(),
        **metrics,
        "calibration": calibration,
        "figures": figures,
        "gallery": gallery,
        **({"parameters": parameters} if parameters else {}),
    }
    result = json_safe(result)
    write_json_atomic(out / METRICS_FILE, result)
    write_text_atomic(out / REPORT_FILE, render_html(result, out, join.describe()))
    return result


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
figure{display:inline-block;margin:.6em;vertical-align:top}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#555;font-size:.9em}.warn{color:#a40}
code{background:#f6f6f6;padding:0 .2em}
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    def cells(row: list[str]) -> str:
        return "".join(f"<td{' class=num' if k else ''}>{html.escape(c)}</td>" for k, c in enumerate(row))

    body = "".join(f"<tr>{cells(r)}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(out: Path, file: str, caption: str) -> str:
    return (f'<figure><img src="{_data_uri(out / file)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)} (<code>{html.escape(file)}</code>)</figcaption></figure>")


def render_html(result: dict[str, Any], out: Path, join_text: str) -> str:
    """The self-contained report page for a result written into ``out``."""
    s = result["settings"]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Brahmasifier evaluation</title>"
             f"<style>{CSS}</style></head><body><h1>Brahmasifier evaluation</h1>"]
    inputs = result["inputs"]
    parts.append(_table_html(["input", "value"], [
        ["predictions", inputs["probs"]], ["labels", inputs["labels"]], ["images", inputs["images"] or "(none)"],
        ["model card", inputs["model"] or "(none)"],
        ["threshold", f"{s['threshold']:g} ({inputs['threshold_source']})"], ["prevalence for purity", f"{s['prevalence']:g}"],
        ["ranking score", s["ranking_score"]], ["intervals", f"{s['interval']}, {s['n_bootstrap']} resamples, seed {s['seed']}"],
        ["created", f"{result['created']} by brahmasifier {result['brahmasifier_version']}"]]))
    parts.append(f"<p class=note>{html.escape(join_text)}</p>")

    parts.append("<h2>Metrics</h2>")
    header, rows = table_rows(result)
    parts.append(_table_html(header, rows))
    parts.append("<p class=note>Values with 68% bootstrap intervals. TPR0 / TPR10: highest completeness with no / "
                 "at most 9 false positives (Metcalf et al. 2019); tied scores share one threshold. Purity is predicted "
                 f"for 1 lens in {1 / s['prevalence']:.0f} objects from TPR and FPR. * = too few non-lenses to measure "
                 "that FPR (fewer than 10/FPR).</p>")
    notes = undefined_notes(result)
    if notes:
        parts.append("<ul class=warn>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")

    figures = result["figures"]
    main_figures = [f for f in figures if not f.startswith(("completeness", "parameters"))]
    parts.append("<h2>Figures</h2>" + "".join(_figure_html(out, f, figures[f]) for f in main_figures))

    cal = result["calibration"]
    parts.append("<h2>Calibration</h2>")
    cal_rows = [[name, f"{c['ece']:.4f}" if c["ece"] is not None else "n/a"] for name, c in cal.get("curves", {}).items()]
    parts.append(_table_html(["probabilities", f"ECE ({cal['n_bins']} bins)"], cal_rows))
    for key in ("note", "temperature_note"):
        if key in cal:
            parts.append(f"<p class=note>{html.escape(cal[key])}</p>")
    if cal.get("temperature_fitted_on_this_set") is not None:
        parts.append(f"<p class=note>Temperature that would minimise the log-loss on this set: "
                     f"{cal['temperature_fitted_on_this_set']:.3f} ({html.escape(cal['temperature_fitted_note'])}).</p>")

    if result["completeness"]:
        parts.append("<h2>Completeness vs lens parameters</h2>")
        for block in result["completeness"].values():
            file = block["figure"]
            parts.append(_figure_html(out, file, figures[file]))
            rows = [[f"{b['lo']:.3g} – {b['hi']:.3g}", str(b["n_lenses"]), str(b["n_found"]),
                     "n/a" if b["completeness"] is None else f"{b['completeness']:.3f} [{b['ci68'][0]:.3f}, {b['ci68'][1]:.3f}]"]
                    for b in block["bins"]]
            parts.append(_table_html([block["parameter"], "lenses", "found", "completeness [68% Jeffreys]"], rows))
            if block["n_lenses_without_value"]:
                parts.append(f"<p class=note>{block['n_lenses_without_value']} lenses have no "
                             f"{html.escape(block['parameter'])} (-999).</p>")

    if result.get("parameters"):
        from brahmasifier.evaluation.parameters import parameter_html

        parts.append(parameter_html(result["parameters"], lambda f: _figure_html(out, f, figures[f])))

    if result["gallery"]:
        parts.append("<h2>Gallery</h2><p class=note>Per candidate: Lupton asinh RGB (i, r, g) at the galaxy stretch "
                     "and at a hard stretch (sky noise units), the g band, and g, r, i minus a fitted model of the "
                     "central galaxy (where arcs show); the bar is 1″.</p>")
        for section in result["gallery"].values():
            parts.append(_figure_html(out, section["file"], section["title"]))
            if section["n_missing_images"]:
                parts.append(f"<p class=warn>{section['n_missing_images']} images not found in "
                             f"{html.escape(str(result['inputs']['images']))}.</p>")
    keys = ", ".join(f"{k} = {metric_label(k)}" for k in result["overall"]["metrics"])
    parts.append(f"<h2>Metric keys</h2><p class=note>{html.escape(keys)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
