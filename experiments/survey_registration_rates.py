"""Detection and false-flag rates of the band-registration check (docs/survey-pixels.md).

Run: ``python experiments/survey_registration_rates.py --clean STORE [STORE ...] --misregistered STORE [STORE ...]``

Clean stores: the fraction of objects flagged ``misregistered`` (false flags). Misregistered
stores (``brahmasifier perturb --misregister-fraction 1``): the fraction flagged among objects
whose bands span at least 10° (``pert_max_band_angle``), in bins of that span, and the median
error of the estimated angles (each band relative to the median band, as the truth). The
checks are exactly ``predict``'s (:func:`brahmasifier.survey.checks.pixel_checks`), in batches of 256.
"""

from __future__ import annotations

import argparse

import numpy as np

from brahmasifier.bands import BANDS
from brahmasifier.io.store import open_store
from brahmasifier.survey.checks import pixel_checks


def _columns(path: str) -> tuple[dict[str, np.ndarray], object]:
    store = open_store(path)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(store), 256):
        batch = store.read_batch(np.arange(start, min(start + 256, len(store))))
        _, columns = pixel_checks(batch.images, batch.n_nan)
        for k, v in columns.items():
            parts.setdefault(k, []).append(np.asarray(v))
    return {k: np.concatenate(v) for k, v in parts.items()}, store.index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", nargs="*", default=[])
    parser.add_argument("--misregistered", nargs="*", default=[])
    args = parser.parse_args()
    for path in args.clean:
        columns, index = _columns(path)
        flagged = columns["misregistered"].astype(bool)
        labels = index["label"].to_numpy()  # type: ignore[attr-defined]
        print(f"clean {path}: {flagged.mean():.2%} of {len(flagged)} flagged "
              f"(lenses {flagged[labels == 1].mean():.2%}, non-lenses {flagged[labels == 0].mean():.2%})")
    for path in args.misregistered:
        columns, index = _columns(path)
        flagged = columns["misregistered"].astype(bool)
        span = index["pert_max_band_angle"].to_numpy()  # type: ignore[index]
        truth = np.stack([index[f"pert_angle_{b}"].to_numpy() for b in BANDS], axis=1)  # type: ignore[index]
        truth = truth - np.median(truth, axis=1, keepdims=True)
        found = np.stack([columns[f"band_angle_{b}"] for b in BANDS], axis=1)
        wide = span >= 10
        bins = [(10, 20), (20, 40), (40, 1000)]
        detail = ", ".join(f"{lo}-{hi if hi < 1000 else ''}°: {flagged[(span >= lo) & (span < hi)].mean():.1%} "
                           f"of {int(((span >= lo) & (span < hi)).sum())}" for lo, hi in bins)
        error = np.median(np.abs(found[flagged] - truth[flagged])) if flagged.any() else float("nan")
        print(f"misregistered {path}: {flagged[wide].mean():.1%} of {int(wide.sum())} objects spanning >= 10° flagged "
              f"({detail}); median |angle error| of flagged objects' bands {error:.2f}°")


if __name__ == "__main__":
    main()
