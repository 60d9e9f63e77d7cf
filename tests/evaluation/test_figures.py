"""display.py's figures: the Lupton grid against astropy's make_lupton_rgb, and the atomic PNG writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.visualization import make_lupton_rgb
from matplotlib.figure import Figure

from brahmasifier.display import LUPTON_Q, LUPTON_STRETCH, lupton_grid, save_figure


def _known_image(seed: int) -> np.ndarray:
    """A galaxy-like blob with colour (brighter in i than in g) on noise, sky level 10."""
    y, x = np.mgrid[:41, :41] - 20
    rng = np.random.default_rng(seed)
    blob = np.exp(-0.5 * (np.hypot(x, y) / 3.0) ** 2)
    return np.stack([10.0 + (20.0 + 15.0 * b) * blob + rng.normal(0, 0.5, blob.shape) for b in range(5)])


def _expected_rgb(image: np.ndarray) -> np.ndarray:
    """The galaxy stretch written out: i, r, g minus their medians over one common scale, then astropy."""
    i, r, g = (image[k] - np.median(image[k]) for k in (2, 1, 0))
    scale = np.percentile(np.stack([i, r, g])[:, 10:31, 10:31], 99.5)
    return make_lupton_rgb(i / scale, r / scale, g / scale, minimum=0.0, stretch=LUPTON_STRETCH, Q=LUPTON_Q)


def test_lupton_grid_draws_astropys_rgb_in_rows_with_titles() -> None:
    images = [_known_image(seed) for seed in range(3)]
    fig = lupton_grid([[(images[0], "lens 1"), (images[1], "lens 2")], [(images[2], "non-lens")]])
    assert isinstance(fig, Figure)
    axes = np.array(fig.axes).reshape(2, 2)
    for ax, image in ((axes[0, 0], images[0]), (axes[0, 1], images[1]), (axes[1, 0], images[2])):
        drawn = np.asarray(ax.images[0].get_array())
        assert drawn.dtype == np.uint8 and drawn.shape == (41, 41, 3)
        np.testing.assert_array_equal(drawn, _expected_rgb(image))
        assert ax.images[0].origin == "lower"
    assert [axes[0, 0].get_title(), axes[0, 1].get_title(), axes[1, 0].get_title()] == ["lens 1", "lens 2", "non-lens"]
    assert not axes[1, 1].images and not axes[1, 1].axison  # the short row is padded with a blank cell
    assert tuple(fig.get_size_inches()) == (3.8, 4.4)


def test_empty_grid_is_one_blank_cell_per_row() -> None:
    fig = lupton_grid([[], []])
    assert len(fig.axes) == 2 and not any(ax.images for ax in fig.axes)


def test_save_figure_writes_a_png_atomically(tmp_path: Path) -> None:
    fig = lupton_grid([[(_known_image(0), "one")]])
    loose = save_figure(fig, tmp_path / "out" / "loose.png", dpi=50)
    tight = save_figure(fig, tmp_path / "out" / "tight.png", dpi=50, tight=True)
    assert loose.read_bytes()[:8] == tight.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["loose.png", "tight.png"]  # no temporary file left
    size = {p.name: (int.from_bytes(p.read_bytes()[16:20], "big"), int.from_bytes(p.read_bytes()[20:24], "big"))
            for p in (loose, tight)}  # the PNG header's width and height
    assert size["loose.png"] == (95, 110)  # the figure's 1.9 x 2.2 inches at 50 dpi
    assert size["tight.png"] != size["loose.png"]  # tight: cropped to what is drawn
