"""Where ``--register-bands`` loses against the clean set: detection, angle error or the repair's resampling.

Run: ``python experiments/survey_registration_oracle.py --model RUN --clean STORE --misregistered STORE
[--variants ...] [--out DIR]``

Scores (``predict``, flips TTA, the model's card as trained) a clean set and its misregistered
copy (``brahmasifier perturb ... --misregister-fraction 1``, the same seed: the same objects and
offsets) in several ways, and prints AUC and TPR at FPR 1e-2 for each:

- ``clean``: the clean set; ``none``: the misregistered set as it is;
- ``register``: ``--register-bands`` as shipped (estimated angles, flagged bands only);
- ``oracle``: every band rotated back by its TRUE angle relative to the median band's
  (``pert_angle_<b>`` truth columns; the object keeps one common rotation, which a
  rotation-trained model ignores), with :func:`brahmasifier.survey.repair.register_bands`'
  kernel — what a perfect estimate and detection would give: its gap to ``clean`` is the
  repair's resampling loss;
- ``oracle_flagged``: the true angles, but only on the objects the check flags (the others
  untouched): the gap to ``oracle`` is what the missed detections cost;
- ``estimate_all``: every band of every object rotated back by its estimated angle (no flag):
  the gap to ``oracle`` is what the angle errors cost.

The oracle lives here, never in the package: ``pixel_checks`` is wrapped (``predict`` runs
with ``workers=0``) so that each object, recognised by its pixels, gets its truth angles.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import brahmasifier.survey.checks as survey_checks
from brahmasifier.bands import BANDS
from brahmasifier.binary_metrics import RankedScores, auc, tpr_at_false_positives
from brahmasifier.inference.config import PredictConfig
from brahmasifier.inference.predictor import predict
from brahmasifier.io.store import open_store
from brahmasifier.survey.checks import pixel_checks
from brahmasifier.survey.registration import BandAngles
from brahmasifier.survey.repair import register_bands

VARIANTS = ("clean", "none", "register", "oracle", "oracle_flagged", "estimate_all")


def _key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()


def _truth(store_path: str) -> dict[str, np.ndarray]:
    store = open_store(store_path)
    truth = np.stack([store.index[f"pert_angle_{b}"].to_numpy(np.float64) for b in BANDS], axis=1)
    relative = truth - np.median(truth, axis=1, keepdims=True)
    out = {}
    for start in range(0, len(store), 256):
        rows = np.arange(start, min(start + 256, len(store)))
        images = store.read_batch(rows).images
        for j, row in enumerate(rows):
            out[_key(images[j])] = relative[row]
    return out


def _wrapped(variant: str, truth: dict[str, np.ndarray]) -> Any:
    def checks(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
               register: bool = False, repair_score: float | None = None,
               band_groups: str = "", groups_read: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        out, columns = pixel_checks(images, n_nan, n_masked, register=False)
        flagged = columns["misregistered"].astype(bool)
        if variant == "estimate_all":
            estimated = np.stack([columns[f"band_angle_{b}"] for b in BANDS[: images.shape[1]]], axis=1)
            angles = BandAngles(estimated, np.ones_like(estimated), min_angle=0.0, min_score=0.0, peak=np.ones_like(estimated))
        else:
            true = np.stack([truth[_key(im)] for im in images])
            if variant == "oracle_flagged":
                true = np.where(flagged[:, None], true, 0.0)
            angles = BandAngles(true, np.ones_like(true), min_angle=1e-6, min_score=0.0, peak=np.ones_like(true))
        return register_bands(out, angles), columns
    return checks


def _metrics(probs: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    y = labels.loc[probs["id"]].to_numpy()
    ranked = RankedScores(probs["logit"].to_numpy(), y)
    tp, fp = ranked.counts()
    return {"auc": auc(tp, fp), "tpr_at_fpr_1e-2": tpr_at_false_positives(tp, fp, 0.01 * int((y == 0).sum())),
            "n_misregistered": int(probs["misregistered"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--misregistered", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", default="experiments/_work/registration_oracle")
    args = parser.parse_args()
    out = Path(args.out)
    truth = _truth(args.misregistered) if {"oracle", "oracle_flagged"} & set(args.variants) else {}
    rows = []
    for variant in args.variants:
        store = args.clean if variant == "clean" else args.misregistered
        # what predict's Registration.checks calls (a module global, looked up per batch)
        survey_checks.pixel_checks = (pixel_checks if variant in ("clean", "none", "register")  # type: ignore[assignment]
                                      else _wrapped(variant, truth))
        predict(PredictConfig(models=[args.model], data=[store], out=out / variant / "s.csv", probs_out=out / variant / "p.csv",
                              progress=False, workers=0, register_bands=variant == "register"))
        survey_checks.pixel_checks = pixel_checks  # type: ignore[assignment]
        probs = pd.read_csv(out / variant / "p.csv", dtype={"id": str})
        row = {"variant": variant, **_metrics(probs, open_store(store).index.set_index("id")["label"])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
