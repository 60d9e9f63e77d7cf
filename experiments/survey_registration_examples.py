"""Pictures of where the per-band registration estimate goes wrong: what the second start fixed, and what is left.

Run: ``python experiments/survey_registration_examples.py --clean STORE --misregistered STORE
[--per-kind 3] [--seed 0] [--out docs/images/registration_examples.png]``

``--misregistered`` is a copy of ``--clean`` made by ``brahmasifier perturb ... --misregister-fraction 1``
(the same objects, in the same order; truth in its ``pert_angle_<b>`` columns). Every object's bands
are estimated as ``predict`` does (:func:`brahmasifier.survey.registration.estimate_band_angles`, the
reader's filled and zeroed pixels invalid) twice: with the search's first start alone (from 0) and
as shipped (the second start of :mod:`brahmasifier.survey.alignment` where it wins). Two kinds of
object are drawn at random (``--seed``): those whose worst band the first start puts > 10° from the
truth and the shipped search within 3° ("fixed"), and those the shipped search still puts > 10°
off ("left"). Each row: the clean object, the turned copy, both repaired (every band ≥ 1° from 0
turned back), Lupton RGB of i, r, g (``display.lupton_grid``): a misaligned band shows as colour
fringes. ``docs/survey-pixels.md`` §3, "Where the per-band form still loses", shows the output for
``t404_clean41`` / ``t404_rotmis41``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from brahmasifier.bands import BANDS
from brahmasifier.display import lupton_grid, save_figure
from brahmasifier.io.store import open_store
from brahmasifier.pixels import fill_mask, zeroed_bad_mask
from brahmasifier.survey import alignment
from brahmasifier.survey.registration import BandAngles, estimate_band_angles
from brahmasifier.survey.repair import register_bands


@contextmanager
def _first_start_only() -> Iterator[None]:
    floor = alignment.SECOND_FLOOR
    alignment.SECOND_FLOOR = np.inf  # the second start never wins
    try:
        yield
    finally:
        alignment.SECOND_FLOOR = floor


def _worst_error(angles: np.ndarray, truth: np.ndarray) -> np.ndarray:
    error = angles - truth
    error = (error - np.median(error, axis=1, keepdims=True) + 180.0) % 360.0 - 180.0  # a common turn is no error
    return np.abs(error).max(axis=1)


def _repaired(images: np.ndarray, invalid: np.ndarray, angles: np.ndarray) -> np.ndarray:
    turned = BandAngles(angles, np.ones_like(angles), min_angle=0.0, min_score=0.0, peak=np.ones_like(angles))
    return register_bands(np.where(invalid, np.nan, images), turned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", required=True)
    parser.add_argument("--misregistered", required=True)
    parser.add_argument("--per-kind", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/images/registration_examples.png")
    args = parser.parse_args()
    clean, turned = open_store(args.clean), open_store(args.misregistered)
    if len(clean) != len(turned) or not (clean.index["id"].to_numpy() == turned.index["id"].to_numpy()).all():
        raise SystemExit("--misregistered must be a perturbed copy of --clean (the same objects in the same order)")
    truth = np.stack([turned.index[f"pert_angle_{b}"].to_numpy(np.float64) for b in BANDS], axis=1)
    truth -= np.median(truth, axis=1, keepdims=True)
    first, shipped = np.zeros(len(turned)), np.zeros(len(turned))
    for start in range(0, len(turned), 500):
        rows = np.arange(start, min(start + 500, len(turned)))
        batch = turned.read_batch(rows)
        invalid = fill_mask(batch.images) | zeroed_bad_mask(batch.images, batch.n_nan)
        with _first_start_only():
            first[rows] = _worst_error(estimate_band_angles(batch.images, invalid).angles, truth[rows])
        shipped[rows] = _worst_error(estimate_band_angles(batch.images, invalid).angles, truth[rows])
    rng = np.random.default_rng(args.seed)
    kinds = {"fixed by the second start": np.nonzero((first > 10) & (shipped < 3))[0],
             "left: > 10° off": np.nonzero(shipped > 10)[0]}
    grid = []
    for kind, found in kinds.items():
        print(f"{kind}: {len(found)} of {len(turned)} objects")
        for row in sorted(rng.choice(found, size=min(args.per_kind, len(found)), replace=False)):
            image = turned.read_batch(np.array([row]))
            invalid = fill_mask(image.images) | zeroed_bad_mask(image.images, image.n_nan)
            with _first_start_only():
                from_zero = estimate_band_angles(image.images, invalid).angles
            as_shipped = estimate_band_angles(image.images, invalid).angles
            grid.append([(clean.read_batch(np.array([row])).images[0], f"{kind}\nclean, row {row}"),
                         (image.images[0], f"turned: span {np.ptp(truth[row]):.0f}°"),
                         (_repaired(image.images, invalid, from_zero)[0], f"first start: {first[row]:.0f}° off"),
                         (_repaired(image.images, invalid, as_shipped)[0], f"as shipped: {shipped[row]:.0f}° off")])
    print(save_figure(lupton_grid(grid), args.out, dpi=72))


if __name__ == "__main__":
    main()
