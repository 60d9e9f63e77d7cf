"""New data against the training data's statistics: a distance per statistic, and the verdict line.

For each per-object statistic (:data:`brahmasifier.shift.stats.STAT_COLUMNS`) :func:`compare` gives

- the **KS distance** between the new data's values and the training distribution, from the
  training quantiles alone: ``sup |F_new − F_train|`` at the 51 stored quantiles (both sides of each);
- an **effect size** in the statistic's own terms: the ratio of medians for noise σ, PSF size,
  central flux and size (``×2.0``), the difference of medians for the noise correlation
  (``+0.31``), the mean masked fraction for masked pixels (``21% vs 0%``).

A statistic is *flagged* when its KS distance exceeds :data:`KS_LIMIT` **and** its effect
exceeds the family's limit in :data:`FAMILIES` (masked pixels: the mean fraction rises by more
than 1 percentage point). Both are needed: with 10^5 objects KS alone flags differences too
small to matter, with 50 objects an effect alone is noise. The pixel histogram is compared by
total-variation distance (:data:`HISTOGRAM_LIMIT`), the embedding by the fraction of objects
beyond the training 99th-percentile distance (:data:`EMBEDDING_TAIL_LIMIT`, 1% expected).

The limits are set from measurements (``experiments/data_shift.py``, docs/data-shift.md): two
independent clean draws of our engine stay below every limit (largest KS 0.054; σ, correlation
and PSF size within 1%; flux ×1.12 at KS 0.03; TV 0.005; embedding tail 0.5%), while the shifted sets exceed the
limit of the statistic they change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from brahmasifier.bands import BANDS

__all__ = ["EMBEDDING_TAIL_LIMIT", "FAMILIES", "HISTOGRAM_LIMIT", "KS_LIMIT", "Finding", "compare", "verdict_line"]

#: KS distance a statistic must exceed to be flagged.
KS_LIMIT: float = 0.15
#: Total-variation distance between normalised-pixel histograms that is flagged.
HISTOGRAM_LIMIT: float = 0.05
#: Fraction of objects beyond the training 99th-percentile embedding distance that is flagged.
EMBEDDING_TAIL_LIMIT: float = 0.05
#: family → (label, effect kind, limit): ratio limits are symmetric in log (1.15: below 1/1.15 or above 1.15).
FAMILIES: dict[str, tuple[str, str, float]] = {
    "sigma": ("noise σ", "ratio", 1.15),
    "corr": ("noise correlation", "difference", 0.05),
    "fwhm": ("PSF size", "ratio", 1.02),
    "flux": ("central flux", "ratio", 1.5),
    "size": ("central size", "ratio", 1.2),
    "misalign": ("band misalignment", "ratio", 1.5),
    "masked": ("masked pixels", "masked", 0.01),
}


@dataclass
class Finding:
    """One statistic compared (see module docstring)."""

    statistic: str
    label: str
    train: float | None
    new: float | None
    effect: float | None
    effect_kind: str
    distance: float | None
    distance_kind: str
    flagged: bool

    def describe(self) -> str:
        """The statistic's effect in words, e.g. ``noise σ (r) ×2.00``, ``masked pixels 21% vs 0%``."""
        if self.effect_kind == "distance" and self.distance is not None:
            return f"{self.label} {self.distance_kind} {self.distance:.2f}"
        if self.effect is None or self.new is None or self.train is None:
            return f"{self.label}: n/a"
        if self.effect_kind == "ratio":
            return f"{self.label} ×{self.effect:.2f}"
        if self.effect_kind == "difference":
            return f"{self.label} {self.effect:+.2f} ({self.new:.2f} vs {self.train:.2f})"
        if self.effect_kind == "masked":
            return f"{self.label} {100 * self.new:.1f}% vs {100 * self.train:.1f}%"
        return f"{self.label} {self.distance_kind} {self.distance:.2f}"


def _family(column: str) -> str:
    return column.split("_")[0]


def _ks(values: np.ndarray, levels: np.ndarray, quantiles: np.ndarray) -> float:
    """``sup_x |F_new(x) − F_train(x)|`` at the training quantiles, both sides of each (ties: a jump of ``F_train``)."""
    v = np.sort(values)
    u = np.unique(quantiles)
    at_or_below = np.array([levels[quantiles <= x].max() for x in u])
    below = np.array([levels[quantiles < x].max() if (quantiles < x).any() else 0.0 for x in u])
    new_right = np.searchsorted(v, u, side="right") / v.size
    new_left = np.searchsorted(v, u, side="left") / v.size
    gaps = np.maximum(np.abs(new_right - at_or_below), np.abs(new_left - below))
    return float(np.clip(gaps.max(), 0.0, 1.0)) if gaps.size else float("nan")


def _column(column: str, values: np.ndarray, train: dict[str, Any], levels: np.ndarray) -> Finding:
    family = _family(column)
    label, kind, limit = FAMILIES[family]
    if family in ("sigma", "corr", "fwhm", "flux"):
        label = f"{label} ({column.split('_', 1)[1]})"
    v = values[np.isfinite(values)]
    quantiles = train.get("quantiles")
    if v.size == 0 or quantiles is None:
        return Finding(column, label, None, None, None, kind, None, "KS", False)
    q = np.asarray(quantiles, dtype=np.float64)
    if kind == "masked":
        t_mean, n_mean = float(train["mean"]), float(v.mean())
        return Finding(column, label, t_mean, n_mean, n_mean - t_mean, kind, _ks(v, levels, q), "KS",
                       bool(n_mean - t_mean > limit))
    t_med, n_med = float(np.interp(0.5, levels, q)), float(np.median(v))
    ks = _ks(v, levels, q)
    if kind == "ratio":
        effect = n_med / t_med if t_med > 0 and n_med > 0 else float("nan")
        big = not np.isfinite(effect) or abs(np.log(effect)) > np.log(limit)
    else:
        effect = n_med - t_med
        big = abs(effect) > limit
    return Finding(column, label, t_med, n_med, effect if np.isfinite(effect) else None, kind, ks, "KS",
                   bool(ks > KS_LIMIT and big))


def compare(train: dict[str, Any], new: dict[str, Any], new_values: dict[str, np.ndarray],
            embedding_tail: float | None = None) -> list[Finding]:
    """Every statistic of ``new`` (summary + its sampled per-object values) against ``train`` (a summary).

    Args:
        train: the training data's pixel summary (``card.data_statistics["pixels"]`` or another data set's).
        new: the new data's summary (:func:`brahmasifier.shift.stats.summarise`).
        new_values: the new data's sampled per-object statistics (``StatsCollector.sample.rows``).
        embedding_tail: fraction of new objects beyond the training 99th-percentile embedding distance (None: no model).
    """
    levels = np.asarray(train["quantile_levels"], dtype=np.float64)
    findings = [_column(c, np.asarray(new_values[c], dtype=np.float64), train["columns"].get(c, {}), levels)
                for c in train["columns"] if c in new_values]
    p = np.asarray(train["pixel_histogram"]["fractions"], dtype=np.float64)
    q = np.asarray(new["pixel_histogram"]["fractions"], dtype=np.float64)
    tv = 0.5 * float(np.abs(p - q).sum()) if p.shape == q.shape else float("nan")
    findings.append(Finding("pixel_histogram", "normalised-pixel histogram", None, None, None, "distance", tv, "TV",
                            bool(tv > HISTOGRAM_LIMIT)))
    if embedding_tail is not None:
        findings.append(Finding("embedding", "embedding", 0.01, embedding_tail, embedding_tail, "tail", embedding_tail,
                                "beyond p99", bool(embedding_tail > EMBEDDING_TAIL_LIMIT)))
    return findings


#: The per-object statistics of the survey rather than of the object (noise, masks, band alignment): the pixel score's.
SURVEY_COLUMNS: tuple[str, ...] = (*(f"sigma_{b}" for b in BANDS), *(f"corr_{b}" for b in BANDS), "misalign", "masked")


def _surprise(x: np.ndarray, q: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``−log10`` of the two-sided training tail ``2 min(F, 1 − F)`` (floored at 2%); beyond the range ``2 + d / IQR``.

    ``F`` is the mid-CDF ``(F(x−) + F(x))/2`` interpolated between the quantiles, so a value the
    training data holds for many objects (a masked fraction of 0) is not a tail.
    """
    iqr = max(float(np.interp(0.75, levels, q) - np.interp(0.25, levels, q)), 1e-3 * max(abs(float(q[-1])), 1e-9))
    u = 0.5 * (np.interp(x, q, levels) + 1.0 - np.interp(-x, -q[::-1], 1.0 - levels[::-1]))
    inside = -np.log10(np.clip(2 * np.minimum(u, 1 - u), 0.02, 1.0))
    beyond = np.where(x < q[0], q[0] - x, np.where(x > q[-1], x - q[-1], 0.0)) / iqr
    return np.where(np.isfinite(x), np.where(beyond > 0, 2.0 + beyond, inside), 0.0)


def pixel_score(values: dict[str, np.ndarray], train: dict[str, Any]) -> np.ndarray:
    """Per object: how unusual its survey statistics (:data:`SURVEY_COLUMNS`) are for the training data.

    The largest, over noise σ, noise correlation, band misalignment and masked fraction, of the
    statistic's surprise (:func:`_surprise`: ≤ 1.7 inside the training range, > 2 beyond it); for
    the per-band ones the median over the bands (a survey's noise changes in every band; one
    unusual band of a clean object is common). Measured (docs/data-shift.md): the median over bands
    separates misregistered objects from clean ones with AUC 0.92, the largest over all 12
    columns 0.83.
    """
    levels = np.asarray(train["quantile_levels"], dtype=np.float64)
    n = len(next(iter(values.values())))
    parts: list[np.ndarray] = [np.zeros(n)]
    for family in ("sigma", "corr", "misalign", "masked"):
        columns = [c for c in SURVEY_COLUMNS if c.split("_")[0] == family]
        scores = [_surprise(np.asarray(values[c], dtype=np.float64), np.asarray(train["columns"][c]["quantiles"], float),
                            levels)
                  for c in columns if c in values and train["columns"].get(c, {}).get("quantiles") is not None]
        if scores:
            parts.append(np.median(np.stack(scores), axis=0))
    return np.max(np.stack(parts), axis=0)


def _family_text(group: list[Finding]) -> str:
    worst = max(group, key=lambda f: abs(np.log(f.effect)) if f.effect_kind == "ratio" and f.effect and f.effect > 0
                else abs(f.effect or 0.0))
    text = worst.describe()
    bands = [f.statistic.split("_", 1)[1] for f in group if "_" in f.statistic and f.statistic.split("_", 1)[1] in BANDS]
    if len(bands) > 1:
        text = text.replace(f"({worst.statistic.split('_', 1)[1]})", f"({','.join(bands)})", 1)
    return text


def verdict_line(findings: list[Finding]) -> str:
    """``looks like the training data`` or ``differs in: noise σ (g,r,i,z,y) ×2.00, masked pixels 21.0% vs 0.0%, …``."""
    flagged = [f for f in findings if f.flagged]
    if not flagged:
        return "looks like the training data"
    parts: list[str] = []
    for family in [*FAMILIES, "pixel", "embedding"]:
        group = [f for f in flagged if f.statistic.split("_")[0] == family]
        if not group:
            continue
        if family == "pixel":
            parts.append(f"normalised-pixel histogram (TV {group[0].distance:.2f})")
        elif family == "embedding":
            parts.append(f"embedding ({100 * (group[0].new or 0):.0f}% of objects beyond the training 99th percentile)")
        else:
            parts.append(_family_text(group))
    return "differs in: " + ", ".join(parts)


def findings_json(findings: list[Finding]) -> list[dict[str, Any]]:
    """The findings as JSON-ready dicts (with their text)."""
    return [{**asdict(f), "text": f.describe()} for f in findings]


__all__ += ["SURVEY_COLUMNS", "findings_json", "pixel_score"]
