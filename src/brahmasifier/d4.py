"""The dihedral group D4 (4 quarter turns × optional flip): the one implementation of the eight elements.

Lensing morphology has no preferred orientation on the sky, so every element is a valid
training augmentation (:func:`brahmasifier.data.transforms.random_d4`), a valid test-time view
(:mod:`brahmasifier.inference.tta_views`: named sets of elements) and acts exactly on the
regression targets (:meth:`brahmasifier.models.targets.TargetSet.d4_action`, through
:func:`frame_matrix`, :func:`spin2_signs` and :func:`vector_action` here). All three read this
module, so the images, the views and the targets cannot disagree about what an element does.

Element ``e`` (0–7) is "rotate by ``e % 4`` quarter turns (counter-clockwise, as
``torch.rot90(x, e % 4, dims=(-2, -1))``), then flip left-right if ``e >= 4``". Each element is
applied as an optional transpose followed by flips of the last two axes: the same pixels as
``torch.rot90``/``torch.flip`` (tested), but made of ops the ONNX exporter supports
(``aten::rot90`` is not), so test-time views bake into an exported graph. :func:`d4_apply` takes
torch tensors and NumPy arrays alike (tensor methods, so this module needs no torch import and
sits in the bottom layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "D4_SIZE", "IDENTITY", "axis_frame", "compose", "d4_apply", "d4_invert", "frame_matrix", "inverse_element", "rot90",
    "spin2_signs", "vector_action",
]

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

def _check(element: int) -> int:
    if not 0 <= int(element) < D4_SIZE:
        raise ValueError(f"D4 element must be in 0..7, got {element}")
    return int(element)


@overload
def d4_apply(x: np.ndarray, element: int) -> np.ndarray: ...
@overload
def d4_apply(x: torch.Tensor, element: int) -> torch.Tensor: ...
def d4_apply(x: Any, element: int) -> Any:
    """Apply D4 ``element`` (0–7, see module docstring) to the last two axes of a tensor or array."""
    transpose, flips = _OPS[_check(element)]
    y: Any = x
    if isinstance(x, np.ndarray):
        y = np.swapaxes(x, _H, _W) if transpose else x
        y = np.flip(y, axis=flips) if flips else y
    else:
        y = y.transpose(_H, _W) if transpose else y
        y = y.flip(dims=flips) if flips else y
    return y


@overload
def rot90(x: np.ndarray, k: int) -> np.ndarray: ...
@overload
def rot90(x: torch.Tensor, k: int) -> torch.Tensor: ...
def rot90(x: Any, k: int) -> Any:
    """``torch.rot90(x, k, dims=(-2, -1))`` (or ``np.rot90``) for any integer ``k``, from transposes and flips."""
    return d4_apply(x, k % 4)


def _probe_table() -> tuple[tuple[int, ...], ...]:
    """``table[a][b]``: the element equal to "``a``, then ``b``", found by applying both to a probe."""
    probe = np.arange(9).reshape(3, 3)
    images = [d4_apply(probe, e) for e in range(D4_SIZE)]
    return tuple(tuple(next(k for k in range(D4_SIZE) if np.array_equal(d4_apply(images[a], b), images[k]))
                       for b in range(D4_SIZE)) for a in range(D4_SIZE))


_COMPOSE = _probe_table()


def compose(first: int, then: int) -> int:
    """The element equal to applying ``first``, then ``then``."""
    return _COMPOSE[_check(first)][_check(then)]


def inverse_element(element: int) -> int:
    """The element that undoes ``element``."""
    return next(k for k in range(D4_SIZE) if compose(element, k) == IDENTITY)


@overload
def d4_invert(x: np.ndarray, element: int) -> np.ndarray: ...
@overload
def d4_invert(x: torch.Tensor, element: int) -> torch.Tensor: ...
def d4_invert(x: Any, element: int) -> Any:
    """Undo :func:`d4_apply` of ``element``: ``d4_invert(d4_apply(x, e), e)`` is ``x``."""
    return d4_apply(x, inverse_element(element))


def axis_frame(x_axis: str = "+col", y_axis: str = "+row") -> np.ndarray:
    """2×2 signed permutation taking pixel offsets ``(d_row, d_col)`` to ``(x, y)`` that grow along ``x_axis`` / ``y_axis``.

    ``x = s_x · d[axis of x]``, ``y = s_y · d[axis of y]`` (axes as in :func:`frame_matrix`).
    """
    axis = {"row": 0, "col": 1}
    frame = np.zeros((2, 2))
    for k, name in enumerate((x_axis, y_axis)):
        frame[k, axis[name[1:]]] = 1.0 if name[0] == "+" else -1.0
    return frame


def frame_matrix(element: int, x_axis: str = "+col", y_axis: str = "+row") -> np.ndarray:
    """2×2 matrix of D4 ``element`` on (x, y) coordinates that grow along ``x_axis`` / ``y_axis``.

    Axes are ``+col``, ``-col``, ``+row``, ``-row`` (``col`` = the last array axis). Measured on
    a probe image with :func:`d4_apply` itself, so it follows that function's definition.
    """
    size, c = 5, 2

    def moved(row: int, col: int) -> tuple[int, int]:
        probe = np.zeros((size, size))
        probe[c + row, c + col] = 1.0
        r, q = divmod(int(np.argmax(d4_apply(probe, element))), size)
        return r - c, q - c

    frame = axis_frame(x_axis, y_axis)
    pixel = np.array([moved(1, 0), moved(0, 1)], dtype=np.float64).T  # columns: images of unit row / col offsets
    return frame @ pixel @ frame.T


def spin2_signs(matrix: np.ndarray) -> tuple[float, float]:
    """Signs ``(s1, s2)`` by which a signed-permutation ``matrix`` acts on spin-2 components ``(e cos 2φ, e sin 2φ)``.

    A quarter turn or an axis flip multiplies ``c1 + i c2`` by ``w = ±1`` (rotations) or maps it to
    ``w · conj(c)`` (reflections): ``s1 = w``, ``s2 = w · det``. The origin and sense of the angle
    do not matter (they change signs that cancel).
    """
    det = round(float(np.linalg.det(matrix)))
    w = round(float(matrix[0, 0] ** 2 - matrix[1, 0] ** 2))  # Re (m00 + i m10)^2 = ±1
    return float(w), float(w * det)


def vector_action(matrix: np.ndarray) -> tuple[tuple[int, int], tuple[float, float]]:
    """``((src_x, src_y), (sign_x, sign_y))`` of a signed-permutation ``matrix`` on a vector ``(x, y)``.

    ``x' = sign_x · (x, y)[src_x]``, ``y' = sign_y · (x, y)[src_y]``.
    """
    src_x, src_y = int(np.argmax(np.abs(matrix[0]))), int(np.argmax(np.abs(matrix[1])))
    return (src_x, src_y), (float(matrix[0, src_x]), float(matrix[1, src_y]))
