"""The metrics block of an evaluation: overall, per domain, and completeness vs lens parameters.

Lens searches look at the top of a ranked list of ~10^5-10^8 cutouts in which maybe one in a
thousand is a lens, so AUC alone says little: what matters is the completeness reached at a
tiny false-positive rate and the purity that implies at survey prevalence.

The metric definitions and their conventions (ranking over distinct logits, ``prob >=
threshold``, NaN where undefined) are :mod:`brahmasifier.binary_metrics`, shared with
training. Also written into ``metrics.json``:

- *Ranking score*: the ``logit`` column when present, else ``prob``.
- *TPR0 / TPR10* (Metcalf et al. 2019, Bologna challenge): lowering the threshold from the
  top score, the highest TPR reached with no false positive / with fewer than ten (<= 9).
- *Purity at prevalence pi* for completeness c with false-positive rate F:
  ``c*pi / (c*pi + F*(1-pi))``; F for a target completeness is the lowest FPR of any
  threshold reaching it.
- *Intervals*: 68% percentile bootstrap, resampling lenses and non-lenses separately (the
  class counts are fixed by construction of a labelled set), seeded ``numpy`` Generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brahmasifier._progress import progress_bar
from brahmasifier.bands import UNKNOWN_DOMAIN
from brahmasifier.evaluation.bootstrap import MetricSettings, metrics_for_subset
from brahmasifier.evaluation.completeness import completeness_by, source_magnitude_column

__all__ = ["compute_metrics", "ranking_scores"]


def ranking_scores(table: pd.DataFrame) -> tuple[np.ndarray, str]:
    """The column used for ranking (see module docstring) and its name."""
    if "logit" in table.columns:
        return table["logit"].to_numpy(dtype=np.float64), "logit"
    return table["prob"].to_numpy(dtype=np.float64), "prob"


def compute_metrics(
    table: pd.DataFrame,
    settings: MetricSettings,
    n_bootstrap: int = 200,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Metrics overall and per domain, plus completeness vs Einstein radius and source magnitude.

    ``table`` is the output of :func:`join_predictions` (``label`` 0/1, ``prob``, ``domain``,
    optional ``logit`` and parameters).
    """
    scores, score_name = ranking_scores(table)
    labels = table["label"].to_numpy(dtype=int)
    probs = table["prob"].to_numpy(dtype=np.float64)
    domains = [d for d in ("slsim", "hsc", UNKNOWN_DOMAIN) if (table["domain"] == d).any()]
    domains += sorted(set(table["domain"]) - set(domains))
    subsets: list[tuple[str, np.ndarray]] = [("overall", np.ones(len(table), dtype=bool))]
    if len(domains) > 1 or (domains and domains[0] != UNKNOWN_DOMAIN):
        subsets += [(d, (table["domain"] == d).to_numpy()) for d in domains]
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}
    for name, mask in progress_bar(subsets, desc="metrics (bootstrap)", enabled=progress, leave=False):
        results[name] = metrics_for_subset(scores[mask], probs[mask], labels[mask], settings, n_bootstrap, rng)
    completeness: dict[str, Any] = {}
    if "Rein" in table.columns:
        rein = completeness_by(table, table["Rein"].rename("Rein"), settings.threshold)
        if rein is not None:
            completeness["Rein"] = rein
    mag = source_magnitude_column(table)
    if mag is not None:
        by_mag = completeness_by(table, mag, settings.threshold)
        if by_mag is not None:
            completeness["source_magnitude"] = by_mag
    return {
        "settings": {"threshold": settings.threshold, "prevalence": settings.prevalence, "fprs": list(settings.fprs),
                     "completeness_levels": list(settings.completeness_levels), "n_bootstrap": n_bootstrap, "seed": seed,
                     "ranking_score": score_name, "decision": f"prob >= {settings.threshold:g}",
                     "interval": "68% percentile bootstrap, stratified by class",
                     "tpr0_tpr10": "highest TPR with 0 / at most 9 false positives; tied scores share a threshold"},
        "overall": results["overall"],
        "by_domain": {k: v for k, v in results.items() if k != "overall"},
        "completeness": completeness,
    }

