"""Training augmentation by D4: one random flip/quarter turn per sample, from the one implementation in :mod:`brahmasifier.d4`.

Lensing morphology has no preferred orientation on the sky, so all 8 elements of D4 are valid
augmentations. :func:`random_d4` draws one element per sample and applies it with
:func:`brahmasifier.d4.d4_apply` (the same function the test-time views and the regression
targets' D4 action use); the elements are returned so that targets can follow their image
(``training/multitask.py``). ``d4_apply``, ``rot90``, ``D4_SIZE`` and ``IDENTITY`` are re-exported
from :mod:`brahmasifier.d4` for callers of this module.
"""

from __future__ import annotations

import torch

from brahmasifier.d4 import D4_SIZE, IDENTITY, d4_apply, rot90

__all__ = ["D4_SIZE", "IDENTITY", "d4_apply", "random_d4", "rot90"]


def random_d4(x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One random D4 element per sample of a ``(B, C, H, W)`` batch; returns ``(augmented, elements)``.

    ``generator`` lives on the CPU; the elements are drawn there (reproducible on every device).
    """
    elements = torch.randint(0, D4_SIZE, (x.shape[0],), generator=generator)
    out = torch.empty_like(x)
    for element in range(D4_SIZE):
        sel = (elements == element).nonzero().flatten()
        if sel.numel():
            sel = sel.to(x.device)
            out[sel] = d4_apply(x.index_select(0, sel), element)
    return out, elements
