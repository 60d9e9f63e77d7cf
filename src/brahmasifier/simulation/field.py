"""Unrelated field objects added to every cutout alike: neighbour galaxies and foreground stars."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from brahmasifier.simulation.colours import fluxes, mags_from_i_and_colours
from brahmasifier.simulation.galaxies import random_galaxy
from brahmasifier.simulation.scene import LightComponent, Scene

if TYPE_CHECKING:
    from brahmasifier.simulation.population import PopulationConfig

__all__ = ["add_field"]


def add_field(rng: np.random.Generator, scene: Scene, cfg: PopulationConfig, half_size: float) -> None:
    """Unrelated neighbours and stars, the same for both classes (appended in place)."""
    for _ in range(int(rng.poisson(cfg.mean_neighbours))):
        while True:
            x, y = rng.uniform(-half_size - 1.0, half_size + 1.0, 2)
            if math.hypot(x, y) > 2.5:
                break
        # Galaxy counts rise ~0.3 dex/mag: inverse-CDF draw between i=20 and 25.5.
        u = rng.uniform()
        lo, hi = 10 ** (0.3 * 20.0), 10 ** (0.3 * 25.5)
        mag_i = math.log10(lo + u * (hi - lo)) / 0.3
        scene.components.append(random_galaxy(rng, "neighbour", float(x), float(y), mag_i, float(rng.uniform(0.2, 1.5))))
    if rng.uniform() < cfg.star_probability:
        while True:
            x, y = rng.uniform(-half_size, half_size, 2)
            if math.hypot(x, y) > 2.0:
                break
        colours = np.array([rng.uniform(0.3, 1.4), rng.uniform(0.1, 1.2), rng.uniform(0.0, 0.5), rng.uniform(0.0, 0.3)])
        mags = mags_from_i_and_colours(float(rng.uniform(17.5, 24.0)), colours)
        scene.components.append(LightComponent("star", "point", {"center_x": float(x), "center_y": float(y)}, fluxes(mags)))
