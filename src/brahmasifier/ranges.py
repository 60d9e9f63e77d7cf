"""Physical ranges of the lens-parameter columns: what truth is valid, and what an estimate may be written as.

One table, :data:`PHYSICAL_RANGES` (canonical column → closed ``(low, high)``), used twice:

- **Truth** (:func:`invalid_truth`): a value that is present (not -999, not NaN) but not a
  finite number inside its column's range — a negative ``Rein``, an infinite ``vel_disp``, a
  catalogue ``z`` of −5, a magnitude of −40 — is *invalid*: it is masked like a missing value,
  and counted and listed by ``train`` (``RUN/truth_rejected.csv``: ``id, column, value, reason``),
  never dropped silently.
- **Estimates** (:func:`clip_to_ranges`, called by :mod:`brahmasifier.inference.parameters`):
  a decoded value or interval end outside its column's range is **clipped** to the range's
  nearest end, and the number of clipped values per column is reported by ``predict`` (summary
  line ``lens parameters: clipped N values ...``). A column whose target had no training truth
  (``n_fit`` 0) is not clipped but written as -999 (a missing value, never an invented one).

The ranges are wide physical bounds, not a prior: θ_E (0.01–10″; the stamp is 8.2″ wide),
redshifts 0–10, σ_v 10–1000 km/s, magnitudes 5–40 (AB), Sérsic indices 0.1–10, sizes
0.001–20″, axis ratios and shear moduli 0–1, source offsets ±10″. Position angles are not
listed: the decoder writes them in the conventions' range already.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, MISSING_VALUE

__all__ = ["PHYSICAL_RANGES", "add_physical_range", "clip_to_ranges", "invalid_truth", "physical_range"]

_MAG = (5.0, 40.0)
#: Canonical column → (low, high), inclusive (see module docstring).
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {
    "Rein": (0.01, 10.0), "zlens": (0.0, 10.0), "zsrc": (0.0, 10.0), "z_central": (0.0, 10.0),
    "vel_disp": (10.0, 1000.0),
    "ell_l": (0.0, 1.0), "ell_m": (0.0, 1.0), "ell_s": (0.0, 1.0), "sh": (0.0, 1.0),
    "Reff_l": (0.001, 20.0), "Reff_s": (0.001, 20.0), "n_l_sers": (0.1, 10.0), "n_s_sers": (0.1, 10.0),
    "srcx": (-10.0, 10.0), "srcy": (-10.0, 10.0),
    **{f"mag_{kind}_{b}": _MAG for kind in ("lens", "src", "object") for b in BANDS},
}


def add_physical_range(column: str, low: float, high: float) -> None:
    """Add a column's range (a regression target declared outside this table: ``models/target_registry.py``).

    Raises ``ValueError`` if ``low > high`` or the column already has another range.
    """
    bounds = (float(low), float(high))
    if not bounds[0] <= bounds[1] or PHYSICAL_RANGES.get(column, bounds) != bounds:
        raise ValueError(f"physical range of {column!r}: {bounds} (already {PHYSICAL_RANGES.get(column)})")
    PHYSICAL_RANGES[column] = bounds


def physical_range(column: str) -> tuple[float, float] | None:
    """The range of a canonical output column (``None``: not bounded here, e.g. a position angle)."""
    return PHYSICAL_RANGES.get(column)


def invalid_truth(values: np.ndarray, column: str) -> tuple[np.ndarray, list[str]]:
    """Which present truth values are invalid, and why (see module docstring).

    Args:
        values: the column's truth as float (NaN for text that is not a number).
        column: its canonical output column.

    Returns:
        ``(mask, reasons)``: ``mask`` is True where a value is present but invalid; ``reasons``
        one short reason per True entry, in order.
    """
    values = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(values) & (values != MISSING_VALUE)
    bounds = physical_range(column)
    bad = present & ~np.isfinite(values)
    if bounds is not None:
        low, high = bounds
        bad |= present & np.isfinite(values) & ((values < low) | (values > high))
    reasons = [("not finite" if not np.isfinite(v) else f"outside the physical range {bounds[0]:g}..{bounds[1]:g}"
                if bounds is not None else "invalid") for v in values[bad]]
    return bad, reasons


def clip_to_ranges(table: pd.DataFrame, columns: dict[str, str]) -> dict[str, int]:
    """Clip, in place, the columns of ``table`` into their output column's range; clipped count per output column.

    Args:
        table: the values (point values and interval ends).
        columns: table column → canonical output column (``Rein_lo68`` → ``Rein``).
    """
    counts: dict[str, int] = {}
    for name, column in columns.items():
        bounds = physical_range(column)
        if bounds is None or name not in table:
            continue
        values = table[name].to_numpy(np.float64)
        finite = np.isfinite(values)
        outside = finite & ((values < bounds[0]) | (values > bounds[1]))
        if outside.any():
            table[name] = np.where(finite, np.clip(values, *bounds), values)
            counts[column] = counts.get(column, 0) + int(outside.sum())
    return counts
