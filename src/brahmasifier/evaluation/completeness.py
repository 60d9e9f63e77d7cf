"""Completeness against lens parameters: TPR at the threshold in equal-count bins, Jeffreys intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS

__all__ = ["completeness_by", "jeffreys_interval", "source_magnitude_column"]


def jeffreys_interval(successes: int, trials: int, level: float = 0.6827) -> tuple[float, float]:
    """Jeffreys binomial interval (equal-tailed Beta(k+1/2, n-k+1/2)), good for small counts."""
    from scipy.stats import beta

    if trials == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    lo = 0.0 if successes == 0 else float(beta.ppf(tail, successes + 0.5, trials - successes + 0.5))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - tail, successes + 0.5, trials - successes + 0.5))
    return lo, hi


def source_magnitude_column(table: pd.DataFrame) -> pd.Series | None:
    """The lensed source's i-band magnitude, else its brightest available band (per object)."""
    if "mag_src_i" in table.columns and pd.to_numeric(table["mag_src_i"], errors="coerce").notna().any():
        return pd.to_numeric(table["mag_src_i"], errors="coerce").rename("mag_src_i")
    columns = [f"mag_src_{b}" for b in BANDS if f"mag_src_{b}" in table.columns]
    if not columns:
        return None
    mags = table[columns].apply(pd.to_numeric, errors="coerce")
    if not mags.notna().any().any():
        return None
    return mags.min(axis=1, skipna=True).rename("mag_src_brightest")


def completeness_by(
    table: pd.DataFrame,
    parameter: pd.Series,
    threshold: float,
    n_bins: int = 6,
) -> dict[str, Any] | None:
    """Completeness (TPR at the threshold) of lenses binned by ``parameter`` (equal-count bins).

    ``None`` when no lens has a known value. Intervals are 68% Jeffreys intervals.
    """
    lenses = (table["label"] == 1).to_numpy()
    values = pd.to_numeric(parameter, errors="coerce").to_numpy(dtype=np.float64)
    known = lenses & np.isfinite(values)
    if not known.any():
        return None
    v = values[known]
    found = (table["prob"].to_numpy() >= threshold)[known]
    edges = np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1)))
    if edges.size == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    which = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, edges.size - 2)
    bins = []
    for k in range(edges.size - 1):
        sel = which == k
        n, hits = int(sel.sum()), int(found[sel].sum())
        lo, hi = jeffreys_interval(hits, n)
        bins.append({"lo": float(edges[k]), "hi": float(edges[k + 1]), "center": float(np.median(v[sel])) if n else None,
                     "n_lenses": n, "n_found": hits, "completeness": hits / n if n else None,
                     "ci68": [lo, hi] if n else None})
    return {"parameter": str(parameter.name), "threshold": threshold, "n_lenses_with_value": int(known.sum()),
            "n_lenses_without_value": int(lenses.sum() - known.sum()), "bins": bins}

