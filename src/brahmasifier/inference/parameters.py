"""The ensemble's lens-parameter estimates at the merge: decoded once per ID into submission and probability columns.

Input: the merged part table with the ensemble's predictive in the encoded physical units
(``pmean_<k>``, ``pvar_<k>``, ``pcov_<k>`` per learned dimension,
:func:`parameter_columns`; rows of a duplicated ID are
averaged with its logits), the ensemble's :class:`~brahmasifier.models.targets.TargetSet` and
the 0/1 predictions. It is decoded with
:func:`brahmasifier.models.target_decode.decode_predictive` into the challenge's columns.

- **Submission** (:func:`submission_parameters`): an object predicted as a lens gets the lens
  group's columns (θ_E, redshifts, magnitudes, shapes...), one predicted as a non-lens the
  non-lens group's (``z_central``, ``mag_object_{b}``); every other column, and every column no
  model predicts, is -999 (the writer's fill).
- **Probabilities file** (:func:`probability_columns`): for every object and every predicted
  column ``X`` of either group, ``X`` (the point value: the predictive's median),
  ``X_sigma`` (half the width of its 68% interval), ``X_lo68``/``X_hi68`` and
  ``X_lo95``/``X_hi95`` (the interval ends; for a position angle ``value ∓ half-width``, not
  wrapped). ``evaluate`` scores these against the truth of true lenses and non-lenses,
  whatever the classification.

Nothing invented (:func:`guard_decoded`, issue 25): before either is written, the columns of a
target the model had no training truth for become -999, and values outside a column's physical
range (:mod:`brahmasifier.ranges`) are clipped to it, with a count per column in
``predict``'s summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brahmasifier.models.target_decode import LEVELS, Decoded, Predictive, decode_predictive, submission_values
from brahmasifier.models.targets import GROUPS, TargetSet
from brahmasifier.ranges import clip_to_ranges

__all__ = [
    "INTERVAL_SUFFIXES", "decode_table", "guard_decoded", "parameter_columns", "probability_columns", "submission_parameters",
]

#: Suffixes of the interval columns in the probabilities file, per level of :data:`LEVELS`.
INTERVAL_SUFFIXES: dict[float, tuple[str, str]] = {LEVELS[0]: ("_lo68", "_hi68"), LEVELS[1]: ("_lo95", "_hi95")}


def parameter_columns(spec: TargetSet) -> list[str]:
    """Part-file columns of the ensemble's predictive: ``pmean_<k>``, ``pvar_<k>``, ``pcov_<k>`` per learned dimension."""
    return [f"{kind}_{k}" for kind in ("pmean", "pvar", "pcov") for k in range(spec.n_dims)]


def decode_table(spec: TargetSet, table: pd.DataFrame) -> Decoded:
    """The merged table's ``pmean_/pvar_/pcov_`` columns → the challenge columns with intervals."""
    d = spec.n_dims

    def block(kind: str) -> np.ndarray:
        return table[[f"{kind}_{k}" for k in range(d)]].to_numpy(np.float64)

    return decode_predictive(spec, Predictive(block("pmean"), block("pvar"), block("pcov")))


def guard_decoded(spec: TargetSet, decoded: Decoded) -> list[str]:
    """Never write an invented or impossible value (issue 25); returns the summary lines saying what was changed.

    - a target no training object had truth for (``n_fit`` 0: an old card, or a model built by
      hand) is written as missing: its columns become NaN (-999 in the submission, empty in the
      probabilities file);
    - a value or interval end outside its column's physical range
      (:data:`brahmasifier.ranges.PHYSICAL_RANGES`) is clipped to the range, and
      the number of clipped point values per column is reported.
    """
    lines: list[str] = []
    untrained = [c for t, sl in spec.target_slices() if not np.any(spec.n_fit[sl] > 0) for c in t.columns]
    for column in untrained:
        for frame in (decoded.values, *decoded.minus.values(), *decoded.plus.values()):
            frame[column] = np.nan
    if untrained:
        lines.append(f"lens parameters: no training truth for {', '.join(untrained)}: written as -999 (missing)")
    value_columns = [c for c in decoded.values.columns if c not in untrained]
    ends = {}
    for level in decoded.minus:
        lo = decoded.values[value_columns] - decoded.minus[level][value_columns]
        hi = decoded.values[value_columns] + decoded.plus[level][value_columns]
        clip_to_ranges(lo, {c: c for c in value_columns})
        clip_to_ranges(hi, {c: c for c in value_columns})
        ends[level] = (lo, hi)
    clipped = clip_to_ranges(decoded.values, {c: c for c in value_columns})
    for level, (lo, hi) in ends.items():
        decoded.minus[level][value_columns] = np.maximum(decoded.values[value_columns] - lo, 0.0)
        decoded.plus[level][value_columns] = np.maximum(hi - decoded.values[value_columns], 0.0)
    if clipped:
        lines.append(f"lens parameters: clipped {sum(clipped.values())} values into their physical range ("
                     + ", ".join(f"{c} {n}" for c, n in clipped.items()) + "; ranges: brahmasifier.ranges)")
    return lines


def submission_parameters(spec: TargetSet, decoded: Decoded, preds: np.ndarray) -> dict[str, np.ndarray]:
    """Submission parameter columns (store names): each group's columns for the objects predicted as that group."""
    preds = np.asarray(preds).reshape(-1)
    out: dict[str, np.ndarray] = {}
    for group, label in GROUPS.items():
        for name, values in submission_values(spec, decoded.values, group).items():
            out[str(name)] = np.where(preds == label, values.to_numpy(np.float64), np.nan)
    return out


def probability_columns(decoded: Decoded) -> pd.DataFrame:
    """Per predicted column ``X``: ``X``, ``X_sigma`` and the 68%/95% interval ends (see module docstring)."""
    columns: dict[str, np.ndarray] = {}
    sigma = decoded.sigma
    for col in decoded.values.columns:
        value = decoded.values[col].to_numpy(np.float64)
        columns[col] = value
        columns[f"{col}_sigma"] = sigma[col].to_numpy(np.float64)
        for level, (lo, hi) in INTERVAL_SUFFIXES.items():
            columns[f"{col}{lo}"] = value - decoded.minus[level][col].to_numpy(np.float64)
            columns[f"{col}{hi}"] = value + decoded.plus[level][col].to_numpy(np.float64)
    return pd.DataFrame(columns)
