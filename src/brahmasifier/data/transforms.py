"""The dihedral group D4 (4 rotations × optional flip): the one implementation of the eight views.

Lensing morphology has no preferred orientation on the sky, so all 8 elements are valid
augmentations (training, :func:`random_d4`) and test-time views
(:mod:`brahmasifier.inference.tta`), which both use :func:`d4_apply`.

Element ``e`` (0–7) is "rotate by ``e % 4`` quarter turns (counter-clockwise, as
``torch.rot90(x, e % 4, dims=(-2, -1))``), then flip left-right if ``e >= 4``". Each element is
applied as an optional transpose followed by flips of the last two axes: the same pixels as
``torch.rot90``/``torch.flip`` (tested), but made of ops the ONNX exporter supports
(``aten::rot90`` is not), so test-time views bake into an exported graph.
"""

from __future__ import annotations

import torch

__all__ = ["D4_SIZE", "IDENTITY", "d4_apply", "random_d4", "rot90"]

#: Number of elements of D4.
D4_SIZE: int = 8
#: The identity element.
IDENTITY: int = 0

_H, _W = -2, -1
#: Element → (transpose the last two axes first?, then the axes to flip).
_OPS: tuple[tuple[bool, tuple[int, ...]], ...] = (
    (False, ()),  # 0: identity
    (True, (_H,)),  # 1: rot 90
    (False, (_H, _W)),  # 2: rot 180
    (True, (_W,)),  # 3: rot 270
    (False, (_W,)),  # 4: flip left-right
    (True, (_H, _W)),  # 5: rot 90, then flip left-right
    (False, (_H,)),  # 6: rot 180, then flip left-right = flip up-down
    (True, ()),  # 7: rot 270, then flip left-right = transpose
)


def d4_apply(x: torch.Tensor, element: int) -> torch.Tensor:
    """Apply D4 element ``element`` (0–7, see module docstring) to the last two axes of ``x``."""
    if not 0 <= element < D4_SIZE:
        raise ValueError(f"D4 element must be in 0..7, got {element}")
    transpose, flips = _OPS[element]
    y = x.transpose(_H, _W) if transpose else x
    return torch.flip(y, dims=flips) if flips else y


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """``torch.rot90(x, k, dims=(-2, -1))`` for any integer ``k``, from transposes and flips."""
    return d4_apply(x, k % 4)


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

