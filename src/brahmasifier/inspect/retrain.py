"""Grades back into training: graded candidates as a labelled store, and the false-positive atlas.

``train --init-from RUN --extra-labels GRADES --extra-images DATA`` fine-tunes on what the
inspectors decided: :func:`graded_store` turns a grade file (one inspector) or a merged file
(``inspect --merge``: its ``consensus`` column) into a packed store of the graded cutouts,
labelled **A, B → lens (1)** and **X → non-lens (0)**; **C** (possible) is left out by default
(``c_label=None``), or taken as a lens or a non-lens when asked. Calibration objects are left
out (they are known simulations, not candidates). The store (domain ``graded``, so the
train/validation split keeps graded objects in both parts) is written beside the run folder
(``RUN_graded``) and trained on: alone, or after the objects of the ``--data`` store, copied
into it shard by shard (training reads one store).

The **false-positive atlas** (:func:`write_atlas`, ``inspect --atlas``) is one self-contained
HTML page of the candidates graded X, highest score first, drawn with the candidate panels:
what the model mistakes for lenses.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._atomic import write_text_atomic
from brahmasifier.errors import InputError, InputNotFoundError

__all__ = ["GRADED_DOMAIN", "GRADE_LABELS", "graded_labels", "graded_store", "write_atlas"]

GRADE_LABELS: dict[str, int] = {"A": 1, "B": 1, "X": 0}
GRADED_DOMAIN = "graded"


def _read_graded(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``id, stem, prob, grade, note`` of the graded candidates of a grade file or a merged file."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such grade file")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    grade_column = "consensus" if "consensus" in table.columns else "grade"
    for column in ("id", "stem", grade_column):
        if column not in table.columns:
            raise InputError(f"{path}: not a grade file or merged grades (no `{column}` column)")
    if "calibration" in table.columns:
        table = table[table["calibration"] == ""]
    note = table["notes"] if "notes" in table.columns else table.get("note", pd.Series([""] * len(table)))
    out = pd.DataFrame({"id": table["id"], "stem": table["stem"], "grade": table[grade_column],
                        "prob": pd.to_numeric(table.get("prob", np.nan), errors="coerce"), "note": note})
    return out[out["grade"] != ""].reset_index(drop=True)


def graded_labels(path: str | os.PathLike[str], c_label: int | None = None) -> pd.DataFrame:
    """The graded candidates with a training ``label`` (A/B 1, X 0, C ``c_label`` or left out)."""
    table = _read_graded(path)
    labels = dict(GRADE_LABELS)
    if c_label is not None:
        labels["C"] = int(c_label)
    table = table[table["grade"].isin(labels)].copy()
    table["label"] = table["grade"].map(labels).astype(int)
    if table.empty:
        raise InputError(f"{path}: no graded candidates to train on (A, B or X{', C' if c_label is not None else ''})")
    return table.reset_index(drop=True)


def graded_store(grades: str | os.PathLike[str], images: str | os.PathLike[str], out: str | os.PathLike[str],
                 c_label: int | None = None, base: str | os.PathLike[str] | None = None,
                 chunk: int = 65536) -> tuple[Path, dict[str, int]]:
    """Write the graded candidates' cutouts as a labelled store at ``out``; (its path, counts by label).

    With ``base`` (a packed store: the training data), its objects come first, copied shard by
    shard (``chunk`` objects at a time: bounded memory), so that one store holds both.
    """
    from brahmasifier.evaluation.gallery import load_cutouts
    from brahmasifier.io.store import INDEX_COLUMNS, finalize_store, is_store_folder, open_store, write_shard, write_store

    table = graded_labels(grades, c_label)
    out = Path(out)
    if out.exists() and not is_store_folder(out):
        raise InputError(f"{out}: exists and is not a store; the graded candidates' store goes there (move it away)")
    found = load_cutouts(images, table[["id", "stem"]])
    keys = [(str(i), s if s else None) for i, s in zip(table["id"], table["stem"], strict=True)]
    missing = [k[0] for k in keys if k not in found]
    if missing:
        raise InputError(f"--extra-images {images}: {len(missing)} graded candidates not found (first: id {missing[0]})")
    index = pd.DataFrame({"id": table["id"], "stem": [s or i for i, s in zip(table["id"], table["stem"], strict=True)],
                          "label": table["label"], "domain": GRADED_DOMAIN, "n_nan": 0})
    graded_images = np.stack([found[k] for k in keys]).astype(np.float32)
    if base is None:
        write_store(out, graded_images, index)
    else:
        source = open_store(base)
        shards, indexes = [], []
        for number, start in enumerate(range(0, len(source), chunk)):
            rows = np.arange(start, min(start + chunk, len(source)))
            shards.append((write_shard(out, number, source.read(rows)), len(rows)))
            indexes.append(source.index.iloc[rows][list(INDEX_COLUMNS)])
        shards.append((write_shard(out, len(shards), graded_images), len(graded_images)))
        finalize_store(out, shards, pd.concat([*indexes, index], ignore_index=True))
    return out, {"lens": int((table["label"] == 1).sum()), "non-lens": int((table["label"] == 0).sum())}


def write_atlas(grades: str | os.PathLike[str], images: str | os.PathLike[str], out: str | os.PathLike[str],
                grade: str = "X") -> int:
    """Write the false-positive atlas (the candidates graded ``grade``, highest score first) to ``out``; how many."""
    from brahmasifier.evaluation.gallery import load_cutouts, plot_gallery_section

    table = _read_graded(grades)
    table = table[table["grade"] == grade].sort_values("prob", ascending=False, kind="stable").reset_index(drop=True)
    parts = [f"<h1>False-positive atlas: {len(table)} candidates graded {grade}</h1>",
             f"<p>From {html.escape(str(grades))}, highest model score first. Panels: gri (galaxy stretch), "
             "gri hard stretch, g band, gri minus the fitted lens light; the bar is 1″.</p>"]
    if len(table):
        rows = table.assign(label=0, domain="")
        cutouts = load_cutouts(images, rows[["id", "stem"]])
        with tempfile.TemporaryDirectory() as work:
            for start in range(0, len(rows), 16):
                chunk = rows.iloc[start : start + 16]
                png = plot_gallery_section(chunk, cutouts, Path(work) / f"atlas_{start}.png",
                                           f"graded {grade}: {start + 1}–{start + len(chunk)}")
                data = base64.b64encode(png.read_bytes()).decode("ascii")
                parts.append(f'<img alt="false positives {start + 1} to {start + len(chunk)}" '
                             f'src="data:image/png;base64,{data}" style="max-width:100%">')
        notes = "".join(f"<tr><td>{html.escape(r.id)}</td><td>{r.prob:.4f}</td><td>{html.escape(r.note)}</td></tr>"
                        for r in table.itertuples())
        parts.append(f"<table><tr><th>id</th><th>prob</th><th>notes</th></tr>{notes}</table>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>False-positive atlas</title>"
            "<style>body{font-family:sans-serif;margin:20px}td,th{padding:2px 10px;text-align:left}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    write_text_atomic(out, page)
    return len(table)
