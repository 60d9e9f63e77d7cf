"""The registry of test-time-augmentation view sets: a name → the D4 elements scored and averaged.

A view set is a tuple of elements of D4 (:mod:`brahmasifier.d4`: rotate by ``e % 4`` quarter
turns, then flip left-right from 4 on). Views are D4 elements, not arbitrary functions, because a
multi-task model's parameter estimates must be mapped back from each view to the original image
(``TargetSet.d4_apply_targets(..., inverse=True)``), which D4 does exactly, and because flips and
transposes bake into an exported ONNX graph. Adding a view set is one call::

    from brahmasifier.inference.tta_views import register_tta_view

    register_tta_view("rot4", (0, 1, 2, 3), "the four quarter turns")

after which ``PredictConfig(tta="rot4")``, :class:`~brahmasifier.inference.tta.TTAModel` and the
ONNX export accept it (``brahmasifier predict --tta rot4`` where the registration runs before the
CLI is built). Torch-free, so that parsing options needs no torch.
"""

from __future__ import annotations

from brahmasifier.d4 import D4_SIZE

__all__ = ["TTA_DESCRIPTIONS", "TTA_ELEMENTS", "register_tta_view"]

#: View-set name → D4 elements, in registration order (the ``tta`` choices).
TTA_ELEMENTS: dict[str, tuple[int, ...]] = {}
#: View-set name → one line saying what it is (``predict --help``, the docs).
TTA_DESCRIPTIONS: dict[str, str] = {}


def register_tta_view(name: str, elements: tuple[int, ...] | list[int], description: str = "") -> tuple[int, ...]:
    """Register the view set ``name`` (distinct D4 elements; the first is usually 0, the image as is); returns them.

    Raises ``ValueError`` for an empty or repeated set, an element outside 0–7, or a name already
    registered with other elements (registering the same set again is a no-op, so a module may be
    imported twice).
    """
    views = tuple(int(e) for e in elements)
    if not name or not views or len(set(views)) != len(views) or not all(0 <= e < D4_SIZE for e in views):
        raise ValueError(f"TTA view set {name!r}: distinct D4 elements in 0..{D4_SIZE - 1} needed, got {elements!r}")
    if TTA_ELEMENTS.get(name, views) != views:
        raise ValueError(f"TTA view set {name!r} is already registered as {TTA_ELEMENTS[name]}")
    TTA_ELEMENTS[name] = views
    TTA_DESCRIPTIONS[name] = description
    return views


register_tta_view("none", (0,), "the image as is")
register_tta_view("flips", (0, 4, 6), "identity, left-right and up-down flips (the reference system's three views)")
# The rotations of the image, then those of its mirror image (4, 7, 6, 5 = the mirror rotated by 0..3 quarter turns).
register_tta_view("d4", (0, 1, 2, 3, 4, 7, 6, 5), "all 8 elements of D4 (4 rotations × optional flip)")
