"""Reading and joining evaluation inputs: predictions (``probs.csv``) and labels (a truth CSV or a store).

IDs are read as text (``75339100000000001`` must not become a float). Objects whose ID is
duplicated are matched by stem too when both tables carry one; every prediction or label
left unmatched is counted in a :class:`JoinReport`, because silent drops hide problems.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier.bands import DOMAIN_BY_CODE, MISSING_VALUE, UNKNOWN_DOMAIN
from brahmasifier.errors import EvaluationInputError
from brahmasifier.models.temperature import sigmoid

__all__ = ["STRING_COLUMNS", "JoinReport", "join_predictions", "load_labels", "load_predictions"]

#: Columns kept as strings when reading CSVs (IDs must never become floats).
STRING_COLUMNS: tuple[str, ...] = ("id", "stem", "domain")

_STEM_DOMAIN = re.compile(r"^D(?P<code>[12])_[LN]_?\d+$")  # published (D1_L_00000001) and legacy names


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
        table["prob"] = sigmoid(table["logit"].to_numpy())
    for column in ("prob", "logit"):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
            if bad.any():
                first = table.loc[bad, "id"].head(3).tolist()
                raise EvaluationInputError(
                    f"{path}: {int(bad.sum())} rows have a missing or non-numeric '{column}' (e.g. ids {first})")
            table[column] = values.astype(np.float64)
    if ((table["prob"] < 0) | (table["prob"] > 1)).any():
        raise EvaluationInputError(f"{path}: 'prob' values must lie in [0, 1]")
    if (table["id"] == "").any():
        raise EvaluationInputError(f"{path}: {int((table['id'] == '').sum())} rows have an empty id")
    key = ["id", "stem"] if "stem" in table.columns else ["id"]
    repeated = table.duplicated(subset=key, keep="first")
    if repeated.any() and "stem" in table.columns:  # without stems, repeated IDs are counted as ambiguous by the join
        first = table.loc[repeated, "id"].head(3).tolist()
        raise EvaluationInputError(f"{path}: {int(repeated.sum())} rows repeat an object already listed (same id and stem, "
                                   f"e.g. ids {first}); a probabilities file has one row per object, as predict writes it")
    return table



def load_labels(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Labels from a truth CSV (``id,label[,domain,Rein,...]``) or a packed store's index.

    -999 parameters become NaN. Rows with label -1 (unknown) are kept here and dropped by
    :func:`join_predictions`, which counts them. An object (``id``, and ``stem`` when the table
    has one) labelled twice with the same label is kept once (counted in
    ``attrs["n_duplicate_label_rows"]``, reported by the join); labelled 0 and 1 it is refused.
    """
    path = Path(path)
    if path.is_dir():
        from brahmasifier.io.store import is_store_folder, open_store

        if not is_store_folder(path):
            raise EvaluationInputError(f"{path}: a folder but not a packed store (no manifest.json); "
                                       "give a truth CSV or a store")

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
    table = _one_row_per_object(table, path)
    for column in table.columns:
        if column not in ("id", "stem", "domain", "label") and pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].where(table[column] != MISSING_VALUE)
    return table


def _one_row_per_object(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Refuse objects labelled both 0 and 1; keep one row of an object labelled twice alike (counted)."""
    key = ["id", "stem"] if "stem" in table.columns else ["id"]
    n_labels = table.groupby(key, sort=False)["label"].nunique()
    conflicting = n_labels[n_labels > 1]
    if len(conflicting):
        examples = [" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in conflicting.index[:5]]
        raise EvaluationInputError(f"{path}: {len(conflicting)} object(s) carry two different labels (e.g. {examples}); "
                                   "each object needs one label")
    repeated = table.duplicated(subset=key, keep="first")
    table = table.loc[~repeated].reset_index(drop=True)
    table.attrs["n_duplicate_label_rows"] = int(repeated.sum())
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
    n_duplicate_label_rows: int = 0  # repeated rows of one object in the labels, used once

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
        if self.n_duplicate_label_rows:
            parts.append(f"{self.n_duplicate_label_rows} repeated label rows (same object, same label) were used once")
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
    n_duplicate_label_rows = int(labels.attrs.get("n_duplicate_label_rows", 0))
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
        n_ambiguous=n_ambiguous, keys=keys, n_duplicate_label_rows=n_duplicate_label_rows,
    )
    return table, report

