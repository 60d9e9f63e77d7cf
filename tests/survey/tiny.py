"""Tiny objects with an angle to measure: an elongated galaxy and an off-centre arc, per band, plus noise."""

from __future__ import annotations

import numpy as np

from brahmasifier.bands import BANDS, STAMP_SIZE


def structured_object(rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    """A (5, 41, 41) float32 cutout: an elliptical core and an arc at 8 px, the same in every band (scaled), plus noise."""
    yy, xx = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - (STAMP_SIZE - 1) / 2.0
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    core = 60.0 * np.exp(-0.5 * ((u / 4.0) ** 2 + (v / 1.8) ** 2))
    phi = np.arctan2(yy, xx)
    r = np.hypot(xx, yy)
    arc = 20.0 * np.exp(-0.5 * ((r - 8.0) / 1.0) ** 2) * np.exp(-0.5 * ((np.angle(np.exp(1j * (phi - 1.0)))) / 0.5) ** 2)
    knot = 30.0 * np.exp(-0.5 * (((xx + 6) ** 2 + (yy - 11) ** 2) / 2.0))
    scale = np.array([0.6, 0.9, 1.0, 1.0, 0.8])
    image = np.stack([scale[b] * (core + arc + knot) for b in range(len(BANDS))])
    return (image + rng.normal(0.0, noise, image.shape)).astype(np.float32)
