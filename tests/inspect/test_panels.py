"""The candidate panels and the lens-light residual, on simulated objects with known truth."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from brahmasifier.bands import BANDS, PIXEL_SCALE
from brahmasifier.evaluation.lens_light import fit_lens_light
from brahmasifier.evaluation.panels import PANELS, candidate_panels, panel_png, scale_bar_pixels

pytest.importorskip("lenstronomy")

from brahmasifier.simulation.generate import make_object, object_rng
from brahmasifier.simulation.render import Renderer
from brahmasifier.sky import sky_stats

GRI = [BANDS.index(b) for b in "gri"]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer("slsim")


def lens_free(renderer: Renderer, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A simulated lens's galaxy and field without the lensed source: (noisy image, true per-pixel variance)."""
    scene = copy.copy(make_object(renderer, 1, k, seed).scene)
    scene.components = [c for c in scene.components if not c.lensed]
    renderer.new_object()
    model = renderer.render(scene, None, noise=False).image.astype(np.float64)
    image = renderer.render(scene, object_rng(seed + 1, "slsim", 0, k), noise=True).image
    variance = np.stack([inst.background_rms**2 + np.clip(model[b], 0, None) * inst.poisson_njy_per_count
                         for b, inst in enumerate(renderer.lsst)])
    return image, variance


def test_residual_of_a_lens_free_galaxy_is_noise(renderer: Renderer) -> None:
    n = 41
    y, x = np.mgrid[0:n, 0:n] - n // 2
    central = x**2 + y**2 <= 100  # the 10 px disc where the galaxy and an arc would be
    chi2, chi2_sky_only = [], []
    for k in range(6):
        image, variance = lens_free(renderer, k, seed=21)
        fit = fit_lens_light(image)
        chi2.append(float((fit.residual[:, central] ** 2 / variance[:, central]).mean()))
        level, _ = sky_stats(image.astype(np.float64))
        plain = image - level[:, None, None]
        chi2_sky_only.append(float((plain[:, central] ** 2 / variance[:, central]).mean()))
    assert 0.8 < np.median(chi2) < 1.35, chi2
    assert np.median(chi2_sky_only) > 5  # the galaxy itself is far from noise: the check can fail


def test_residual_shows_the_arc_better_than_the_plain_image(renderer: Renderer) -> None:
    """Arc contrast mean_A(arc) / rms_R(map − arc) (experiments/inspect_panels.py), residual vs plain, g+r+i."""
    ratios = []
    for k in range(8):
        obj = make_object(renderer, 1, k, seed=5)
        arc = renderer.render(obj.scene, None, noise=False, lensed_only=True).image[GRI].sum(axis=0).astype(np.float64)
        level, sigma = sky_stats(obj.image.astype(np.float64))
        arc_pixels = arc > np.sqrt((sigma[GRI] ** 2).sum())
        n = arc.shape[0]
        y, x = np.mgrid[0:n, 0:n] - n // 2
        region = x**2 + y**2 <= (obj.scene.rein / PIXEL_SCALE + 4) ** 2

        def contrast(shown: np.ndarray, arc: np.ndarray = arc, arc_pixels: np.ndarray = arc_pixels,
                     region: np.ndarray = region) -> float:
            clutter = shown - arc
            return float(arc[arc_pixels].mean() / np.sqrt(np.mean((clutter[region] - np.median(clutter[region])) ** 2)))

        plain = (obj.image[GRI] - level[GRI, None, None]).sum(axis=0)
        residual = fit_lens_light(obj.image).residual[GRI].sum(axis=0)
        ratios.append(contrast(residual) / contrast(plain))
    assert np.median(ratios) >= 2.0, ratios


def test_panels_are_rgb_images_with_a_one_arcsec_bar(renderer: Renderer) -> None:
    image = make_object(renderer, 1, 0, seed=5).image
    panels = candidate_panels(image)
    assert tuple(panels) == PANELS
    for rgb in panels.values():
        assert rgb.shape == (41, 41, 3) and rgb.dtype == np.uint8
        assert 0 < rgb.mean() < 250
    assert np.array_equal(panels["g"][..., 0], panels["g"][..., 2])  # one band: grey
    assert scale_bar_pixels() == pytest.approx(5.0)
    assert panel_png(panels["residual"]).startswith(b"\x89PNG")
    blank = candidate_panels(np.zeros((5, 41, 41), dtype=np.float32))  # no signal at all: drawn, not crashed
    assert all(p.shape == (41, 41, 3) for p in blank.values())
