"""The regression spec of a model: :class:`TargetSet` — which targets, their standardisation, masks, D4 action and moves, JSON.

Contract:

- The targets are declared in :mod:`brahmasifier.models.target_registry` (the challenge's list
  built in; a new one is one ``register_target`` call); what a target is and how its kind is
  encoded and acted on by D4: :mod:`brahmasifier.models.target_kinds`.
- A :class:`TargetSet` (the spec stored in the model card) holds the targets, the truth
  conventions (:mod:`brahmasifier.models.conventions`), the per-dimension standardisation
  fitted on training rows (``(encoded - location) / scale``) and the per-dimension
  ``sigma_scale`` of a post-hoc variance recalibration (:mod:`brahmasifier.models.recalibration`;
  for a ``spin2`` pair its two entries scale the radial and the tangential direction), and
  ``interval_scale``: per decoded magnitude / PA column and interval level, the factor on that
  decoded interval's half-widths (also fitted on validation; absent: 1). It is plain JSON (:meth:`TargetSet.to_dict`).
- :meth:`TargetSet.encode` maps a truth table to standardised values and a mask: -999, NaN,
  non-positive values under a log, values outside the column's physical range
  (:mod:`brahmasifier.ranges`, which also bounds what is written) and rows of the
  other group are masked (value 0, mask False).
- The model predicts a mean and a log-variance per standardised dimension;
  :func:`brahmasifier.models.target_decode.decode` turns them into the challenge's columns with intervals.
- Pairs are standardised with location 0 and one shared scale, so a flip or quarter turn of
  the image acts on the standardised targets as a signed permutation (:meth:`TargetSet.d4_action`):
  augmentation and test-time augmentation transform targets exactly; the survey augmentation's
  shifts and any-angle turns act through :meth:`TargetSet.move_targets` (the per-kind rules in
  :mod:`brahmasifier.models.target_kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier.errors import ConfigError
from brahmasifier.io.parameters import canonical_parameter_name
from brahmasifier.models.conventions import SIMULATOR_CONVENTIONS, TruthConventions, d4_frame_matrix
from brahmasifier.models.target_kinds import (
    ENCODINGS,
    GROUPS,
    KIND_ENCODINGS,
    KINDS,
    LENS,
    NONLENS,
    Target,
    d4_target_action,
    encode_target,
    shift_target,
    turn_target,
    valid_values,
)
from brahmasifier.models.target_registry import challenge_targets, register_target, registered_targets
from brahmasifier.ranges import invalid_truth

# The target vocabulary is re-exported: ``models.targets`` is where callers find the spec and its parts.
__all__ = ["ENCODINGS", "GROUPS", "KINDS", "KIND_ENCODINGS", "LENS", "NONLENS", "SPEC_FORMAT", "Target", "TargetSet",
           "challenge_targets", "default_target_set", "register_target", "select_targets", "truth_column"]

SPEC_FORMAT = "brahmasifier-targets"
SPEC_VERSION = 2  # 2: ``intervals`` (TargetSet.interval_scale); version-1 specs read as before


def truth_column(table: pd.DataFrame, aliases: tuple[str, ...]) -> np.ndarray:
    """The first alias present in ``table`` as float64 (all NaN if none is).

    Column names are compared by their canonical store spelling
    (:func:`brahmasifier.io.parameters.canonical_parameter_name`: ``vel disp`` is ``vel_disp``).
    """
    names = {canonical_parameter_name(str(c)): c for c in table.columns}
    for name in aliases:
        column = names.get(canonical_parameter_name(name))
        if column is not None:
            return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    return np.full(len(table), np.nan)


def _checked_columns(table: pd.DataFrame, target: Target) -> list[np.ndarray]:
    """The target's truth columns with invalid values (:func:`~brahmasifier.ranges.invalid_truth`) as NaN."""
    cols = [truth_column(table, a) for a in target.aliases]
    return [np.where(invalid_truth(c, name)[0], np.nan, c) for c, name in zip(cols, target.columns, strict=True)]


@dataclass
class TargetSet:
    """The regression spec of a model (see module docstring); ``from_dict(to_dict())`` round-trips exactly."""

    targets: tuple[Target, ...]
    conventions: TruthConventions = SIMULATOR_CONVENTIONS
    #: Per learned dimension (empty: the defaults 0, 1, 1, 0).
    location: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sigma_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_fit: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Output column → {interval level: factor on its decoded half-widths} (``spin2`` columns; absent: 1).
    interval_scale: dict[str, dict[float, float]] = field(default_factory=dict)
    _dims: list[tuple[int, int]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.targets = tuple(self.targets)
        names = [n for t in self.targets for n in t.dim_names]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"target names must be distinct and non-empty: {names}")
        self._dims = [(k, c) for k, t in enumerate(self.targets) for c in range(len(t.dim_names))]
        d = len(self._dims)
        for attr, default in (("location", 0.0), ("scale", 1.0), ("sigma_scale", 1.0), ("n_fit", 0)):
            arr = np.asarray(getattr(self, attr), dtype=np.float64).reshape(-1)
            arr = np.full(d, default, dtype=np.float64) if arr.size == 0 else arr
            if arr.shape != (d,):
                raise ValueError(f"{attr}: expected {d} values, got {arr.size}")
            setattr(self, attr, arr)
        if not (np.all(self.scale > 0) and np.all(self.sigma_scale > 0)):
            raise ValueError("scale and sigma_scale must be > 0")

    # -- structure -----------------------------------------------------------------------------
    @property
    def n_dims(self) -> int:
        """Number of learned dimensions (the head predicts a mean and a log-variance for each)."""
        return len(self._dims)

    @property
    def dim_names(self) -> list[str]:
        """Names of the learned dimensions, in order."""
        return [n for t in self.targets for n in t.dim_names]

    @property
    def dim_groups(self) -> np.ndarray:
        """Group of each learned dimension."""
        return np.array([self.targets[k].group for k, _ in self._dims])

    @property
    def output_columns(self) -> list[str]:
        """Canonical output columns, in order."""
        return [c for t in self.targets for c in t.columns]

    def target_slices(self) -> list[tuple[Target, slice]]:
        """Each target with the slice of its learned dimensions."""
        out, start = [], 0
        for t in self.targets:
            out.append((t, slice(start, start + len(t.dim_names))))
            start += len(t.dim_names)
        return out

    # -- encoding ------------------------------------------------------------------------------
    def encode_raw(self, table: pd.DataFrame, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unstandardised encoded targets ``(N, D)`` float64 (0 where masked) and the mask ``(N, D)``."""
        labels = np.asarray(labels).reshape(-1)
        if labels.size != len(table):
            raise ValueError(f"{labels.size} labels for {len(table)} table rows")
        values = np.zeros((len(table), self.n_dims))
        mask = np.zeros((len(table), self.n_dims), dtype=bool)
        for t, sl in self.target_slices():
            encoded, ok = encode_target(t, _checked_columns(table, t), labels == GROUPS[t.group], self.conventions)
            values[:, sl] = encoded
            mask[:, sl] = ok[:, None]
        return values, mask

    def encode(self, table: pd.DataFrame, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised targets ``(N, D)`` float32 (0 where masked) and the mask ``(N, D)`` bool."""
        values, mask = self.encode_raw(table, labels)
        standard = (values - self.location) / self.scale
        return np.where(mask, standard, 0.0).astype(np.float32), mask

    def fit(self, table: pd.DataFrame, labels: np.ndarray) -> TargetSet:
        """A copy standardised on these (training) rows; ``sigma_scale`` reset to 1, ``interval_scale`` cleared.

        Scalars: mean and standard deviation. Pairs: location 0 and the per-component RMS, shared
        by both components (so D4 acts as a signed permutation).
        """
        values, mask = self.encode_raw(table, labels)
        location = np.zeros(self.n_dims)
        scale = np.ones(self.n_dims)
        n_fit = mask.sum(axis=0).astype(np.float64)
        for t, sl in self.target_slices():
            v, m = values[:, sl], mask[:, sl]
            if not m[:, 0].any():
                continue
            if t.kind == "scalar":
                location[sl] = v[m[:, 0], 0].mean()
                std = v[m[:, 0], 0].std()
            else:
                std = float(np.sqrt(np.mean(v[m[:, 0]] ** 2)))
            scale[sl] = std if std > 1e-12 else 1.0
        return replace(self, location=location, scale=scale, sigma_scale=np.ones(self.n_dims), n_fit=n_fit,
                       interval_scale={})

    def missing_columns(self, table: pd.DataFrame) -> list[str]:
        """Output columns none of whose aliases is in ``table`` (they are masked everywhere)."""
        present = {canonical_parameter_name(str(c)) for c in table.columns}
        return [c for t in self.targets for c, a in zip(t.columns, t.aliases, strict=True)
                if not any(canonical_parameter_name(n) in present for n in a)]

    def with_sigma_scale(self, sigma_scale: np.ndarray) -> TargetSet:
        """A copy whose predicted standard deviations are multiplied by ``sigma_scale`` (per dimension)."""
        return replace(self, sigma_scale=np.asarray(sigma_scale, dtype=np.float64))

    def with_interval_scale(self, interval_scale: dict[str, dict[float, float]]) -> TargetSet:
        """A copy whose decoded intervals of these columns are widened by these factors (per level)."""
        return replace(self, interval_scale={str(c): {float(lv): float(f) for lv, f in fs.items()}
                                             for c, fs in interval_scale.items()})

    def canonical_truth(self, table: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
        """The truth in the canonical output columns (aliases resolved), NaN where invalid or of the other group."""
        labels = np.asarray(labels).reshape(-1)
        out: dict[str, np.ndarray] = {}
        for t in self.targets:
            cols = _checked_columns(table, t)
            ok = (labels == GROUPS[t.group]) & np.logical_and.reduce([valid_values(c) for c in cols])
            for name, c in zip(t.columns, cols, strict=True):
                out[name] = np.where(ok, c, np.nan)
        return pd.DataFrame(out, index=table.index)

    # -- D4 --------------------------------------------------------------------------------------
    def d4_action(self, element: int) -> tuple[np.ndarray, np.ndarray]:
        """How D4 ``element`` acts on the standardised targets: ``(perm, sign)``.

        ``element`` as :func:`brahmasifier.d4.d4_apply` applies it to images;
        ``new[:, i] = sign[i] * old[:, perm[i]]``, variances follow ``perm`` only. Pairs are
        standardised isotropically, so this is exact.
        """
        m = d4_frame_matrix(element, self.conventions)
        perm = np.arange(self.n_dims)
        sign = np.ones(self.n_dims)
        for t, sl in self.target_slices():
            sources, signs = d4_target_action(t, m)
            perm[sl] = sl.start + np.asarray(sources)
            sign[sl] = signs
        return perm, sign

    def d4_apply_targets(self, values: np.ndarray, element: int, inverse: bool = False, variance: bool = False) -> np.ndarray:
        """Targets (or predictions) ``(N, D)`` of an image → those of its D4 ``element`` view.

        ``inverse=True``: from the view back to the original. ``variance=True`` permutes without signs.
        """
        perm, sign = self.d4_action(element)
        sign = np.ones_like(sign) if variance else sign
        values = np.asarray(values)
        if not inverse:
            return values[:, perm] * sign
        out = np.empty_like(values)
        out[:, perm] = values * sign
        return out

    # -- continuous moves (survey augmentation) --------------------------------------------------
    def move_targets(self, values: np.ndarray, shift: np.ndarray, turn: np.ndarray, pixel_scale: float) -> np.ndarray:
        """Standardised targets ``(N, D)`` of images → those of the images shifted, then turned.

        ``shift`` ``(N, 2)``: pixels along columns and rows; ``turn`` ``(N,)``: degrees from
        ``+col`` towards ``+row`` about the stamp centre (the order and meaning of
        :class:`brahmasifier.data.augment.AugmentGeometry`). Per target:
        :func:`~brahmasifier.models.target_kinds.shift_target` (a shift in the truth frame and unit,
        divided by the pair's scale), then :func:`~brahmasifier.models.target_kinds.turn_target`.
        """
        values = np.asarray(values, dtype=np.float64)
        offsets = self.conventions.frame_offsets(shift, pixel_scale)
        degrees = self.conventions.frame_turn(turn)
        out = values.copy()
        for t, sl in self.target_slices():
            moved = shift_target(t, values[:, sl], offsets / self.scale[sl][0])
            out[:, sl] = turn_target(t, moved, degrees, self.conventions)
        return out

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON dict (what the model card stores)."""
        arrays = (self.location, self.scale, self.sigma_scale, self.n_fit)
        dims = [{"name": n, "location": float(loc), "scale": float(s), "sigma_scale": float(ss), "n_fit": int(nf)}
                for n, loc, s, ss, nf in zip(self.dim_names, *arrays, strict=True)]
        return {"format": SPEC_FORMAT, "version": SPEC_VERSION, "conventions": self.conventions.to_dict(),
                "targets": [t.to_dict() for t in self.targets], "dims": dims,
                "intervals": {c: {repr(lv): f for lv, f in fs.items()} for c, fs in self.interval_scale.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetSet:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming what is wrong."""
        if not isinstance(data, dict) or data.get("format") != SPEC_FORMAT:
            raise ValueError(f"not a regression target spec (format {data.get('format') if isinstance(data, dict) else data!r})")
        if int(data.get("version", 0)) > SPEC_VERSION:
            raise ValueError(f"target spec version {data['version']} is newer than this brahmasifier reads ({SPEC_VERSION})")
        targets = tuple(Target.from_dict(t) for t in data["targets"])
        spec = cls(targets, TruthConventions.from_dict(data.get("conventions", {})))
        dims = data.get("dims", [])
        if [d["name"] for d in dims] != spec.dim_names:
            raise ValueError(f"target spec dims {[d.get('name') for d in dims]} do not match its targets {spec.dim_names}")
        location, scale, sigma_scale, n_fit = (np.array([d[k] for d in dims])
                                               for k in ("location", "scale", "sigma_scale", "n_fit"))
        intervals = {str(c): {float(lv): float(f) for lv, f in fs.items()} for c, fs in data.get("intervals", {}).items()}
        if not set(intervals) <= set(spec.output_columns) or not all(f > 0 for fs in intervals.values() for f in fs.values()):
            raise ValueError(f"target spec intervals {intervals} name unknown columns or non-positive factors")
        return cls(targets, spec.conventions, location, scale, sigma_scale, n_fit, interval_scale=intervals)


def default_target_set(conventions: TruthConventions = SIMULATOR_CONVENTIONS) -> TargetSet:
    """All :func:`challenge_targets`, unfitted."""
    return TargetSet(challenge_targets(), conventions)


def select_targets(names: str, conventions: TruthConventions = SIMULATOR_CONVENTIONS) -> TargetSet:
    """The unfitted spec of a ``--targets`` setting: ``default`` (all) or comma-separated names.

    A name is a target's or one of its columns' (``ell_l_PA`` selects the ``ell_l`` pair); a
    :class:`~brahmasifier.errors.ConfigError` names an unknown one.
    """
    available = registered_targets()
    wanted = [n.strip() for n in str(names).split(",") if n.strip()]
    if wanted == ["default"]:
        return TargetSet(challenge_targets(), conventions)
    by_name = {canonical_parameter_name(c): t for t in available for c in (t.name, *t.columns)}
    unknown = [n for n in wanted if canonical_parameter_name(n) not in by_name]
    if unknown or not wanted:
        raise ConfigError(f"unknown regression target(s) {unknown or names!r}; use 'default' or names among "
                          f"{', '.join(t.name for t in available)}")
    chosen = {by_name[canonical_parameter_name(n)].name for n in wanted}
    return TargetSet(tuple(t for t in available if t.name in chosen), conventions)
