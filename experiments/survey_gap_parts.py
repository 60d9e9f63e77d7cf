"""Where a perturbed set's TPR gap to its clean copy comes from: lenses lost, or non-lenses pushed over the threshold.

Run: ``python experiments/survey_gap_parts.py --store PERTURBED_STORE --clean P.csv [P.csv ...]
--perturbed P.csv [P.csv ...] [--fpr 0.01]``

``--clean`` and ``--perturbed`` are probabilities files of the same objects (``predict``'s
``probs.csv``; ``experiments/survey_pixels_table.py`` writes them as ``NAME_v1/p.csv``), one run's
or several runs' — several are averaged in logit space, as ``predict`` averages an ensemble.
Joined by ``id`` with the perturbed store's index (``label``, ``sim_subtype`` and the per-band
angles ``perturb`` applied, ``pert_angle_<b>``). Prints, at FPR ``--fpr``:

- TPR of the clean copy, of the perturbed one at its own threshold, and of the perturbed one at
  the *clean* threshold — what the lenses lost, with the operating point held — and the
  non-lenses above the clean threshold in each: what pushed the perturbed threshold up.
- Those non-lenses by ``sim_subtype``.
- Lenses found and non-lenses over the clean threshold by the misregistration the repair left:
  per object the spread (largest minus smallest band) of the applied angles minus the bands'
  estimated angles where ``predict`` turned them back (``bands_registered`` > 0 and
  ``|band_angle_<b>|`` ≥ the repair's smallest angle), each relative to its median band.

Written for issue 21's per-band circle-cut sets (``docs/survey-pixels.md`` §3, "Three seeds, and
where the per-band gap sits"); any pair of clean and perturbed copies works where the store has
no angle columns (the last table is then skipped).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS
from brahmasifier.io.store import open_store
from brahmasifier.survey.registration import REPAIR_ANGLE

#: Bins of the residual spread (degrees) for the last table.
SPREAD_BINS: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0, 10.0, 20.0, 360.0)


def mean_logits(paths: list[Path]) -> pd.DataFrame:
    """``id``, the mean ``logit`` of the files and the first file's registration columns."""
    frames = [pd.read_csv(p, dtype={"id": str}).set_index("id") for p in paths]
    out = frames[0].copy()
    out["logit"] = np.mean([f.loc[out.index, "logit"].to_numpy() for f in frames], axis=0)
    return out


def threshold(negatives: np.ndarray, fpr: float) -> float:
    """The score a lens must exceed so that at most ``fpr`` of ``negatives`` do (``binary_metrics``' operating point)."""
    ordered = np.sort(np.asarray(negatives, dtype=np.float64))[::-1]
    k = int(np.floor(fpr * ordered.size * (1 + 1e-12) + 1e-9))
    return float(ordered[k]) if k < ordered.size else -np.inf


def residual_spread(table: pd.DataFrame, bands: tuple[str, ...] = BANDS) -> np.ndarray:
    """Per object: spread of (applied angle − estimated angle where turned back), each relative to the median band."""
    applied = table[[f"pert_angle_{b}" for b in bands]].to_numpy(np.float64)
    estimated = table[[f"band_angle_{b}" for b in bands]].to_numpy(np.float64)
    turned = (table["bands_registered"].to_numpy() > 0)[:, None] & (np.abs(estimated) >= REPAIR_ANGLE)
    left = applied - np.where(turned, estimated, 0.0)
    left -= np.median(left, axis=1, keepdims=True)
    return left.max(axis=1) - left.min(axis=1)


def gap_parts(table: pd.DataFrame, fpr: float = 1e-2) -> dict[str, float]:
    """The decomposition of the module docstring from ``label``, ``logit_clean`` and ``logit`` (the perturbed copy)."""
    lens, neg = table["label"].to_numpy() == 1, table["label"].to_numpy() == 0
    clean, pert = table["logit_clean"].to_numpy(), table["logit"].to_numpy()
    t_clean, t_pert = threshold(clean[neg], fpr), threshold(pert[neg], fpr)
    return {"tpr_clean": float(np.mean(clean[lens] > t_clean)), "tpr_perturbed": float(np.mean(pert[lens] > t_pert)),
            "tpr_perturbed_at_clean_threshold": float(np.mean(pert[lens] > t_clean)),
            "threshold_clean": t_clean, "threshold_perturbed": t_pert,
            "negatives_over_clean_threshold_clean": int(np.sum(clean[neg] > t_clean)),
            "negatives_over_clean_threshold_perturbed": int(np.sum(pert[neg] > t_clean))}


def by_spread(table: pd.DataFrame, t_clean: float) -> pd.DataFrame:
    """Per residual-spread bin: lenses (found clean / perturbed at the clean threshold), non-lenses over it."""
    binned = table.assign(spread=pd.cut(residual_spread(table), list(SPREAD_BINS), include_lowest=True))
    rows = []
    for interval, group in binned.groupby("spread", observed=True):
        lens, neg = group[group["label"] == 1], group[group["label"] == 0]
        rows.append({"spread_deg": str(interval), "lenses": len(lens),
                     "found_clean": float(np.mean(lens["logit_clean"] > t_clean)) if len(lens) else np.nan,
                     "found_perturbed": float(np.mean(lens["logit"] > t_clean)) if len(lens) else np.nan,
                     "non_lenses": len(neg), "over_clean": int(np.sum(neg["logit_clean"] > t_clean)),
                     "over_perturbed": int(np.sum(neg["logit"] > t_clean))})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the perturbed store (labels, subtypes, applied angles)")
    parser.add_argument("--clean", nargs="+", type=Path, required=True)
    parser.add_argument("--perturbed", nargs="+", type=Path, required=True)
    parser.add_argument("--fpr", type=float, default=1e-2)
    args = parser.parse_args()
    index = open_store(args.store).index.set_index("id")
    perturbed = mean_logits(args.perturbed)
    clean = mean_logits(args.clean).loc[perturbed.index, "logit"]
    table = perturbed.join(index[[c for c in index.columns if c == "label" or c == "sim_subtype" or c.startswith("pert_angle_")]])
    table["logit_clean"] = clean.to_numpy()
    parts = gap_parts(table, args.fpr)
    gap = parts["tpr_perturbed"] - parts["tpr_clean"]
    lost = parts["tpr_perturbed_at_clean_threshold"] - parts["tpr_clean"]
    print(f"TPR at FPR {args.fpr:g}: clean {parts['tpr_clean']:.3f}; perturbed {parts['tpr_perturbed']:.3f} (gap {gap:+.3f}); "
          f"perturbed at the clean threshold {parts['tpr_perturbed_at_clean_threshold']:.3f} (lenses lost {lost:+.3f})")
    print(f"thresholds (logit): clean {parts['threshold_clean']:.2f}, perturbed {parts['threshold_perturbed']:.2f}; "
          f"non-lenses over the clean one: clean {parts['negatives_over_clean_threshold_clean']}, "
          f"perturbed {parts['negatives_over_clean_threshold_perturbed']}")
    if "sim_subtype" in table:
        neg = table[table["label"] == 0]
        over = neg[neg["logit"] > parts["threshold_clean"]]["sim_subtype"].value_counts()
        print("non-lenses over the clean threshold, perturbed, by kind:", ", ".join(f"{k} {v}" for k, v in over.items()))
    if all(f"pert_angle_{b}" in table for b in BANDS) and "bands_registered" in table:
        print(by_spread(table, parts["threshold_clean"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
