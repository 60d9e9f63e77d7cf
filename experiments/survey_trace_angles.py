"""How well the resampling traces read each band's turn (``brahmasifier.survey.traces``): angle errors with and without them.

Run: ``python experiments/survey_trace_angles.py STORE [STORE ...] [--band-groups GROUPS] [--noise N]``

For each misregistered store (``brahmasifier perturb --misregister-fraction 1``: ``pert_angle_<b>``
in its index), :func:`brahmasifier.survey.checks.pixel_checks` with ``register=True`` runs as
``predict`` runs it (batches of 256), once with the traces and once with
:func:`brahmasifier.survey.traces.with_traces` switched off (the image estimate's angles alone),
and prints the share of objects repaired, the bands turned back and, over the repaired objects,
the worst band's error (each band relative to the median band, as the truth): median, share
above 2° and above 5°. ``--band-groups gy,riz`` runs the checks with those groups read, as
``predict --band-groups auto`` does once it has read them. ``--noise N`` also reads the trace
of ``N`` cutouts of white noise alone turned by a random angle with each of scipy's kernels
(nearest, bilinear, cubic spline): the share read within 1° (``docs/survey-pixels.md`` §3, "The
angle in the noise").
"""

from __future__ import annotations

import argparse

import numpy as np

import brahmasifier.survey.checks as checks
from brahmasifier.bands import BANDS
from brahmasifier.io.store import open_store
from brahmasifier.survey.traces import MIN_TURN, trace_angles
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def _columns(images: np.ndarray, traces: bool, groups: str) -> dict[str, np.ndarray]:
    real = checks.with_traces
    if not traces:
        checks.with_traces = lambda angles, images, invalid=None: angles
    try:
        parts = [checks.pixel_checks(images[s:s + 256], np.zeros(len(images[s:s + 256]), np.int32), register=True,
                                     band_groups=groups, groups_read=bool(groups))[1]
                 for s in range(0, len(images), 256)]
    finally:
        checks.with_traces = real
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def angle_errors(path: str, groups: str = "") -> list[dict[str, float]]:
    """Without and with the traces: repaired share, bands turned back, the repaired objects' worst band error."""
    store = open_store(path)
    images = store.read(np.arange(len(store)))
    applied = store.index[[f"pert_angle_{b}" for b in BANDS]].to_numpy()
    truth = applied - np.median(applied, axis=1, keepdims=True)
    rows = []
    for traces in (False, True):
        columns = _columns(images, traces, groups)
        found = np.stack([columns[f"band_angle_{b}"] for b in BANDS], axis=1)
        repaired = columns["bands_registered"] > 0
        error = found - truth
        worst = np.abs(error - np.median(error, axis=1, keepdims=True)).max(axis=1)[repaired]
        rows.append({"repaired": float(repaired.mean()), "bands": int(columns["bands_registered"].sum()),
                     "median": float(np.median(worst)) if worst.size else np.nan,
                     "over2": float(np.mean(worst > 2.0)) if worst.size else np.nan,
                     "over5": float(np.mean(worst > 5.0)) if worst.size else np.nan})
    return rows


def noise_reads(n: int, order: int, rng: np.random.Generator) -> float:
    """The share of ``n`` white-noise cutouts turned by a random angle (scipy ``order``) whose trace reads it within 1°."""
    angles = rng.uniform(-45.0, 45.0, n)
    angles = np.where(np.abs(angles) < MIN_TURN + 1.0, angles + np.sign(angles) * (MIN_TURN + 1.0), angles)
    images = np.stack([rotate_bands(rng.normal(size=(1, 41, 41)), np.array([a]), order=order) for a in angles])
    images[:, :, footprint_outside(41)] = np.nan
    found = trace_angles(images).angle[:, 0]
    return float(np.mean(np.abs((found - angles + 45.0) % 90.0 - 45.0) < 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="*")
    parser.add_argument("--band-groups", default="", help="groups read, as predict --band-groups auto reads them")
    parser.add_argument("--noise", type=int, default=0, help="also read N white-noise cutouts per kernel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in args.stores:
        before, after = angle_errors(path, args.band_groups)
        print(f"{path}: objects repaired {before['repaired']:.3f} -> {after['repaired']:.3f}, bands turned back "
              f"{before['bands']} -> {after['bands']}; the repaired objects' worst band: median "
              f"{before['median']:.2f} -> {after['median']:.2f} deg, > 2 deg {before['over2']:.3f} -> {after['over2']:.3f},"
              f" > 5 deg {before['over5']:.3f} -> {after['over5']:.3f}", flush=True)
    rng = np.random.default_rng(args.seed)
    for order, name in ((0, "nearest"), (1, "bilinear"), (3, "cubic spline")):
        if args.noise:
            print(f"white noise, {name}: read within 1 deg in {noise_reads(args.noise, order, rng):.3f} of {args.noise}")


if __name__ == "__main__":
    main()
