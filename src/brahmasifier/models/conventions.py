"""The truth table's geometric conventions, as data the regression target spec carries.

What a regression model needs to know about the ``parameters.fits`` columns: what ``ell_*``
holds (an axis ratio, or an ellipticity), the unit and range of the position angles
(``*_PA``), and how ``srcx``/``srcy`` sit on the pixel grid (which image axis each grows along,
their value at the stamp centre). Ellipticities and shears are learned as components
``(e cos 2φ, e sin 2φ)`` of the eccentricity ``e = (1 − q)/(1 + q)`` (the shear modulus as it
is); flips and quarter turns act on those the same way whatever the origin and sense of the
angle (PA → ±PA + k·90° only changes signs that cancel). A turn by any other angle does depend
on the sense: :attr:`TruthConventions.angle_sense` (from ``angle_origin``/``angle_towards``) says
whether a PA grows with a turn from ``+x`` towards ``+y``, and :meth:`TruthConventions.frame_turn`
/ :meth:`TruthConventions.frame_offsets` carry a turn and a shift of the pixels (the survey
augmentations of :mod:`brahmasifier.data.augment`) into this frame and unit (``position_unit``:
``arcsec`` = ``pixel_scale`` per pixel, or ``pixel``).

:data:`SIMULATOR_CONVENTIONS` is read from :data:`brahmasifier.bands.TRUTH_CONVENTIONS`, the one
home of what both simulation engines write (``simulation.truth.CONVENTIONS`` is that dict;
``docs/conventions.md``: ``ell`` = axis ratio, PA in degrees in [0, 180) from +y towards +x,
positions in arcsec from the stamp centre with x along columns). It lives in the bottom layer
because model cards must be readable without lenstronomy, which ``brahmasifier.simulation`` needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from brahmasifier.bands import TRUTH_CONVENTIONS
from brahmasifier.d4 import axis_frame, frame_matrix

__all__ = ["ANGLE_UNITS", "AXES", "ELLIPTICITIES", "POSITION_UNITS", "SIMULATOR_CONVENTIONS", "TruthConventions",
           "d4_frame_matrix"]

#: Units accepted for position angles.
ANGLE_UNITS: tuple[str, ...] = ("rad", "deg")
#: Image axes a position coordinate can grow along (``col`` = last array axis, ``row`` = the one before).
AXES: tuple[str, ...] = ("+col", "-col", "+row", "-row")
#: Units of ``srcx``/``srcy``: arcsec (the pixel scale per pixel) or pixels.
POSITION_UNITS: tuple[str, ...] = ("arcsec", "pixel")
#: What an ``ell_*`` column can hold: the axis ratio q = b/a, the eccentricity (1 − q)/(1 + q), or 1 − q.
ELLIPTICITIES: tuple[str, ...] = ("axis_ratio", "eccentricity", "one_minus_q")


@dataclass(frozen=True)
class TruthConventions:
    """Conventions of the truth columns (see module docstring).

    Attributes:
        ellipticity: what ``ell_l``, ``ell_m``, ``ell_s`` hold (:data:`ELLIPTICITIES`).
        angle_unit: ``rad`` or ``deg`` for every ``*_PA`` column.
        angle_range: the half-open range PAs are written in (its width is 180°).
        angle_origin: axis the PA is measured from (``+x``, ``-x``, ``+y``, ``-y``).
        angle_towards: axis the PA grows towards (perpendicular to ``angle_origin``).
        x_axis: image axis along which ``srcx`` grows.
        y_axis: image axis along which ``srcy`` grows (the other one).
        position_centre: value of ``srcx``/``srcy`` at the stamp centre.
        position_unit: unit of ``srcx``/``srcy``: ``arcsec`` or ``pixel`` (:data:`POSITION_UNITS`).
    """

    ellipticity: str = "axis_ratio"
    angle_unit: str = "deg"
    angle_range: tuple[float, float] = (0.0, 180.0)
    angle_origin: str = "+y"
    angle_towards: str = "+x"
    x_axis: str = "+col"
    y_axis: str = "+row"
    position_centre: float = 0.0
    position_unit: str = "arcsec"

    def __post_init__(self) -> None:
        object.__setattr__(self, "angle_range", (float(self.angle_range[0]), float(self.angle_range[1])))
        if self.ellipticity not in ELLIPTICITIES:
            raise ValueError(f"ellipticity {self.ellipticity!r}: expected one of {', '.join(ELLIPTICITIES)}")
        if self.angle_unit not in ANGLE_UNITS:
            raise ValueError(f"angle_unit {self.angle_unit!r}: expected one of {', '.join(ANGLE_UNITS)}")
        width = (self.angle_range[1] - self.angle_range[0]) * self.radians_per_unit
        if not math.isclose(width, math.pi, rel_tol=1e-9):
            half_turn = math.pi / self.radians_per_unit
            raise ValueError(f"angle_range {self.angle_range}: must span 180° ({half_turn:g} {self.angle_unit})")
        if self.x_axis not in AXES or self.y_axis not in AXES or self.x_axis[1:] == self.y_axis[1:]:
            raise ValueError(f"x_axis {self.x_axis!r} / y_axis {self.y_axis!r}: one along col, one along row (+/-)")

    @property
    def radians_per_unit(self) -> float:
        """Multiply a PA in ``angle_unit`` by this to get radians."""
        return 1.0 if self.angle_unit == "rad" else math.pi / 180.0

    @property
    def angle_period(self) -> float:
        """Period of a position angle (half a turn) in ``angle_unit``: 180 or π."""
        return math.pi / self.radians_per_unit

    def eccentricity(self, ell: np.ndarray) -> np.ndarray:
        """``(1 − q)/(1 + q)`` of ``ell`` values (NaN outside the definition's domain)."""
        ell = np.asarray(ell, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.ellipticity == "axis_ratio":
                e = np.where((ell > 0) & (ell <= 1), (1.0 - ell) / (1.0 + ell), np.nan)
            elif self.ellipticity == "one_minus_q":
                e = np.where((ell >= 0) & (ell < 1), ell / (2.0 - ell), np.nan)
            else:
                e = np.where((ell >= 0) & (ell < 1), ell, np.nan)
        return e

    def ellipticity_from_eccentricity(self, e: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`eccentricity` (``e`` clipped to [0, 1))."""
        e = np.clip(np.asarray(e, dtype=np.float64), 0.0, 1.0 - 1e-12)
        if self.ellipticity == "axis_ratio":
            return (1.0 - e) / (1.0 + e)
        if self.ellipticity == "one_minus_q":
            return 2.0 * e / (1.0 + e)
        return e

    @property
    def ellipticity_decreasing(self) -> bool:
        """True when the ``ell`` value falls as the eccentricity grows (an axis ratio)."""
        return self.ellipticity == "axis_ratio"

    @property
    def angle_sense(self) -> int:
        """+1 when a PA grows with a turn from ``+x`` towards ``+y``, −1 when against it (``+y`` → ``+x``)."""
        polar = {"+x": 0, "+y": 90, "-x": 180, "-y": 270}
        if self.angle_origin not in polar or self.angle_towards not in polar:
            raise ValueError(f"angle_origin {self.angle_origin!r} / angle_towards {self.angle_towards!r}: "
                             f"expected axes among {', '.join(polar)}")
        step = (polar[self.angle_towards] - polar[self.angle_origin]) % 360
        if step not in (90, 270):
            raise ValueError(f"angle_towards {self.angle_towards!r} is not perpendicular to angle_origin {self.angle_origin!r}")
        return 1 if step == 90 else -1

    def frame_turn(self, degrees: np.ndarray) -> np.ndarray:
        """A turn of the pixels by ``degrees`` from ``+col`` towards ``+row`` → the same turn from ``+x`` towards ``+y``.

        Equal, or opposite when ``x_axis``/``y_axis`` mirror the pixel grid (e.g. ``y`` along ``-row``).
        """
        col_row = axis_frame(self.x_axis, self.y_axis)[:, ::-1]  # (d_col, d_row) → (x, y)
        return np.asarray(degrees, dtype=np.float64) * round(float(np.linalg.det(col_row)))

    def frame_offsets(self, shift: np.ndarray, pixel_scale: float) -> np.ndarray:
        """Pixel shifts ``(N, 2)`` = (along columns, along rows) → ``(N, 2)`` changes of ``(x, y)`` in ``position_unit``."""
        if self.position_unit not in POSITION_UNITS:
            raise ValueError(f"position_unit {self.position_unit!r}: expected one of {', '.join(POSITION_UNITS)}")
        per_pixel = float(pixel_scale) if self.position_unit == "arcsec" else 1.0
        col_row = axis_frame(self.x_axis, self.y_axis)[:, ::-1]
        return np.asarray(shift, dtype=np.float64).reshape(-1, 2) @ col_row.T * per_pixel

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``angle_range`` as a list)."""
        data = asdict(self)
        data["angle_range"] = list(self.angle_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TruthConventions:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        unknown = sorted(set(data) - set(asdict(cls())))
        if unknown:
            raise ValueError(f"unknown truth-convention keys {unknown}")
        values = dict(data)
        if "angle_range" in values:
            values["angle_range"] = tuple(values["angle_range"])
        return cls(**values)


#: What :mod:`brahmasifier.simulation` writes (``bands.TRUTH_CONVENTIONS`` = ``simulation.truth.CONVENTIONS``).
SIMULATOR_CONVENTIONS = TruthConventions.from_dict(dict(TRUTH_CONVENTIONS))


def d4_frame_matrix(element: int, conventions: TruthConventions) -> np.ndarray:
    """2×2 matrix of D4 ``element`` on (x, y) truth coordinates (:func:`brahmasifier.d4.frame_matrix`, these axes)."""
    return frame_matrix(element, conventions.x_axis, conventions.y_axis)
