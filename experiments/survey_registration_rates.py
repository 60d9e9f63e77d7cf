"""Detection and false-flag rates of the band-registration check (docs/survey-pixels.md).

Run: ``python experiments/survey_registration_rates.py --clean STORE [STORE ...] --misregistered STORE [STORE ...]
[--rule current|previous] [--band-groups GROUPS]``

Clean stores: the fraction of objects flagged ``misregistered`` (false flags). Misregistered
stores (``brahmasifier perturb --misregister-fraction 1``): the fraction flagged among objects
whose bands span at least 10° (``pert_max_band_angle``), in bins of that span, the median
error of the estimated angles (each band relative to the median band, as the truth), and,
among the missed objects spanning 10–20°, the median |truth| of their most-rotated band and
the median peak correlation (what limits detection). The estimate is exactly ``predict``'s
(:func:`brahmasifier.survey.registration.estimate_band_angles` on the images with their
:func:`brahmasifier.pixels.fill_mask`, as :func:`brahmasifier.survey.checks.pixel_checks`
and :func:`brahmasifier.pixels.zeroed_bad_mask`, as :func:`brahmasifier.survey.checks.pixel_checks`
calls it, combined with the footprint angles of :mod:`brahmasifier.survey.footprint`), in
batches of 256. ``--rule image`` leaves the footprints out (the image estimate alone, the rule
before the footprints). ``--rule last`` (largest band score, floor 0.5, ≥ 0.10,
≥ 5°) and ``--rule previous`` (|angle| ≥ 6° and gain × peak ≥ 0.06) apply earlier flag rules,
with filled pixels only as invalid, to the CURRENT estimate (grid and ``asinh`` scale): they
show what the flag rule alone changes. The exact earlier numbers come from running this
script at the commit of the time (``docs/survey-pixels.md`` §3 gives it). ``--band-groups gy,riz``
estimates one angle per group, as ``predict --band-groups`` does (with the current rules).
"""

from __future__ import annotations

import argparse

import numpy as np

from brahmasifier.bands import BANDS, band_groups
from brahmasifier.io.store import open_store
from brahmasifier.pixels import fill_mask, zeroed_bad_mask
from brahmasifier.survey.footprint import footprint_angles, with_footprint
from brahmasifier.survey.registration import BandAngles, estimate_band_angles


def _angles(path: str, rule: str, groups: str = "") -> tuple[BandAngles, object]:
    store = open_store(path)
    angles: list[np.ndarray] = []
    gain: list[np.ndarray] = []
    peak: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    for start in range(0, len(store), 256):
        batch = store.read_batch(np.arange(start, min(start + 256, len(store))))
        images = batch.images
        fill = fill_mask(images)
        invalid = fill if rule in ("last", "previous") else fill | zeroed_bad_mask(images, batch.n_nan)
        part = estimate_band_angles(images, invalid, groups=band_groups(groups) if groups else None)
        if rule == "current":
            part = with_footprint(part, footprint_angles(fill))
        angles.append(part.angles)
        gain.append(part.gain)
        peak.append(part.peak)
        flags.append(part.misregistered)
    joined = BandAngles(np.concatenate(angles), np.concatenate(gain), peak=np.concatenate(peak))
    joined.misregistered = np.concatenate(flags)
    return joined, store.index


def _flags(angles: BandAngles, rule: str) -> np.ndarray:
    if rule == "previous":
        return ((np.abs(angles.angles) >= 6.0) & (angles.gain * angles.peak >= 0.06)).any(axis=1)
    if rule == "last":
        last = angles.gain * angles.peak / np.maximum(1.0 - (angles.peak - angles.gain), 0.5)
        return ((np.abs(angles.angles) >= 5.0) & (last >= 0.10)).any(axis=1)
    return angles.misregistered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", nargs="*", default=[])
    parser.add_argument("--misregistered", nargs="*", default=[])
    parser.add_argument("--rule", choices=("current", "image", "last", "previous"), default="current")
    parser.add_argument("--band-groups", default="", help="bands known to turn together, e.g. gy,riz")
    args = parser.parse_args()
    if args.band_groups and args.rule in ("last", "previous"):
        parser.error("--band-groups goes with --rule current or image")
    for path in args.clean:
        angles, index = _angles(path, args.rule, args.band_groups)
        flagged = _flags(angles, args.rule)
        labels = index["label"].to_numpy()  # type: ignore[attr-defined]
        print(f"[{args.rule}] clean {path}: {flagged.mean():.2%} of {len(flagged)} flagged "
              f"(lenses {flagged[labels == 1].mean():.2%}, non-lenses {flagged[labels == 0].mean():.2%})")
    for path in args.misregistered:
        angles, index = _angles(path, args.rule, args.band_groups)
        flagged = _flags(angles, args.rule)
        span = index["pert_max_band_angle"].to_numpy()  # type: ignore[index]
        truth = np.stack([index[f"pert_angle_{b}"].to_numpy() for b in BANDS], axis=1)  # type: ignore[index]
        truth = truth - np.median(truth, axis=1, keepdims=True)
        found = angles.angles
        wide = span >= 10
        bins = [(10, 15), (15, 20), (20, 40), (40, 1000)]
        detail = ", ".join(f"{lo}-{hi if hi < 1000 else ''}°: {flagged[(span >= lo) & (span < hi)].mean():.1%} "
                           f"of {int(((span >= lo) & (span < hi)).sum())}" for lo, hi in bins)
        error = np.median(np.abs(found[flagged] - truth[flagged])) if flagged.any() else float("nan")
        missed = (span >= 10) & (span < 20) & ~flagged
        why = (f"; missed 10-20°: median max |truth| {np.median(np.abs(truth[missed]).max(axis=1)):.1f}°, "
               f"median peak ρ {np.median(angles.peak[missed].min(axis=1)):.2f}" if missed.any() else "")
        print(f"[{args.rule}] misregistered {path}: {flagged[wide].mean():.1%} of {int(wide.sum())} objects spanning "
              f">= 10° flagged ({detail}); median |angle error| of flagged objects' bands {error:.2f}°{why}")


if __name__ == "__main__":
    main()
