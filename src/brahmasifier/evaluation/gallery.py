"""Cutout galleries for visual inspection: top candidates, false positives, misses.

Numbers say how often a classifier errs; the gallery says *how*: whether the false
positives are spirals, rings or artefacts, and whether the misses are faint or compact
lenses. Each cutout is a Lupton et al. (2004) asinh RGB image (astropy ``make_lupton_rgb``)
with i, r, g as R, G, B.

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

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import band_index
from brahmasifier.errors import FitsFormatError, GalleryError
from brahmasifier.evaluation.metrics import ranking_scores
from brahmasifier.io.store import is_store_folder, open_store

__all__ = [
    "LUPTON_Q", "LUPTON_STRETCH", "SCALE_PERCENTILE", "SECTIONS", "load_cutouts", "lupton_rgb", "make_gallery",
    "plot_gallery_section", "select_gallery",
]

#: Lupton stretch and softening for cutouts scaled so that their 99.5th percentile is 1:
#: faint arcs near the noise stay visible while a bright lens galaxy is not saturated.
LUPTON_STRETCH: float = 0.4
LUPTON_Q: float = 8.0
SCALE_PERCENTILE: float = 99.5

SECTIONS: dict[str, str] = {
    "top": "Top-scored candidates",
    "false_positives": "Highest-scored non-lenses (false positives)",
    "misses": "Lowest-scored lenses (misses)",
}


def lupton_rgb(image: np.ndarray, stretch: float = LUPTON_STRETCH, q: float = LUPTON_Q) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB of a 5-band cutout in raw units (i, r, g as R, G, B).

    Each band's sky level (median) is subtracted, then all three are divided by one common
    robust scale (the 99.5th percentile of the three bands together), so that colours are
    preserved and objects of any depth or zero point look alike.
    """
    from astropy.visualization import make_lupton_rgb

    channels = [np.asarray(image[band_index(b)], dtype=np.float64) for b in ("i", "r", "g")]
    channels = [np.nan_to_num(c - np.nanmedian(c), nan=0.0, posinf=0.0, neginf=0.0) for c in channels]
    scale = float(np.percentile(np.stack(channels), SCALE_PERCENTILE))
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.max(np.abs(np.stack(channels)))) or 1.0
    r, g, b = (c / scale for c in channels)
    return make_lupton_rgb(r, g, b, minimum=0.0, stretch=stretch, Q=q)


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
    from tqdm.auto import tqdm

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
    for obj in tqdm(candidates, desc="gallery cutouts", disable=not progress, leave=False):
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
    n_columns: int = 4,
) -> Path:
    """One PNG grid of Lupton RGB cutouts, each titled with ID, probability, class and domain."""
    n = max(len(rows), 1)
    n_rows = int(np.ceil(n / n_columns))
    fig = Figure(figsize=(2.3 * n_columns, 2.55 * n_rows + 0.4))
    axes = np.atleast_1d(fig.subplots(n_rows, n_columns, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, (_, row) in zip(axes, rows.iterrows(), strict=False):
        image = cutouts.get(_key(row))
        object_id = str(row["id"])
        short_id = object_id if len(object_id) <= 26 else object_id[:12] + "…" + object_id[-12:]
        kind = "lens" if int(row["label"]) == 1 else "non-lens"
        ax.set_title(f"{short_id}\np={row['prob']:.4f} {kind} {row.get('domain', '')}", fontsize=7)
        if image is None:
            ax.text(0.5, 0.5, "image not found", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        else:
            ax.imshow(lupton_rgb(image), origin="lower", interpolation="nearest")
    if rows.empty:
        axes[0].text(0.5, 0.5, "no objects in this section", ha="center", va="center", transform=axes[0].transAxes)
    fig.suptitle(title, fontsize=10)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


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
