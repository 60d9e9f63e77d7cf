"""Collecting the data statistics of a stream of batches, and recording a training run's in its model card.

:class:`StatsCollector` takes raw batches one by one (bounded memory: per-object statistics
are kept for a uniform random sample of :data:`SAMPLE_SIZE` objects, the pixel histogram is a
running sum) and gives the summary of :func:`brahmasifier.shift.stats.summarise`; ``check`` and
the end of training use the same collector, so the two sides of a comparison are measured alike.

:func:`record_training_statistics` runs at the end of ``train`` (``training/export.py``): the
pixel statistics on a random sample of at most ``max_objects`` rows of the training and
validation split, the embedding density (:class:`~brahmasifier.shift.embedding.EmbeddingDensity`)
on at most ``max_objects`` validation rows (embeddings of objects the network was fitted on
sit closer to its training mean than new data's would). Bounded cost: at most 2 × 2,000 objects (about a minute on
2 busy CPU cores), whatever the size of the training set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from brahmasifier.pixels import invalid_mask
from brahmasifier.shift.embedding import EmbeddingDensity, embed, has_embedding
from brahmasifier.shift.stats import PixelHistogram, RandomSample, object_statistics, sky_of, summarise

__all__ = ["MAX_RECORD_OBJECTS", "SAMPLE_SIZE", "StatsCollector", "record_training_statistics"]

#: Objects whose per-object statistics are kept for a summary (uniform random sample).
SAMPLE_SIZE: int = 20_000
#: Objects measured at the end of training, per side (pixels; embedding).
MAX_RECORD_OBJECTS: int = 2000


class StatsCollector:
    """Per-object statistics and the pixel histogram of a stream of raw batches (see module docstring)."""

    def __init__(self, rng: np.random.Generator, sample_size: int = SAMPLE_SIZE) -> None:
        self.sample = RandomSample(sample_size, rng)
        self.histogram = PixelHistogram()
        self.n_objects = 0

    def add(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Measure raw ``images`` ``(k, 5, H, W)``; returns their per-object statistics."""
        invalid = invalid_mask(images)
        sky = sky_of(images, invalid)
        stats = object_statistics(images, invalid, sky)
        self.histogram.add(images, invalid, sky)
        self.sample.add(stats)
        self.n_objects += len(images)
        return stats

    def summary(self) -> dict[str, Any]:
        """The summary (quantiles, means, histogram) of everything added."""
        return summarise(self.sample.rows, self.histogram, self.n_objects)


def record_training_statistics(model: nn.Module, store: Any, train_rows: np.ndarray, val_rows: np.ndarray,
                               rng: np.random.Generator, max_objects: int = MAX_RECORD_OBJECTS,
                               batch_size: int = 256) -> dict[str, Any]:
    """The card's ``data_statistics``: pixel statistics of the training/validation data, embedding density on validation.

    Args:
        model: the trained network (set to eval mode here).
        store: the run's :class:`~brahmasifier.io.store.CutoutStore`.
        train_rows: store rows of the training split.
        val_rows: store rows of the validation split.
        rng: the random sample's generator.
        max_objects: objects measured per side.
        batch_size: objects per read.
    """
    all_rows = np.concatenate([np.asarray(train_rows), np.asarray(val_rows)]).astype(np.int64)
    pixel_rows = np.sort(rng.choice(all_rows, size=min(max_objects, len(all_rows)), replace=False))
    emb_rows = np.sort(rng.choice(np.asarray(val_rows, dtype=np.int64), size=min(max_objects, len(val_rows)), replace=False))
    collector = StatsCollector(rng)
    for start in range(0, len(pixel_rows), batch_size):
        collector.add(store.read_batch(pixel_rows[start : start + batch_size]).images)
    model = model.eval()
    features = []
    if not has_embedding(model):  # e.g. plain_cnn: pixel statistics only
        emb_rows = emb_rows[:0]
    for start in range(0, len(emb_rows), batch_size):
        x = torch.from_numpy(store.read_batch(emb_rows[start : start + batch_size]).images)
        features.append(embed(model, x).cpu().numpy())
    out: dict[str, Any] = {
        "pixels": collector.summary(),
        "how": (f"pixel statistics of a random sample of {len(pixel_rows)} training/validation objects; embedding "
                f"density (PPCA of a Ledoit-Wolf covariance) of {len(emb_rows)} validation objects, fitted on one half, "
                "distance quantiles on the other (brahmasifier.shift)"),
    }
    if len(emb_rows) >= 8:
        out["embedding"] = EmbeddingDensity.fit(np.concatenate(features), rng).to_dict()
    return out
