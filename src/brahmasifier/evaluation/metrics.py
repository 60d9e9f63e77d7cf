"""Metrics a lens search trusts: low-FPR operating points, TPR0/TPR10, purity, bootstrap intervals.

Lens searches look at the top of a ranked list of ~10^5-10^8 cutouts in which maybe one in a
thousand is a lens, so AUC alone says little: what matters is the completeness reached at a
tiny false-positive rate and the purity that implies at survey prevalence.

Conventions (also written into ``metrics.json``):

- *Ranking score*: the ``logit`` column when present (it does not saturate like a float32
  probability near 0/1, which would create artificial ties), else ``prob``. Every
  ranking metric (AUC, AP, TPR at FPR, TPR0/TPR10, purity at a completeness) is computed
  over **distinct** score values: objects with tied scores share one threshold, so a lens
  tied with a non-lens is only counted together with that non-lens (no lucky tie-breaks).
- *Decision*: an object is called a lens when ``prob >= threshold``.
- *TPR at FPR = f*: the highest TPR of any threshold whose FPR is <= f.
- *TPR0 / TPR10* (Metcalf et al. 2019, Bologna challenge): lowering the threshold from the
  top score, the highest TPR reached with no false positive / with fewer than ten (<= 9).
- *Purity at prevalence pi* for completeness c with false-positive rate F:
  ``c*pi / (c*pi + F*(1-pi))``; F for a target completeness is the lowest FPR of any
  threshold reaching it.
- *Intervals*: 68% percentile bootstrap, resampling lenses and non-lenses separately (the
  class counts are fixed by construction of a labelled set), seeded ``numpy`` Generator.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, DOMAIN_BY_CODE, MISSING_VALUE, UNKNOWN_DOMAIN
from brahmasifier.evaluation.calibration import apply_temperature

#: False-positive rates at which TPR is reported.
DEFAULT_FPRS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: Target completeness levels at which purity is reported (besides at the threshold).
DEFAULT_COMPLETENESS: tuple[float, ...] = (0.5, 0.9)
#: An FPR of f is only "supported" with at least this many negatives per 1/f.
MIN_NEGATIVES_PER_INVERSE_FPR: float = 10.0
#: Columns kept as strings when reading CSVs (IDs must never become floats).
STRING_COLUMNS: tuple[str, ...] = ("id", "stem", "domain")

_STEM_DOMAIN = re.compile(r"^D(?P<code>[12])_[LN]\d+$")


class EvaluationInputError(ValueError):
    """An input file cannot be used for evaluation; the message names it and says why."""


# --------------------------------------------------------------------------------------------
# Reading and joining inputs
# --------------------------------------------------------------------------------------------
def _read_csv_ids_as_str(path: Path) -> pd.DataFrame:
    """Read a CSV with every column as text first, so that IDs like 75339100000000001 survive."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"{path}: cannot read as CSV ({exc})") from exc
    table.columns = [c.strip() for c in table.columns]
    for column in table.columns:
        if column in STRING_COLUMNS:
            table[column] = table[column].str.strip()
            continue
        converted = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
        # keep a column as text when it is not numeric (e.g. a free-text note)
        if converted.notna().sum() >= (table[column] != "").sum():
            table[column] = converted
    return table


def load_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``probs.csv`` (``id, prob`` and optionally ``logit``, ``stem``, ``logit_<model>``).

    A file with ``logit`` but no ``prob`` gets ``prob = sigmoid(logit)``.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationInputError(f"{path}: no such predictions file")
    table = _read_csv_ids_as_str(path)
    if "id" not in table.columns:
        raise EvaluationInputError(f"{path}: no 'id' column (columns: {', '.join(table.columns)})")
    if "prob" not in table.columns:
        if "logit" not in table.columns:
            raise EvaluationInputError(f"{path}: needs a 'prob' or a 'logit' column (columns: {', '.join(table.columns)})")
        table["prob"] = apply_temperature(table["logit"].to_numpy(), 1.0)
    for column in ("prob", "logit"):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
            if bad.any():
                first = table.loc[bad, "id"].head(3).tolist()
                raise EvaluationInputError(f"{path}: {int(bad.sum())} rows have a missing or non-numeric '{column}' (e.g. ids {first})")
            table[column] = values.astype(np.float64)
    if ((table["prob"] < 0) | (table["prob"] > 1)).any():
        raise EvaluationInputError(f"{path}: 'prob' values must lie in [0, 1]")
    if (table["id"] == "").any():
        raise EvaluationInputError(f"{path}: {int((table['id'] == '').sum())} rows have an empty id")
    return table


def is_store(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a packed store folder (has a manifest)."""
    from brahmasifier.io.store import MANIFEST

    return (Path(path) / MANIFEST).is_file()


def load_labels(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Labels from a truth CSV (``id,label[,domain,Rein,...]``) or a packed store's index.

    -999 parameters become NaN. Rows with label -1 (unknown) are kept here and dropped by
    :func:`join_predictions`, which counts them.
    """
    path = Path(path)
    if path.is_dir():
        if not is_store(path):
            raise EvaluationInputError(f"{path}: a folder but not a packed store (no manifest.json); "
                                       "give a truth CSV or a store")
        from brahmasifier.io.store import open_store

        table = open_store(path).index.copy()
        table["id"] = table["id"].astype(str)
    elif path.is_file():
        table = _read_csv_ids_as_str(path)
    else:
        raise EvaluationInputError(f"{path}: no such labels file or store")
    for required in ("id", "label"):
        if required not in table.columns:
            raise EvaluationInputError(f"{path}: no '{required}' column (columns: {', '.join(map(str, table.columns))})")
    labels = pd.to_numeric(table["label"], errors="coerce")
    bad = ~labels.isin([0, 1, -1])
    if bad.any():
        raise EvaluationInputError(f"{path}: labels must be 1 (lens), 0 (non-lens) or -1 (unknown); "
                                   f"found {sorted(set(table.loc[bad, 'label'].astype(str)))[:5]}")
    table["label"] = labels.astype(int)
    for column in table.columns:
        if column not in ("id", "stem", "domain", "label") and pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].where(table[column] != MISSING_VALUE)
    return table


def _domain_from_stem(stem: object) -> str:
    match = _STEM_DOMAIN.match(str(stem)) if isinstance(stem, str) else None
    return DOMAIN_BY_CODE[match["code"]] if match else UNKNOWN_DOMAIN


@dataclass
class JoinReport:
    """How predictions and labels matched (shown in the report: silent drops hide problems)."""

    n_predictions: int
    n_labels: int
    n_matched: int
    n_unknown_label: int = 0
    unmatched_prediction_ids: list[str] = field(default_factory=list)
    n_unmatched_predictions: int = 0
    unmatched_label_ids: list[str] = field(default_factory=list)
    n_unmatched_labels: int = 0
    n_ambiguous: int = 0
    keys: str = "id"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ID lists are truncated to examples)."""
        return dict(self.__dict__)

    def describe(self) -> str:
        """One readable paragraph."""
        parts = [f"{self.n_matched} of {self.n_predictions} predictions matched a label (joined on {self.keys})"]
        if self.n_unknown_label:
            parts.append(f"{self.n_unknown_label} matched objects have an unknown label (-1) and are not scored")
        if self.n_unmatched_predictions:
            parts.append(f"{self.n_unmatched_predictions} predictions have no label, e.g. {self.unmatched_prediction_ids[:3]}")
        if self.n_unmatched_labels:
            parts.append(f"{self.n_unmatched_labels} labelled objects have no prediction, e.g. {self.unmatched_label_ids[:3]}")
        if self.n_ambiguous:
            parts.append(f"{self.n_ambiguous} predictions share a duplicated id that no stem disambiguates and are not scored")
        return "; ".join(parts) + "."


def join_predictions(predictions: pd.DataFrame, labels: pd.DataFrame, max_examples: int = 10) -> tuple[pd.DataFrame, JoinReport]:
    """Inner-join predictions and labels on ``id`` (on ``id`` + ``stem`` for duplicated IDs).

    The challenge has objects whose ID is duplicated; when both tables carry a ``stem``
    those are matched by stem too, otherwise they are dropped and counted as ambiguous.
    The result has one row per scored object with ``label`` 0/1 and a ``domain``
    (from the labels, else from a labelled stem ``D1_...``/``D2_...``, else "unknown").
    """
    labs = labels.copy()
    both_have_stem = "stem" in predictions.columns and "stem" in labs.columns
    # the labels' columns (label, domain, parameters) win over same-named prediction columns
    keep = [c for c in predictions.columns if c in ("id", "stem") or c not in labs.columns]
    preds = predictions.loc[:, keep].copy()
    preds["_row"] = np.arange(len(preds))
    label_cols = [c for c in labs.columns if c != "stem" or both_have_stem or "stem" not in preds.columns]
    labs = labs.loc[:, label_cols]
    dup_ids = set(labs.loc[labs["id"].duplicated(keep=False), "id"]) | set(preds.loc[preds["id"].duplicated(keep=False), "id"])
    simple_p = preds[~preds["id"].isin(dup_ids)]
    simple_l = labs[~labs["id"].isin(dup_ids)]
    joined = [simple_p.merge(simple_l, on="id", how="inner", suffixes=("", "_label"))]
    n_ambiguous = 0
    keys = "id"
    if dup_ids:
        dup_p = preds[preds["id"].isin(dup_ids)]
        if both_have_stem:
            keys = "id (id+stem for duplicated ids)"
            joined.append(dup_p.merge(labs[labs["id"].isin(dup_ids)], on=["id", "stem"], how="inner"))
        else:
            n_ambiguous = len(dup_p)
    table = pd.concat(joined, ignore_index=True)
    if "stem_label" in table.columns:
        table = table.drop(columns="stem_label")

    ambiguous_rows = set(preds.loc[preds["id"].isin(dup_ids), "_row"]) if n_ambiguous else set()
    unmatched_p = preds.loc[~preds["_row"].isin(set(table["_row"]) | ambiguous_rows), "id"]
    unmatched_l = labs.loc[~labs["id"].isin(set(table["id"])), "id"]
    table = table.drop(columns="_row")
    n_unknown = int((table["label"] == -1).sum())
    table = table[table["label"] != -1].reset_index(drop=True)
    if "domain" not in table.columns:
        table["domain"] = UNKNOWN_DOMAIN
    table["domain"] = table["domain"].replace("", UNKNOWN_DOMAIN).fillna(UNKNOWN_DOMAIN).astype(str)
    if "stem" in table.columns:
        unknown = table["domain"] == UNKNOWN_DOMAIN
        table.loc[unknown, "domain"] = table.loc[unknown, "stem"].map(_domain_from_stem)
    report = JoinReport(
        n_predictions=len(preds), n_labels=len(labs), n_matched=len(table) + n_unknown, n_unknown_label=n_unknown,
        unmatched_prediction_ids=unmatched_p.head(max_examples).tolist(), n_unmatched_predictions=len(unmatched_p),
        unmatched_label_ids=unmatched_l.head(max_examples).tolist(), n_unmatched_labels=len(unmatched_l),
        n_ambiguous=n_ambiguous, keys=keys,
    )
    return table, report


# --------------------------------------------------------------------------------------------
# Core: weighted ranking counts, so that a bootstrap resample never re-sorts
# --------------------------------------------------------------------------------------------
class RankedScores:
    """Scores sorted once (descending) with tie groups; counts for any per-object weights.

    A bootstrap resample is a vector of multiplicities, so each resample costs one cumulative
    sum instead of a sort.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, probs: np.ndarray | None = None) -> None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        labels = np.asarray(labels).reshape(-1)
        if scores.size != labels.size:
            raise ValueError(f"{scores.size} scores but {labels.size} labels")
        self.order = np.argsort(-scores, kind="stable")
        s = scores[self.order]
        #: last sorted position of each group of equal scores (thresholds are between groups)
        self.group_ends = np.r_[np.nonzero(s[1:] != s[:-1])[0], s.size - 1] if s.size else np.zeros(0, dtype=np.int64)
        self.group_scores = s[self.group_ends] if s.size else np.zeros(0)
        self.is_pos = labels.astype(int) == 1
        self._pos_sorted = self.is_pos[self.order]
        self.probs = None if probs is None else np.asarray(probs, dtype=np.float64).reshape(-1)
        self.n = scores.size

    def counts(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative (true positives, false positives) at each distinct threshold, descending."""
        if self.n == 0:
            return np.zeros(0), np.zeros(0)
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=np.float64)[self.order]
        tp = np.cumsum(w * self._pos_sorted)[self.group_ends]
        fp = np.cumsum(w * ~self._pos_sorted)[self.group_ends]
        return tp, fp


def _auc(tp: np.ndarray, fp: np.ndarray) -> float:
    p, n = tp[-1], fp[-1]
    tpr = np.r_[0.0, tp / p]
    fpr = np.r_[0.0, fp / n]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) * 0.5))


def _average_precision(tp: np.ndarray, fp: np.ndarray) -> float:
    """Step-wise AP as in scikit-learn: sum over thresholds of (R_k - R_{k-1}) * P_k."""
    recall = np.r_[0.0, tp / tp[-1]]
    called = tp + fp
    precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
    return float(np.sum(np.diff(recall) * precision))


def _tpr_where(tp: np.ndarray, fp: np.ndarray, max_fp: float) -> float:
    """Highest TPR over thresholds with at most ``max_fp`` (weighted) false positives."""
    allowed = fp <= max_fp * (1 + 1e-12) + 1e-9
    return float(tp[allowed].max() / tp[-1]) if allowed.any() else 0.0


def _fpr_for_tpr(tp: np.ndarray, fp: np.ndarray, completeness: float) -> float:
    """Lowest FPR over thresholds reaching TPR >= ``completeness``."""
    reached = tp >= completeness * tp[-1] * (1 - 1e-12)
    return float(fp[np.argmax(reached)] / fp[-1])


def purity_at_prevalence(completeness: float, fpr: float, prevalence: float) -> float:
    """Expected purity (precision) of a search with this completeness and FPR at ``prevalence``."""
    found = completeness * prevalence
    false = fpr * (1.0 - prevalence)
    return float(found / (found + false)) if found + false > 0 else float("nan")


@dataclass(frozen=True)
class MetricSettings:
    """Everything that defines the metrics (recorded in metrics.json)."""

    threshold: float = 0.5
    prevalence: float = 1e-3
    fprs: tuple[float, ...] = DEFAULT_FPRS
    completeness_levels: tuple[float, ...] = DEFAULT_COMPLETENESS

    def metric_names(self) -> list[str]:
        """Scalar metrics in display order."""
        names = ["accuracy", "precision", "recall", "f1", "fpr", "auc_roc", "average_precision"]
        names += [tpr_at_fpr_name(f) for f in self.fprs]
        names += ["tpr0", "tpr10", "purity_at_threshold"]
        names += [purity_at_tpr_name(c) for c in self.completeness_levels]
        return names


def tpr_at_fpr_name(fpr: float) -> str:
    """Metric key of TPR at a false-positive rate, e.g. ``tpr_at_fpr_1e-03``."""
    return f"tpr_at_fpr_{fpr:.0e}"


def purity_at_tpr_name(completeness: float) -> str:
    """Metric key of purity at a completeness, e.g. ``purity_at_tpr_0.9``."""
    return f"purity_at_tpr_{completeness:g}"


def _scalar_metrics(ranked: RankedScores, settings: MetricSettings, weights: np.ndarray | None = None) -> dict[str, float]:
    """All scalar metrics for one (re)sample; NaN where undefined."""
    nan = float("nan")
    out = dict.fromkeys(settings.metric_names(), nan)
    w = np.ones(ranked.n) if weights is None else weights
    called = ranked.probs >= settings.threshold
    pos = ranked.is_pos
    tp_t = float(np.sum(w[called & pos]))
    fp_t = float(np.sum(w[called & ~pos]))
    n_pos = float(np.sum(w[pos]))
    n_neg = float(np.sum(w[~pos]))
    fn_t, tn_t = n_pos - tp_t, n_neg - fp_t
    total = n_pos + n_neg
    if total > 0:
        out["accuracy"] = (tp_t + tn_t) / total
    if tp_t + fp_t > 0:
        out["precision"] = tp_t / (tp_t + fp_t)
    if n_pos > 0:
        out["recall"] = tp_t / n_pos
    if 2 * tp_t + fp_t + fn_t > 0:
        out["f1"] = 2 * tp_t / (2 * tp_t + fp_t + fn_t)
    if n_neg > 0:
        out["fpr"] = fp_t / n_neg
    if n_pos > 0 and n_neg > 0:
        tp, fp = ranked.counts(weights)
        out["auc_roc"] = _auc(tp, fp)
        out["average_precision"] = _average_precision(tp, fp)
        for f in settings.fprs:
            out[tpr_at_fpr_name(f)] = _tpr_where(tp, fp, f * n_neg)
        out["tpr0"] = _tpr_where(tp, fp, 0)
        out["tpr10"] = _tpr_where(tp, fp, 9)
        out["purity_at_threshold"] = purity_at_prevalence(out["recall"], out["fpr"], settings.prevalence)
        for c in settings.completeness_levels:
            out[purity_at_tpr_name(c)] = purity_at_prevalence(c, _fpr_for_tpr(tp, fp, c), settings.prevalence)
    return out


def _undefined_reason(name: str, n_pos: int, n_neg: int, n_called: int, threshold: float) -> str:
    if n_pos + n_neg == 0:
        return "no labelled objects"
    needs_both = name not in ("accuracy", "precision", "recall", "f1", "fpr")
    if needs_both and (n_pos == 0 or n_neg == 0):
        only = "non-lenses" if n_pos == 0 else "lenses"
        return f"needs both lenses and non-lenses; this set has only {only} ({n_pos + n_neg} objects)"
    if name == "recall":
        return "no lenses in this set"
    if name == "fpr":
        return "no non-lenses in this set"
    if name == "precision":
        return f"no object has prob >= threshold {threshold:g}"
    return "undefined for this set"


def _bootstrap_weights(is_pos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicities of one class-stratified bootstrap resample."""
    weights = np.zeros(is_pos.size)
    for members in (np.nonzero(is_pos)[0], np.nonzero(~is_pos)[0]):
        if members.size:
            draws = rng.integers(0, members.size, members.size)
            weights[members] = np.bincount(draws, minlength=members.size)
    return weights


def metrics_for_subset(
    scores: np.ndarray,
    probs: np.ndarray,
    labels: np.ndarray,
    settings: MetricSettings,
    n_bootstrap: int = 200,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Point values, 68% bootstrap intervals and notes for one set of scored objects."""
    labels = np.asarray(labels).astype(int)
    ranked = RankedScores(scores, labels, probs)
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    point = _scalar_metrics(ranked, settings)
    intervals: dict[str, list[float] | None] = dict.fromkeys(point)
    if n_bootstrap > 0 and ranked.n > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        samples = np.array([list(_scalar_metrics(ranked, settings, _bootstrap_weights(ranked.is_pos, rng)).values())
                            for _ in range(n_bootstrap)])
        for k, name in enumerate(point):
            finite = samples[:, k][np.isfinite(samples[:, k])]
            if np.isfinite(point[name]) and finite.size:
                lo, hi = np.percentile(finite, [15.865, 84.135])
                intervals[name] = [float(lo), float(hi)]
    n_called = int(np.sum(ranked.probs >= settings.threshold)) if ranked.n else 0
    metrics: dict[str, dict[str, Any]] = {}
    for name, value in point.items():
        entry: dict[str, Any] = {"value": float(value) if np.isfinite(value) else None, "ci68": intervals[name]}
        if entry["value"] is None:
            entry["reason"] = _undefined_reason(name, n_pos, n_neg, n_called, settings.threshold)
        metrics[name] = entry
    for f in settings.fprs:
        entry = metrics[tpr_at_fpr_name(f)]
        needed = math.ceil(MIN_NEGATIVES_PER_INVERSE_FPR / f)
        entry.update(fpr=f, n_negatives=n_neg, max_false_positives=int(math.floor(f * n_neg * (1 + 1e-12))),
                     supported=n_neg >= needed)
        if n_neg < needed and entry["value"] is not None:
            entry["note"] = (f"only {n_neg} non-lenses: FPR={f:g} allows {entry['max_false_positives']} false "
                             f"positive(s); ~{needed} non-lenses are needed to measure it")
    for name in ["purity_at_threshold"] + [purity_at_tpr_name(c) for c in settings.completeness_levels]:
        metrics[name]["prevalence"] = settings.prevalence
    fp_at_threshold = int(np.sum((ranked.probs >= settings.threshold) & ~ranked.is_pos)) if ranked.n else 0
    if metrics["purity_at_threshold"]["value"] is not None and fp_at_threshold == 0 and n_neg > 0:
        recall = metrics["recall"]["value"]
        bound = purity_at_prevalence(recall, 1.0 / n_neg, settings.prevalence) if recall else float("nan")
        metrics["purity_at_threshold"]["note"] = (
            f"no false positive among {n_neg} non-lenses, so purity 1 is an extrapolation; with FPR just under "
            f"1/{n_neg} it would be {bound:.3g}")
        metrics["purity_at_threshold"]["lower_bound_fpr_1_over_n"] = bound if np.isfinite(bound) else None
    return {"n": int(labels.size), "n_lenses": n_pos, "n_nonlenses": n_neg, "n_called_lens": n_called, "metrics": metrics}


# --------------------------------------------------------------------------------------------
# Completeness against lens parameters
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# The whole metrics block
# --------------------------------------------------------------------------------------------
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
    from tqdm.auto import tqdm

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
    for name, mask in tqdm(subsets, desc="metrics (bootstrap)", disable=not progress, leave=False):
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


# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------
METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy", "precision": "precision", "recall": "recall (completeness)", "f1": "F1",
    "fpr": "FPR", "auc_roc": "AUC-ROC", "average_precision": "average precision", "tpr0": "TPR0",
    "tpr10": "TPR10", "purity_at_threshold": "purity at threshold",
}


def metric_label(name: str) -> str:
    """Human-readable name of a metric key."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    if name.startswith("tpr_at_fpr_"):
        return f"TPR at FPR={float(name.removeprefix('tpr_at_fpr_')):g}"
    if name.startswith("purity_at_tpr_"):
        return f"purity at TPR={name.removeprefix('purity_at_tpr_')}"
    return name


def format_value(entry: dict[str, Any], digits: int = 4) -> str:
    """``0.9731 [0.9612, 0.9803]``, ``n/a`` for undefined, ``*`` for unsupported low FPRs."""
    value = entry.get("value")
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    if entry.get("ci68"):
        lo, hi = entry["ci68"]
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if entry.get("supported") is False:
        text += " *"
    return text


def table_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (metric × subset) for the text and HTML tables."""
    subsets = {"overall": metrics["overall"], **metrics["by_domain"]}
    header = ["metric"] + [f"{name} (n={s['n']}: {s['n_lenses']} L / {s['n_nonlenses']} N)" for name, s in subsets.items()]
    names = list(metrics["overall"]["metrics"])
    rows = [[metric_label(n)] + [format_value(s["metrics"][n]) for s in subsets.values()] for n in names]
    return header, rows


def format_table(metrics: dict[str, Any]) -> str:
    """Readable fixed-width table for the terminal."""
    header, rows = table_rows(metrics)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    s = metrics["settings"]
    lines.append(f"values [68% bootstrap interval, {s['n_bootstrap']} resamples]; decision {s['decision']}; "
                 f"purity at prevalence {s['prevalence']:g}; * = too few non-lenses to measure this FPR")
    return "\n".join(lines)


def undefined_notes(metrics: dict[str, Any]) -> list[str]:
    """Unique explanations of undefined or weakly supported numbers, for the report."""
    notes: list[str] = []
    for subset, block in {"overall": metrics["overall"], **metrics["by_domain"]}.items():
        for name, entry in block["metrics"].items():
            for key in ("reason", "note"):
                if key in entry:
                    text = f"{subset}: {metric_label(name)}: {entry[key]}"
                    if text not in notes:
                        notes.append(text)
    return notes


def as_sequence(values: float | Sequence[float]) -> tuple[float, ...]:
    """A float or a sequence of floats as a tuple (CLI convenience)."""
    return (float(values),) if isinstance(values, (int, float)) else tuple(float(v) for v in values)
