"""Helpers for the io tests: write single objects (good or broken) into a folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.fits import write_band_fits
from brahmasifier.io.naming import band_filename

WriteObject = Callable[..., np.ndarray]


def write_object(folder: Path, stem: str, object_id: str | int | None, *, seed: int = 0,
                 bands: Sequence[str] = BANDS, image: np.ndarray | None = None) -> np.ndarray:
    """Write ``stem``'s band files (only ``bands``) and return the full (5,41,41) image written."""
    if image is None:
        image = np.random.default_rng(seed).normal(0.0, 5.0, (len(BANDS), STAMP_SIZE, STAMP_SIZE)).astype(np.float32)
    for b, band in enumerate(BANDS):
        if band in bands:
            write_band_fits(folder / band_filename(stem, band), "" if object_id is None else object_id, band, image[b])
    return image


@pytest.fixture
def make_object() -> WriteObject:
    """The :func:`write_object` helper as a fixture."""
    return write_object
