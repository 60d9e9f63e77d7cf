"""Binary lens/non-lens metrics, defined once for training, export and evaluation.

Training logs these on the validation split every epoch, the end of a run writes them into
``metrics.json`` and the model card, and ``brahmasifier evaluate`` reports them (with
bootstrap intervals) on any labelled set: the same definitions, so the numbers agree.

Conventions:

- *Ranking* metrics use the **logit**, not a float32 probability: ``sigmoid`` saturates to
  exactly 0 or 1 beyond ``|logit|`` ≈ 17, creating artificial ties. They are computed over
  **distinct** score values: objects with tied scores share one threshold, so a lens tied
  with a non-lens is only counted together with that non-lens (no lucky tie-breaks).
- *Decision*: an object is called a lens when ``prob >= threshold``.
- *Undefined is NaN*: precision with nothing called a lens, recall without lenses, AUC with
  one class... are NaN (``null`` in JSON, "n/a" on screen), never 0.0. A 0.0 would be
  indistinguishable from a real failure (everything called a lens was wrong) and would drag
  averages; NaN makes the reader ask why, and the evaluation report says why.
- *TPR at FPR = f*: the highest TPR of any threshold whose FPR is <= f. *TPR0 / TPR10*
  (Metcalf et al. 2019): the highest TPR with no false positive / with at most nine.
- Every function takes optional per-object ``weights`` (bootstrap multiplicities), so a
  resample costs one cumulative sum over scores sorted once.
"""

from __future__ import annotations

import numpy as np

from brahmasifier.models.temperature import apply_temperature

__all__ = [
    "THRESHOLD_METRICS", "RankedScores", "auc", "average_precision", "fpr_for_tpr", "purity_at_prevalence", "roc_curve",
    "threshold_metrics", "tpr_at_false_positives", "validation_metrics", "youden_threshold",
]

#: Metrics of a decision at a threshold, in display order.
THRESHOLD_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "fpr")


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


def auc(tp: np.ndarray, fp: np.ndarray) -> float:
    """Area under the ROC curve from cumulative counts (trapezoids between distinct thresholds)."""
    p, n = tp[-1], fp[-1]
    tpr = np.r_[0.0, tp / p]
    fpr = np.r_[0.0, fp / n]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) * 0.5))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC: FPR, TPR and the score threshold of each point, one point per distinct score (ties share one).

    The points are those of scikit-learn's ``roc_curve(labels, scores, drop_intermediate=False)``:
    first ``(0, 0)`` at threshold ``+inf``, then, for each distinct score in descending order,
    the rates of calling a lens every object scored at least that. Label 1 is a lens, any
    other a non-lens. Needs both classes (else the rates divide by zero: NaN).
    """
    ranked = RankedScores(scores, labels)
    tp, fp = ranked.counts()
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.r_[0.0, tp / (tp[-1] if tp.size else 0.0)]
        fpr = np.r_[0.0, fp / (fp[-1] if fp.size else 0.0)]
    return fpr, tpr, np.r_[np.inf, ranked.group_scores]


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold maximising Youden's J = TPR − FPR (= balanced accuracy), the highest where several do.

    A threshold is one of the distinct scores (an object is called a lens when its score is at
    least the threshold). Needs both classes.

    Raises:
        ValueError: a score is NaN or infinite.
    """
    if not np.isfinite(np.asarray(scores, dtype=np.float64)).all():
        raise ValueError("scores hold NaN or Inf: no threshold can be chosen")
    fpr, tpr, thresholds = roc_curve(scores, labels)
    youden = (tpr - fpr)[1:]  # the (0, 0) point at +inf calls nothing a lens: not a threshold
    return float(thresholds[1:][int(np.argmax(youden))])


def average_precision(tp: np.ndarray, fp: np.ndarray) -> float:
    """Step-wise AP as in scikit-learn: sum over thresholds of (R_k - R_{k-1}) * P_k."""
    recall = np.r_[0.0, tp / tp[-1]]
    called = tp + fp
    precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
    return float(np.sum(np.diff(recall) * precision))


def tpr_at_false_positives(tp: np.ndarray, fp: np.ndarray, max_fp: float) -> float:
    """Highest TPR over thresholds with at most ``max_fp`` (weighted) false positives."""
    allowed = fp <= max_fp * (1 + 1e-12) + 1e-9
    return float(tp[allowed].max() / tp[-1]) if allowed.any() else 0.0


def fpr_for_tpr(tp: np.ndarray, fp: np.ndarray, completeness: float) -> float:
    """Lowest FPR over thresholds reaching TPR >= ``completeness``."""
    reached = tp >= completeness * tp[-1] * (1 - 1e-12)
    return float(fp[np.argmax(reached)] / fp[-1])


def purity_at_prevalence(completeness: float, fpr: float, prevalence: float) -> float:
    """Expected purity (precision) of a search with this completeness and FPR at ``prevalence``."""
    found = completeness * prevalence
    false = fpr * (1.0 - prevalence)
    return float(found / (found + false)) if found + false > 0 else float("nan")


def threshold_metrics(called: np.ndarray, is_pos: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and FPR of the decision ``called`` (NaN where undefined).

    Args:
        called: bool per object, True where the object is called a lens.
        is_pos: bool per object, True for lenses.
        weights: optional multiplicity per object (a bootstrap resample).
    """
    w = np.ones(called.size) if weights is None else np.asarray(weights, dtype=np.float64)
    tp = float(np.sum(w[called & is_pos]))
    fp = float(np.sum(w[called & ~is_pos]))
    n_pos = float(np.sum(w[is_pos]))
    n_neg = float(np.sum(w[~is_pos]))
    fn, tn = n_pos - tp, n_neg - fp
    nan = float("nan")
    return {
        "accuracy": (tp + tn) / (n_pos + n_neg) if n_pos + n_neg > 0 else nan,
        "precision": tp / (tp + fp) if tp + fp > 0 else nan,
        "recall": tp / n_pos if n_pos > 0 else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else nan,
        "fpr": fp / n_neg if n_neg > 0 else nan,
    }


def validation_metrics(logits: np.ndarray, labels: np.ndarray, threshold: float = 0.5,
                       temperature: float = 1.0) -> dict[str, float]:
    """AUC (on logits) and accuracy/precision/recall at ``sigmoid(logit / temperature) >= threshold``.

    What training logs per epoch (``threshold=0.5``, ``temperature=1``) and what the end of a
    run reports at the chosen threshold and fitted temperature. NaN where undefined.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    is_pos = np.asarray(labels).reshape(-1).astype(int) == 1
    ranked = RankedScores(logits, is_pos)
    value = float("nan")
    if is_pos.any() and (~is_pos).any():
        value = auc(*ranked.counts())
    decision = threshold_metrics(apply_temperature(logits, temperature) >= threshold, is_pos)
    return {"auc": value, "accuracy": decision["accuracy"], "precision": decision["precision"],
            "recall": decision["recall"]}
