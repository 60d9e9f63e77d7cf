"""The dihedral group D4 (4 rotations × optional flip) on image tensors, batch-wise and seedable.

Lensing morphology has no preferred orientation on the sky, so all 8 elements are valid
augmentations (and test-time augmentations). Operates on the last two axes of a tensor on
any device; the random version draws one element per sample from a ``torch.Generator``.
"""

from __future__ import annotations

import torch

#: Number of elements of D4.
D4_SIZE: int = 8


def d4_apply(x: torch.Tensor, element: int) -> torch.Tensor:
    """Apply D4 element ``element`` (0–7): rotate by ``element % 4`` quarter turns, then flip left-right if ``element >= 4``."""
    if not 0 <= element < D4_SIZE:
        raise ValueError(f"D4 element must be in 0..7, got {element}")
    y = torch.rot90(x, element % 4, dims=(-2, -1))
    return torch.flip(y, dims=(-1,)) if element >= 4 else y


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
