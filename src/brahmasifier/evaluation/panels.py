"""The panels that show a candidate's arc: the one picture of a candidate, in the report and the inspector.

Per cutout, four ``(H, W, 3)`` uint8 images (:data:`PANELS`), each with a 1″ scale bar
(5 px at 0.2″/px) and the model's score when drawn by :func:`plot_candidate`:

==============  ===============================================================================
``gri``         Lupton RGB (i, r, g), galaxy stretch (:func:`brahmasifier.display.lupton_rgb`)
``gri_hard``    the same bands in units of the sky noise, saturating at 12σ (:func:`~brahmasifier.display.noise_rgb`)
``g``           the g band alone, hard stretch, grey (arcs are blue: g holds most of their light)
``residual``    g, r, i minus the fitted lens light (:mod:`brahmasifier.evaluation.lens_light`), smoothed by a
                Gaussian of σ = 1 px (under the PSF), hard stretch in units of the smoothed noise
==============  ===============================================================================

Why these: at the gallery's old (galaxy) stretch the demo's top-scored true lenses looked
like plain red galaxies (issue 24). The hard stretch shows features a few σ above the sky, at
the cost of a burnt-out galaxy; the residual removes the galaxy, and on simulated lenses its
arc contrast is a median 5–12× that of the plain image (``experiments/inspect_panels.py``,
the numbers in ``docs/inspect.md``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter

from brahmasifier.bands import PIXEL_SCALE, band_index
from brahmasifier.display import lupton_rgb, noise_rgb
from brahmasifier.evaluation.lens_light import LensLightFit, fit_lens_light

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PANELS", "PANEL_TITLES", "RESIDUAL_MINIMUM", "RESIDUAL_SATURATION", "RESIDUAL_SMOOTHING_PX", "SCALE_BAR_ARCSEC",
           "candidate_panels", "panel_png", "plot_candidate", "scale_bar_pixels"]

PANELS: tuple[str, ...] = ("gri", "gri_hard", "g", "residual")
PANEL_TITLES: dict[str, str] = {"gri": "gri", "gri_hard": "gri hard", "g": "g", "residual": "gri − lens"}
#: σ (pixels) of the Gaussian that smooths the residual panel: below the PSF's σ (≈1.6 px at 0.75″ FWHM),
#: so arcs keep their shape while the pixel noise drops about 3.5×; shown in units of the smoothed noise.
RESIDUAL_SMOOTHING_PX: float = 0.7
#: The smoothed residual's display range in units of its own noise: black below, white above.
RESIDUAL_MINIMUM: float = 1.0
RESIDUAL_SATURATION: float = 25.0
#: Length of the scale bar drawn on every panel.
SCALE_BAR_ARCSEC: float = 1.0


def scale_bar_pixels() -> float:
    """Length of the scale bar in pixels (5 at 0.2″/px)."""
    return SCALE_BAR_ARCSEC / PIXEL_SCALE


def candidate_panels(image: np.ndarray, fit: LensLightFit | None = None) -> dict[str, np.ndarray]:
    """The :data:`PANELS` of one ``(5, H, W)`` cutout in raw units, as uint8 RGB arrays.

    ``fit`` is the lens-light fit of ``image`` (computed when not given).
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    fit = fit or fit_lens_light(image)
    gri = [band_index(b) for b in ("i", "r", "g")]
    sky = image - fit.sky_level[:, None, None]
    return {
        "gri": lupton_rgb(image),
        "gri_hard": noise_rgb([sky[b] for b in gri], fit.sky_sigma[gri]),
        "g": noise_rgb(sky[band_index("g")], fit.sky_sigma[band_index("g")]),
        "residual": noise_rgb([gaussian_filter(fit.residual[b], RESIDUAL_SMOOTHING_PX) for b in gri],
                              fit.sky_sigma[gri] * _smoothed_noise_factor(), saturation=RESIDUAL_SATURATION,
                              minimum=RESIDUAL_MINIMUM),
    }


def _smoothed_noise_factor() -> float:
    """σ of white unit noise after the residual's Gaussian smoothing (measured on the kernel itself)."""
    impulse = np.zeros((21, 21))
    impulse[10, 10] = 1.0
    return float(np.sqrt((gaussian_filter(impulse, RESIDUAL_SMOOTHING_PX) ** 2).sum()))


def panel_png(rgb: np.ndarray) -> bytes:
    """One panel as PNG bytes at its own resolution (the browser scales it up, pixelated)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[::-1])).save(buffer, format="PNG")  # row 0 is the bottom (origin lower)
    return buffer.getvalue()


def plot_candidate(axes: list[Axes], image: np.ndarray | None, score: float | None, label: str = "") -> None:
    """Draw the panels of one cutout into ``len(PANELS)`` axes: titles, 1″ scale bar, score on the first.

    ``image`` ``None`` draws "image not found" in the first axes.
    """
    for ax in axes:
        ax.set_axis_off()
    if image is None:
        axes[0].text(0.5, 0.5, "image not found", ha="center", va="center", fontsize=7, transform=axes[0].transAxes)
        return
    panels = candidate_panels(image)
    n = image.shape[-1]
    bar = scale_bar_pixels()
    for ax, name in zip(axes, PANELS, strict=False):
        ax.imshow(panels[name], origin="lower", interpolation="nearest")
        ax.set_title(PANEL_TITLES[name], fontsize=6, pad=2)
        ax.plot([2, 2 + bar], [2, 2], color="white", linewidth=1.5, solid_capstyle="butt")
        ax.text(2 + bar / 2, 3, f"{SCALE_BAR_ARCSEC:g}″", color="white", fontsize=5, ha="center", va="bottom")
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(-0.5, n - 0.5)
    text = label if score is None or not np.isfinite(score) else f"p={score:.4f} {label}".strip()
    axes[0].text(1, n - 2, text, color="white", fontsize=5, ha="left", va="top",
                 bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
