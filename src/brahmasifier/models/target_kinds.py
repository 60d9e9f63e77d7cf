"""What a regression target is: :class:`Target`, its kinds and encodings, and how a kind is encoded and acted on by D4.

A :class:`Target` is one learned quantity of one group (``lens`` rows: label 1, ``nonlens``
rows: label 0). Its ``kind`` fixes everything structural, so a new target is a declaration
(:func:`brahmasifier.models.target_registry.register_target`), not code:

- ``scalar``: one column, encoded ``identity``, ``log`` or ``log1p`` (θ_E, σ_v, sizes and Sérsic
  indices are positive with errors that scale with the value: log, a log-normal, median-unbiased,
  never negative; redshifts log1p: errors scale as 1+z and it stays finite at z → 0; magnitudes
  and positions identity). D4 leaves it unchanged.
- ``spin2``: a magnitude and a position angle (ellipticity, shear) learned as
  ``(e cos 2φ, e sin 2φ)`` — no wrap-around at 0°/180°, smooth through e = 0 — with ``e`` the
  eccentricity ``(1 − q)/(1 + q)`` for ``ellipticity`` (converted from what the conventions say
  ``ell_*`` holds, e.g. the axis ratio q, whose round value 1 would otherwise sit on the rim) and
  the modulus itself for ``modulus`` (the shear). D4 multiplies the components by signs
  (:func:`brahmasifier.d4.spin2_signs`).
- ``vector``: a position ``(x, y)``, less the conventions' centre. D4 permutes and signs it
  (:func:`brahmasifier.d4.vector_action`).

The continuous moves of the survey augmentations (any-angle turns and shifts of the image,
:class:`brahmasifier.data.augment.AugmentGeometry`) act here too, next to D4: a turn by α about
the stamp centre (from ``+x`` towards ``+y``) turns a ``vector`` by α and a ``spin2`` pair by
``2 · angle_sense · α`` (the PA changes by ``angle_sense · α``:
:attr:`~brahmasifier.models.conventions.TruthConventions.angle_sense`), a shift adds itself to a
``vector``; scalars never change (:func:`turn_target`, :func:`shift_target`). A quarter turn
gives exactly the D4 action (tested), and pixels' turns and shifts are put into the truth frame
by :meth:`~brahmasifier.models.conventions.TruthConventions.frame_turn` / ``frame_offsets``.
Pairs are standardised with location 0 and one shared scale, so both act on standardised values
as on encoded ones (a shift divided by that scale).

:func:`encode_target` and :func:`d4_target_action` are the per-kind rules the spec
(:class:`~brahmasifier.models.targets.TargetSet`) applies; :func:`spin2_frame` is the
along/across-the-mean frame of a spin-2 pair that both the σ recalibration and the decoder use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from brahmasifier.bands import MISSING_VALUE
from brahmasifier.d4 import spin2_signs, vector_action
from brahmasifier.models.conventions import TruthConventions

__all__ = ["ENCODINGS", "ERROR_KINDS", "GROUPS", "KINDS", "KIND_ENCODINGS", "LENS", "NONLENS", "Target",
           "d4_target_action", "encode_target", "shift_target", "spin2_frame", "turn_target", "valid_values"]

LENS, NONLENS = "lens", "nonlens"
#: Group → the label of the rows it is learned from.
GROUPS: dict[str, int] = {LENS: 1, NONLENS: 0}
KINDS: tuple[str, ...] = ("scalar", "spin2", "vector")
ENCODINGS: tuple[str, ...] = ("identity", "log", "log1p")
#: Encodings a kind accepts (the first is its default).
KIND_ENCODINGS: dict[str, tuple[str, ...]] = {"scalar": ENCODINGS, "spin2": ("modulus", "ellipticity"), "vector": ("identity",)}
#: Error kinds of output columns, used by the evaluation (``brahmasifier.evaluation.regression``).
ERROR_KINDS: tuple[str, ...] = ("linear", "relative", "redshift", "angle")


@dataclass(frozen=True)
class Target:
    """One learned quantity (see module docstring).

    Attributes:
        name: identifier (the first output column).
        group: ``lens`` or ``nonlens``.
        kind: ``scalar``, ``spin2`` (magnitude, PA) or ``vector`` (x, y).
        columns: canonical output columns, 1 (scalar) or 2.
        encoding: scalars ``identity``/``log``/``log1p``; ``spin2`` ``modulus`` (the magnitude as it is) or
            ``ellipticity`` (converted to the eccentricity by the conventions); vectors ``identity``.
        aliases: per column, the truth-table names accepted, first present wins
            (default: the column itself).
        submission: per column, the submission columns it fills (default: the column itself; ``()``: none).
        errors: per column, the evaluation's error kind (``ERROR_KINDS``).
    """

    name: str
    group: str
    kind: str
    columns: tuple[str, ...]
    encoding: str = ""
    aliases: tuple[tuple[str, ...], ...] = ()
    submission: tuple[tuple[str, ...], ...] = ()
    errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = 1 if self.kind == "scalar" else 2
        if self.group not in GROUPS or self.kind not in KINDS or len(self.columns) != n:
            raise ValueError(f"target {self.name!r}: group {self.group!r}, kind {self.kind!r}, columns {self.columns!r}")
        if self.kind in KIND_ENCODINGS and not self.encoding:
            object.__setattr__(self, "encoding", KIND_ENCODINGS[self.kind][0])
        if self.encoding not in KIND_ENCODINGS.get(self.kind, ()):
            allowed = KIND_ENCODINGS.get(self.kind)
            raise ValueError(f"target {self.name!r}: encoding {self.encoding!r} is not one of {allowed} for {self.kind!r}")
        columns = tuple(self.columns)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "aliases", tuple(tuple(a) for a in self.aliases) or tuple((c,) for c in columns))
        object.__setattr__(self, "submission", tuple(tuple(s) for s in self.submission) or tuple((c,) for c in columns))
        default_errors = {"scalar": ("linear",), "spin2": ("linear", "angle"), "vector": ("linear", "linear")}[self.kind]
        object.__setattr__(self, "errors", tuple(self.errors) or default_errors)
        lengths_ok = len(self.aliases) == len(self.submission) == len(self.errors) == n
        if not lengths_ok or any(e not in ERROR_KINDS for e in self.errors):
            raise ValueError(f"target {self.name!r}: aliases/submission/errors must have one entry per column")

    @property
    def dim_names(self) -> tuple[str, ...]:
        """Names of the learned (encoded) dimensions."""
        if self.kind == "spin2":
            return (f"{self.name}:c1", f"{self.name}:c2")
        if self.kind == "vector":
            return self.columns
        return (self.name if self.encoding == "identity" else f"{self.encoding}({self.name})",)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return {"name": self.name, "group": self.group, "kind": self.kind, "columns": list(self.columns),
                "encoding": self.encoding, "aliases": [list(a) for a in self.aliases],
                "submission": [list(s) for s in self.submission], "errors": list(self.errors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        """Inverse of :meth:`to_dict` (missing optional keys take their defaults)."""
        return cls(str(data["name"]), str(data["group"]), str(data["kind"]), tuple(data["columns"]),
                   str(data.get("encoding", "")), tuple(tuple(a) for a in data.get("aliases", ())),
                   tuple(tuple(a) for a in data.get("submission", ())), tuple(data.get("errors", ())))


def valid_values(values: np.ndarray) -> np.ndarray:
    """Present truth: finite and not the missing-value marker -999."""
    return np.isfinite(values) & (values != MISSING_VALUE)


def encode_target(target: Target, columns: list[np.ndarray], in_group: np.ndarray,
                  conventions: TruthConventions) -> tuple[np.ndarray, np.ndarray]:
    """A target's truth columns → its unstandardised encoded values ``(N, k)`` (0 where masked) and row mask ``(N,)``.

    Masked: rows outside ``in_group``, missing values, non-positive values under a log
    (≤ −1 under log1p), half a pair missing, an ellipticity outside its definition.
    """
    if target.kind == "scalar":
        v = columns[0]
        ok = in_group & valid_values(v)
        if target.encoding != "identity":
            ok &= v > (0.0 if target.encoding == "log" else -1.0)
        safe = np.where(ok, v, 1.0)
        enc = safe if target.encoding == "identity" else (np.log(safe) if target.encoding == "log" else np.log1p(safe))
        return np.where(ok, enc, 0.0)[:, None], ok
    a, b = columns
    ok = in_group & valid_values(a) & valid_values(b)
    if target.kind == "spin2":
        e = conventions.eccentricity(a) if target.encoding == "ellipticity" else np.where(a >= 0, a, np.nan)
        ok &= np.isfinite(e)
        e = np.where(ok, e, 0.0)
        phi = np.where(ok, b, 0.0) * conventions.radians_per_unit
        pair = np.stack([e * np.cos(2 * phi), e * np.sin(2 * phi)], axis=1)
    else:
        pair = np.stack([a, b], axis=1) - conventions.position_centre
    return np.where(ok[:, None], pair, 0.0), ok


def d4_target_action(target: Target, matrix: np.ndarray) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """How a D4 element with frame ``matrix`` acts on a target's standardised dimensions: ``(sources, signs)``.

    ``new[i] = signs[i] * old[sources[i]]`` (indices within the target). Exact because pairs are
    standardised isotropically (location 0, one shared scale).
    """
    if target.kind == "spin2":  # c → w c (rotations) or w conj(c) (reflections)
        return (0, 1), spin2_signs(matrix)
    if target.kind == "vector":  # (x', y') = M (x, y), M a signed permutation
        return vector_action(matrix)
    return (0,), (1.0,)


def turn_target(target: Target, values: np.ndarray, degrees: np.ndarray, conventions: TruthConventions) -> np.ndarray:
    """A target's encoded values ``(N, k)`` after the image turned by ``degrees`` ``(N,)`` from ``+x`` towards ``+y``.

    The turn is about the stamp centre (``position_centre``). ``vector``: rotated by the angle;
    ``spin2``: ``(e cos 2φ, e sin 2φ)`` rotated by ``2 · angle_sense · angle`` (φ → φ + sense · angle);
    ``scalar``: unchanged. Works on standardised values too (pairs: location 0, one scale).
    """
    values = np.asarray(values, dtype=np.float64)
    if target.kind == "scalar":
        return values
    rate = 1.0 if target.kind == "vector" else 2.0 * conventions.angle_sense
    angle = np.deg2rad(np.asarray(degrees, dtype=np.float64)) * rate
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = values[:, 0], values[:, 1]
    return np.stack([cos * x - sin * y, sin * x + cos * y], axis=1)


def shift_target(target: Target, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A target's encoded values ``(N, k)`` after the image moved by ``offsets`` ``(N, 2)`` (truth frame, encoded units).

    Only a ``vector`` (a position in the cutout) moves with the image; everything else is unchanged.
    """
    values = np.asarray(values, dtype=np.float64)
    return values + np.asarray(offsets, dtype=np.float64) if target.kind == "vector" else values


def spin2_frame(mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors along / across the mean of each pair and the predicted σ in those directions.

    Args:
        mu: ``(N, 2)`` means of ``(c1, c2)``.
        var: ``(N, 2)`` diagonal variances.

    Returns:
        ``(u, v, sd_u, sd_v)``: ``u`` ``(N, 2)`` along ``mu`` (``(1, 0)`` where ``mu`` is 0),
        ``v`` ``(N, 2)`` perpendicular, and the standard deviations along each.
    """
    norm = np.hypot(mu[:, 0], mu[:, 1])
    safe = np.where(norm > 0, norm, 1.0)
    u = np.where((norm > 0)[:, None], mu / safe[:, None], np.array([1.0, 0.0]))
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    return u, v, np.sqrt((u**2 * var).sum(axis=1)), np.sqrt((v**2 * var).sum(axis=1))
