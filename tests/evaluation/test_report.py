"""End to end: evaluate() writes metrics.json, PNGs, gallery and a self-contained report.html."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from brahmasifier.display import lupton_rgb
from brahmasifier.errors import EvaluationInputError, ModelFormatError
from brahmasifier.evaluation.bootstrap import MetricSettings
from brahmasifier.evaluation.gallery import load_cutouts, select_gallery
from brahmasifier.evaluation.inputs import join_predictions, load_labels, load_predictions
from brahmasifier.evaluation.metrics import compute_metrics
from brahmasifier.evaluation.plots import plot_roc
from brahmasifier.evaluation.report import evaluate
from brahmasifier.evaluation.tables import undefined_notes
from brahmasifier.io.store import write_store
from brahmasifier.models.card import ModelCard, read_card

from .browser import find_browser, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Images(HTMLParser):
    """Collects <img src> and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.sources.append(values.get("src") or "")
        if tag in ("link", "script") and (values.get("href") or values.get("src")):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _make_inputs(root: Path, n: int = 120, seed: int = 0) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 3 == 0).astype(int)
    domains = np.where(np.arange(n) % 2 == 0, "slsim", "hsc")
    ids = [f"GG-LENS_{i}.25_-1.5" if d == "slsim" else str(75339100000000000 + i) for i, d in enumerate(domains)]
    logits = rng.normal(labels * 3.0 - 1.5, 1.0)
    stems = [f"obj{i:04d}" for i in range(n)]
    probs = root / "probs.csv"
    pd.DataFrame({"id": ids, "stem": stems, "prob": 1 / (1 + np.exp(-logits)), "logit": logits}).to_csv(probs, index=False)
    truth = root / "truth.csv"
    pd.DataFrame({"id": ids, "label": labels, "domain": domains,
                  "Rein": np.where(labels == 1, rng.uniform(0.6, 2.0, n), -999.0),
                  "mag_src_i": np.where(labels == 1, rng.uniform(21, 26, n), -999.0)}).to_csv(truth, index=False)
    images = rng.normal(0, 1, (n, 5, 41, 41)).astype(np.float32) + 5.0
    images[:, :, 18:23, 18:23] += 40.0
    store = root / "store"
    write_store(store, images, pd.DataFrame({"id": ids, "stem": stems, "label": labels, "domain": domains, "n_nan": 0}))
    return probs, truth, store


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    root = tmp_path_factory.mktemp("eval")
    probs, truth, store = _make_inputs(root)
    model = root / "run" / "model"
    model.mkdir(parents=True)
    # a real card (evaluate reads it with the one card reader, models.card.read_card; no weights needed)
    (model / "model.json").write_text(ModelCard(threshold=0.6, temperature=2.0).to_json())
    out = root / "report"
    result = evaluate(probs, truth, out, images=store, model=root / "run", n_bootstrap=20, seed=3, progress=False, n_gallery=4)
    return out, result, root


def test_metrics_json_matches_result_and_sklearn(report: tuple[Path, dict, Path]) -> None:
    out, result, root = report
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == result
    truth = pd.read_csv(root / "truth.csv", dtype={"id": str})
    probs = pd.read_csv(root / "probs.csv", dtype={"id": str})
    assert result["overall"]["metrics"]["auc_roc"]["value"] == pytest.approx(roc_auc_score(truth["label"], probs["logit"]))
    assert result["settings"]["threshold"] == 0.6 and "model card" in result["inputs"]["threshold_source"]
    assert result["calibration"]["temperature"] == 2.0 and len(result["calibration"]["curves"]) == 2
    assert set(result["by_domain"]) == {"slsim", "hsc"}
    assert set(result["completeness"]) == {"Rein", "source_magnitude"}
    assert result["join"]["n_matched"] == 120 and result["gallery"]["top"]["n_missing_images"] == 0
    assert "75339100000000001" in set(truth["id"])  # large integer IDs are kept exactly


def test_report_html_is_self_contained_with_all_figures(report: tuple[Path, dict, Path]) -> None:
    out, result, _ = report
    parser = _Images()
    parser.feed((out / "report.html").read_text())
    expected = set(result["figures"]) | {s["file"] for s in result["gallery"].values()}
    assert {"roc.png", "precision_recall.png", "score_histograms.png", "reliability.png", "completeness_rein.png",
            "completeness_source_mag.png", "gallery_top.png", "gallery_false_positives.png", "gallery_misses.png"} <= expected
    assert len(parser.sources) == len(expected) and not parser.external
    for src in parser.sources:
        assert src.startswith("data:image/png;base64,")
        width, height = _png_size(base64.b64decode(src.split(",", 1)[1]))
        assert width > 100 and height > 100
    for file in expected:
        _png_size((out / file).read_bytes())
    text = " ".join(parser.text)
    for name in ("auc_roc", "tpr0", "tpr10", "tpr_at_fpr_1e-03"):
        assert f"{result['overall']['metrics'][name]['value']:.4f}" in text
    assert f"{result['by_domain']['hsc']['metrics']['auc_roc']['value']:.4f}" in text
    assert "TPR10" in text and "purity at TPR=0.9" in text and "120 of 120 predictions matched" in text
    assert "non-lenses are needed to measure it" in text  # low-FPR support notes reach the page


BROWSER = find_browser()
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine (`make browser` installs it with "
                                                           "apt where apt is usable); the HTML parse test covers the report")


@needs_browser
def test_report_renders_in_headless_chromium(report: tuple[Path, dict, Path]) -> None:
    page = report[0] / "report.html"
    parsed = _Images()
    parsed.feed(page.read_text())
    assert BROWSER is not None
    rendered = render(page.as_uri(), BROWSER)
    assert rendered.problems == [], rendered.messages
    assert len(rendered.images) == len(parsed.sources) >= 5  # every figure of the page, as the HTML lists them
    broken = [i for i in rendered.images if not (i["complete"] and i["naturalWidth"] > 0 and i["naturalHeight"] > 0)]
    assert broken == []


@needs_browser
def test_the_browser_check_sees_a_broken_figure_and_a_console_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    good = base64.b64encode(_tiny_png()).decode()
    page.write_text(f'<html><body><img alt="ok" src="data:image/png;base64,{good}"><img alt="gone" src="missing.png">'
                    '<script>console.error("figure script failed")</script></body></html>')
    assert BROWSER is not None
    rendered = render(page.as_uri(), BROWSER)
    assert [(i["alt"], i["naturalWidth"] > 0) for i in rendered.images] == [("ok", True), ("gone", False)]
    assert any("figure script failed" in p for p in rendered.problems)
    assert any("missing.png" in p for p in rendered.problems)


def _tiny_png() -> bytes:
    """A 2×1 PNG written by matplotlib (the report's own image writer)."""
    import io

    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.array([[0.0, 1.0]]), format="png")
    return buffer.getvalue()


def test_gallery_from_fits_tree(tiny_challenge_tree: tuple[Path, pd.DataFrame]) -> None:
    root, truth = tiny_challenge_tree
    rows = truth.sample(5, random_state=0)
    cutouts = load_cutouts(root, rows)
    assert len(cutouts) == 5
    for (object_id, stem), image in cutouts.items():
        assert image.shape == (5, 41, 41) and object_id in set(rows["id"]) and stem in set(rows["stem"])
    without_stem = load_cutouts(root, rows.drop(columns="stem").head(2))
    assert len(without_stem) == 2
    rgb = lupton_rgb(next(iter(cutouts.values())))
    assert rgb.shape == (41, 41, 3) and rgb.dtype == np.uint8 and rgb.max() > 100


def test_select_gallery_sections() -> None:
    table = pd.DataFrame({"id": list("abcdef"), "label": [1, 0, 1, 0, 1, 0], "prob": [0.9, 0.8, 0.1, 0.3, 0.5, 0.05]})
    sections = select_gallery(table, n=2)
    assert sections["top"]["id"].tolist() == ["a", "b"]
    assert sections["false_positives"]["id"].tolist() == ["b", "d"]
    assert sections["misses"]["id"].tolist() == ["c", "e"]


def test_evaluate_errors_are_clear(tmp_path: Path) -> None:
    probs, truth, _ = _make_inputs(tmp_path, n=12)
    other = tmp_path / "other.csv"
    other.write_text("id,label\nnope,1\n")
    with pytest.raises(EvaluationInputError, match="no prediction matched"):
        evaluate(probs, other, tmp_path / "out", n_bootstrap=0, progress=False)
    with pytest.raises(ModelFormatError, match="no model.json"):  # the one model-folder resolver (models/card.py)
        read_card(tmp_path)
    with pytest.raises(ValueError, match="prevalence"):
        evaluate(probs, truth, tmp_path / "out", prevalence=2.0, progress=False)


def test_single_class_subset_does_not_crash(tmp_path: Path) -> None:
    probs, truth, _ = _make_inputs(tmp_path, n=30)
    table = pd.read_csv(truth, dtype={"id": str})
    table.loc[table["domain"] == "hsc", "label"] = 0  # hsc: non-lenses only
    table.to_csv(truth, index=False)
    joined, _ = join_predictions(load_predictions(probs), load_labels(truth))
    result = compute_metrics(joined, MetricSettings(), n_bootstrap=5, progress=False)
    hsc = result["by_domain"]["hsc"]["metrics"]
    assert hsc["auc_roc"]["value"] is None and "only non-lenses" in hsc["auc_roc"]["reason"]
    assert result["overall"]["metrics"]["auc_roc"]["value"] is not None
    assert any("hsc: AUC-ROC: needs both" in note for note in undefined_notes(result))
    plot_roc(joined, tmp_path / "roc.png")  # the domain without lenses is left out, not a crash
    _png_size((tmp_path / "roc.png").read_bytes())
