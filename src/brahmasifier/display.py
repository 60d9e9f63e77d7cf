"""Colour pictures of cutouts: the one home of the Lupton et al. (2004) asinh RGB (astropy ``make_lupton_rgb``).

Two stretches, both with i, r, g as R, G, B and each band's sky level subtracted first:

- :func:`lupton_rgb` (the **galaxy** stretch): the three bands divided by one common robust
  scale (their 99.5th percentile together, in the central 21 × 21 pixels where the candidate
  sits, so that a bright neighbour at the edge does not darken it), so colours are kept and
  objects of any depth look alike; the lens galaxy is not saturated, and a faint arc next to it
  is usually invisible.
- :func:`noise_rgb` (the **hard** stretch): the bands in units of their sky noise σ, black at
  :data:`HARD_MINIMUM` σ and saturating at about :data:`HARD_SATURATION` σ, so that features a
  few σ above the sky are bright and the galaxy's core burns out. The same function draws
  single bands (grey) and lens-light residuals (:mod:`brahmasifier.evaluation.panels`).

Used by the simulator's preview (``simulation/runs.py``), the report's gallery and the
inspection tool's panels.

Figures of cutouts, one home too: :func:`lupton_grid` (rows of titled galaxy-stretch RGBs: the
simulator's preview) and :func:`save_figure` (a Matplotlib figure written as a PNG atomically:
every figure file of the package — the evaluation plots, the gallery, the data-shift figure,
the preview). Figures are ``matplotlib.figure.Figure`` objects (Agg canvas, no pyplot state),
so they are safe in worker processes and never open a window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import band_index

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HARD_MINIMUM", "HARD_SATURATION", "LUPTON_Q", "LUPTON_STRETCH", "SCALE_BOX", "SCALE_PERCENTILE",
           "lupton_grid", "lupton_rgb", "noise_rgb", "save_figure"]

#: Galaxy stretch: Lupton stretch and softening for bands scaled so their 99.5th percentile is 1.
LUPTON_STRETCH: float = 0.4
LUPTON_Q: float = 8.0
SCALE_PERCENTILE: float = 99.5
#: Side of the central box (pixels) in which the galaxy stretch's percentile is taken.
SCALE_BOX: int = 21
#: Hard stretch, in units of the sky noise σ: black below ``HARD_MINIMUM``, white from about ``HARD_SATURATION``.
HARD_MINIMUM: float = 0.5
HARD_SATURATION: float = 12.0
_HARD_Q: float = 3.0


def _gri(image: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(image[band_index(b)], dtype=np.float64) for b in ("i", "r", "g")]


def lupton_rgb(image: np.ndarray, stretch: float = LUPTON_STRETCH, q: float = LUPTON_Q) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB of a 5-band cutout in raw units (i, r, g as R, G, B), galaxy stretch.

    Each band's sky level (median) is subtracted, then all three are divided by one common
    robust scale (the 99.5th percentile of the three bands together), so that colours are
    preserved and objects of any depth or zero point look alike. The percentile is taken in
    the central :data:`SCALE_BOX` × :data:`SCALE_BOX` pixels (the whole cutout if smaller).
    """
    from astropy.visualization import make_lupton_rgb

    channels = [np.nan_to_num(c - np.nanmedian(c), nan=0.0, posinf=0.0, neginf=0.0) for c in _gri(image)]
    h, w = channels[0].shape
    top, left = max((h - SCALE_BOX) // 2, 0), max((w - SCALE_BOX) // 2, 0)
    centre = np.stack(channels)[:, top : top + SCALE_BOX, left : left + SCALE_BOX]
    scale = float(np.percentile(centre, SCALE_PERCENTILE))
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.max(np.abs(np.stack(channels)))) or 1.0
    r, g, b = (c / scale for c in channels)
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-zero cutout: Lupton's I is 0 everywhere
        return make_lupton_rgb(r, g, b, minimum=0.0, stretch=stretch, Q=q)


def noise_rgb(channels: list[np.ndarray] | np.ndarray, sigma: float | np.ndarray,
              saturation: float = HARD_SATURATION, minimum: float = HARD_MINIMUM) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB of sky-subtracted ``channels`` (R, G, B; one plane gives grey) in σ units.

    Args:
        channels: one 2-D plane (grey) or three (R, G, B), sky level already subtracted.
        sigma: the sky noise of each channel (one number or one per channel).
        saturation: the brightness in σ at which a pixel turns white.
        minimum: the brightness in σ shown black.
    """
    from astropy.visualization import make_lupton_rgb

    planes = [np.asarray(channels, dtype=np.float64)] if np.ndim(channels) == 2 else [np.asarray(c, dtype=np.float64)
                                                                                   for c in channels]
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(planes),))
    scaled = [np.nan_to_num(p / s if np.isfinite(s) and s > 0 else p, nan=0.0, posinf=0.0, neginf=0.0)
              for p, s in zip(planes, sigmas, strict=True)]
    if len(scaled) == 1:
        scaled = scaled * 3
    # Lupton's f(I) = asinh(Q (I - min) / stretch) / Q reaches 1 at I - min = stretch sinh(Q) / Q.
    stretch = (saturation - minimum) * _HARD_Q / math.sinh(_HARD_Q)
    with np.errstate(invalid="ignore", divide="ignore"):  # pixels at the minimum: Lupton's I is 0 there
        return make_lupton_rgb(*scaled, minimum=minimum, stretch=stretch, Q=_HARD_Q)


def lupton_grid(rows: Sequence[Sequence[tuple[np.ndarray, str]]], cell_width: float = 1.9,
                cell_height: float = 2.2, title_size: float = 7) -> Figure:
    """A figure of cutouts drawn with :func:`lupton_rgb`, one row of the grid per group, each cutout titled.

    Args:
        rows: per grid row, ``(image, title)`` pairs: a 5-band cutout ``(5, H, W)`` in raw units and its title.
            Shorter rows are padded with blank cells; an empty grid is one blank cell.
        cell_width: inches per column.
        cell_height: inches per row.
        title_size: the titles' font size (points).

    Returns:
        The figure (laid out tightly), for :func:`save_figure`.
    """
    from matplotlib.figure import Figure

    n_cols = max((len(r) for r in rows), default=0) or 1
    fig = Figure(figsize=(cell_width * n_cols, cell_height * max(len(rows), 1)))
    axes = fig.subplots(max(len(rows), 1), n_cols, squeeze=False)
    for row_axes, group in zip(axes, [*rows] or [[]], strict=True):
        for ax, cell in zip(row_axes, [*group, *[None] * (n_cols - len(group))], strict=True):
            ax.set_axis_off()
            if cell is None:
                continue
            image, title = cell
            ax.imshow(lupton_rgb(np.asarray(image, dtype=np.float64)), origin="lower")
            ax.set_title(title, fontsize=title_size)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: float, tight: bool = False) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically (temporary file + rename); return the path.

    Args:
        fig: the figure.
        path: the PNG file to write.
        dpi: its resolution (dots per inch).
        tight: crop the canvas to what is drawn (Matplotlib's ``bbox_inches="tight"``).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return path
