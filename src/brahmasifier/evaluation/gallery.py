"""Cutout galleries for visual inspection: top candidates, false positives, misses.

Numbers say how often a classifier errs; the gallery says *how*: whether the false
positives are spirals, rings or artefacts, and whether the misses are faint or compact
lenses. Each cutout is drawn as the candidate panels of :mod:`brahmasifier.evaluation.panels`
(gri Lupton RGB at the galaxy and the hard stretch, the g band, the lens-light residual), the
same pictures as in the inspection tool, two candidates per row.

Images come from a packed store (rows looked up by ``id``) or from a FITS tree, where only
the objects shown are read (matched by ``stem`` when the predictions carry it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brahmasifier._progress import progress_bar
from brahmasifier.display import save_figure
from brahmasifier.errors import FitsFormatError, GalleryError
from brahmasifier.evaluation.metrics import ranking_scores
from brahmasifier.evaluation.panels import PANELS, plot_candidate
from brahmasifier.io.store import is_store_folder, open_store

__all__ = ["SECTIONS", "load_cutouts", "make_gallery", "plot_gallery_section", "select_gallery"]

SECTIONS: dict[str, str] = {
    "top": "Top-scored candidates",
    "false_positives": "Highest-scored non-lenses (false positives)",
    "misses": "Lowest-scored lenses (misses)",
}


def select_gallery(table: pd.DataFrame, n: int = 8) -> dict[str, pd.DataFrame]:
    """Rows to show per section (sorted by the ranking score, the same as the metrics)."""
    scores, _ = ranking_scores(table)
    ranked = table.assign(_score=scores)
    top = ranked.sort_values("_score", ascending=False, kind="stable").head(n)
    false_pos = ranked[ranked["label"] == 0].sort_values("_score", ascending=False, kind="stable").head(n)
    misses = ranked[ranked["label"] == 1].sort_values("_score", ascending=True, kind="stable").head(n)
    return {"top": top, "false_positives": false_pos, "misses": misses}


@dataclass(frozen=True)
class _Wanted:
    id: str
    stem: str | None


def _store_images(path: Path, wanted: list[_Wanted]) -> dict[_Wanted, np.ndarray]:
    store = open_store(path)
    rows = store.find_rows([w.id for w in wanted], [w.stem for w in wanted])
    found = [(item, row) for item, row in zip(wanted, rows, strict=True) if row is not None]
    if not found:
        return {}
    batch = store.read_batch([row for _, row in found])
    return {item: batch.images[k] for k, (item, _) in enumerate(found)}


def _fits_images(root: Path, wanted: list[_Wanted], progress: bool) -> dict[_Wanted, np.ndarray]:
    from brahmasifier.io.reader import read_object
    from brahmasifier.io.scan import scan_fits_tree

    objects = scan_fits_tree(root).objects
    found: dict[_Wanted, np.ndarray] = {}
    by_stem: dict[str, list[_Wanted]] = {}
    for item in wanted:
        if item.stem is not None:
            by_stem.setdefault(item.stem, []).append(item)
    no_stem = {item.id: item for item in wanted if item.stem is None}
    # With stems only the objects shown are read; without them every object is read until all are found.
    candidates: Iterable = [o for o in objects if o.stem in by_stem] if not no_stem else objects
    for obj in progress_bar(candidates, desc="gallery cutouts", enabled=progress, leave=False):
        try:
            cutout = read_object(obj)
        except FitsFormatError:
            continue  # an unreadable object is simply not shown; the packer reports it
        for item in by_stem.get(obj.stem, []):
            if item.id == cutout.id and item not in found:
                found[item] = cutout.image
        if cutout.id in no_stem and no_stem[cutout.id] not in found:
            found[no_stem[cutout.id]] = cutout.image
        if len(found) == len(wanted):
            break
    return found


def load_cutouts(images: str | os.PathLike[str], rows: pd.DataFrame,
                 progress: bool = False) -> dict[tuple[str, str | None], np.ndarray]:
    """Cutouts ``(5, 41, 41)`` for ``rows`` (columns ``id`` and optionally ``stem``), keyed by (id, stem).

    ``images`` is a packed store folder or a FITS root. Objects not found are left out.
    """
    path = Path(images)
    if not path.exists():
        raise GalleryError(f"{path}: no such image store or FITS folder")
    has_stem = "stem" in rows.columns
    wanted = list(dict.fromkeys(
        _Wanted(str(r["id"]), str(r["stem"]) if has_stem and isinstance(r["stem"], str) and r["stem"] else None)
        for _, r in rows.iterrows()))
    if is_store_folder(path):
        found = _store_images(path, wanted)
    elif path.is_dir():
        found = _fits_images(path, wanted, progress)
    else:
        raise GalleryError(f"{path}: neither a packed store (folder with manifest.json) nor a FITS folder")
    return {(w.id, w.stem): image for w, image in found.items()}


def _key(row: pd.Series) -> tuple[str, str | None]:
    stem = row.get("stem")
    return str(row["id"]), (str(stem) if isinstance(stem, str) and stem else None)


def plot_gallery_section(
    rows: pd.DataFrame,
    cutouts: dict[tuple[str, str | None], np.ndarray],
    path: str | os.PathLike[str],
    title: str,
    per_row: int = 2,
) -> Path:
    """One PNG of candidate panels (``per_row`` candidates per row), each labelled with ID, probability, class, domain."""
    n = max(len(rows), 1)
    n_rows = int(np.ceil(n / per_row))
    n_panels = len(PANELS)
    fig = Figure(figsize=(1.45 * n_panels * per_row + 0.2 * (per_row - 1), 1.75 * n_rows + 0.4))
    grid = fig.add_gridspec(n_rows, per_row, wspace=0.06, hspace=0.3)
    for k in range(n_rows * per_row):
        cell = grid[k // per_row, k % per_row].subgridspec(1, n_panels, wspace=0.03)
        axes = [fig.add_subplot(cell[0, j]) for j in range(n_panels)]
        if k >= len(rows):
            for ax in axes:
                ax.set_axis_off()
            if k == 0:
                axes[0].text(0.5, 0.5, "no objects in this section", ha="left", va="center", transform=axes[0].transAxes)
            continue
        row = rows.iloc[k]
        object_id = str(row["id"])
        short_id = object_id if len(object_id) <= 34 else object_id[:16] + "…" + object_id[-16:]
        kind = "lens" if int(row["label"]) == 1 else "non-lens"
        plot_candidate(axes, cutouts.get(_key(row)), float(row["prob"]), kind)
        axes[0].annotate(f"{short_id}  {kind} {row.get('domain', '')}", (0, 1.22), xycoords="axes fraction",
                         fontsize=6.5, ha="left", va="bottom")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=130, tight=True)


def make_gallery(
    table: pd.DataFrame,
    images: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    n: int = 8,
    progress: bool = False,
) -> dict[str, dict[str, object]]:
    """Write ``gallery_<section>.png`` for each section; return what was shown per section."""
    sections = select_gallery(table, n)
    every_row = pd.concat(list(sections.values()))
    cutouts = load_cutouts(images, every_row, progress=progress) if len(every_row) else {}
    summary: dict[str, dict[str, object]] = {}
    for name, rows in sections.items():
        file = plot_gallery_section(rows, cutouts, Path(out_dir) / f"gallery_{name}.png", SECTIONS[name])
        summary[name] = {"file": file.name, "title": SECTIONS[name], "ids": rows["id"].astype(str).tolist(),
                         "probs": [float(p) for p in rows["prob"]],
                         "n_missing_images": int(sum(_key(r) not in cutouts for _, r in rows.iterrows()))}
    return summary
