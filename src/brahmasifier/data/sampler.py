"""The training order: a shuffle that depends only on (seed, epoch), and can skip what a resumed epoch already did.

``DataLoader(shuffle=True)`` draws its order from torch's global generator, whose state is not
in a checkpoint: a run resumed after a SIGKILL saw other batches than an uninterrupted one
(weights differed by up to 0.067, issue 25). :class:`EpochSampler` draws epoch ``e``'s
permutation from ``numpy.random.default_rng((seed, e))`` (Lightning calls ``set_epoch`` before
each epoch, also on a resumed run), and ``skip`` drops the first samples of the next epoch it
yields: the batches a mid-epoch checkpoint had already trained on
(:func:`brahmasifier.training.run` reads their count from the checkpoint). With the per-step
seeds of dropout and augmentation (:mod:`brahmasifier.training.task`), a resumed run trains on
exactly the batches, in exactly the order, of the uninterrupted one (one device; under DDP
Lightning's ``DistributedSampler`` is seeded by epoch as well, and a resumed run restarts the
interrupted epoch's order from its start).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

__all__ = ["EpochSampler"]


class EpochSampler(Sampler[int]):
    """Indices ``0..n-1`` in the order of ``default_rng((seed, epoch)).permutation(n)``, less the first ``skip`` once."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration yields (called by Lightning before each epoch)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        skip, self.skip = self.skip, 0
        return iter(order[skip:].tolist())

    def __len__(self) -> int:
        return self.n
