"""Each band's footprint rotation, read from the shape of its constant-filled corners.

A cutout rotated by ``θ`` about its centre, its uncovered corners filled with one constant,
loses four corner triangles whose edges are the rotated stamp's edges: the filled region *is*
the angle, mod 90°, to a fraction of a degree, and it does not depend on the object (faint,
round, or masked). When the bands were rotated by different angles, each band's corners say its
own angle. :func:`footprint_angles` reads it;
:mod:`brahmasifier.survey.checks` flags an object whose bands' footprints disagree and
repairs its bands with these angles instead of the image estimate
(:mod:`brahmasifier.survey.registration`), which remains the only evidence when the corners
are not filled (or were cut away for every band alike, e.g. to the inscribed circle).

Method: the fill mask (:func:`brahmasifier.pixels.fill_mask`) of each plane, outside the
circle of radius :data:`INNER_RADIUS` (inside it a rotation never uncovers a pixel), is matched
against the uncovered corners of a stamp rotated by every angle in ``[−45°, 45°)`` every
:data:`TEMPLATE_STEP` degrees (bilinear, as ``perturb`` and most resamplers do; a bicubic
resampler uncovers about one pixel less along each edge, which moves no edge's angle); the
angle with the fewest mismatched pixels wins, refined by a parabola (one BLAS product of the
planes' corner bits with the bank's; a finer bank, 0.1°, was no more precise). A plane whose
fill does not look like rotated corners (more than :data:`MAX_MISMATCH` of the union
mismatched: a strip, a chip gap, a corner cut by the catalogue) has no footprint angle (NaN); a
plane without fill in the corners reads 0° (not rotated, or by a multiple of 90°).

Measured (``docs/survey-pixels.md`` §3, "Footprint angles"; ``experiments/survey_registration_rates.py``):
on the sets whose bands were each rotated by U(−30°, 30°) with their corners filled (perturb
seeds 21 and 31; 23 held out), every object spanning ≥ 10° is flagged (image estimate alone:
88–93%), the flagged bands' angles are a median 0.29° from the truth (0.75°), and the clean,
rotated-aligned, masked and resampled sets' false flags are the image estimate's to the digit.
With these angles ``--register-bands`` brings the SLSim-engine sets' TPR at FPR 1e-2 to within
0.027 / 0.038 of the clean sets' (the three-target 30,000-object model; image angles, seed 21: 0.09).
On cutouts cut to the inscribed circle (``perturb --footprint rotated``: the blind set's form as
described) the corners are the same in every band and only the image estimate is left.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np

from brahmasifier.survey.registration import BandAngles
from brahmasifier.survey.transforms import footprint_outside

__all__ = ["INNER_RADIUS", "MAX_MISMATCH", "MIN_SPREAD", "TEMPLATE_STEP", "footprint_angles", "relative_footprint_angles",
           "with_footprint"]

#: Inside this radius (pixels from the stamp centre) a rotation uncovers nothing: not matched.
INNER_RADIUS: float = 19.5
#: Angular step of the template bank, degrees (refined between steps by a parabola).
TEMPLATE_STEP: float = 1.0
#: Largest share of mismatched pixels (of the template's and the fill's union) that still reads as rotated corners.
MAX_MISMATCH: float = 0.25
#: Smallest difference (degrees, mod 90°) between two bands' footprint angles that flags an object: the
#: angles of two bands rotated alike are identical (the same plane), of bands rotated apart within ~2°.
MIN_SPREAD: float = 3.0
#: Fewest filled corner pixels that carry an angle (fewer: the plane reads 0°; a 2° rotation leaves ~10).
MIN_CORNER_PIXELS: int = 4


@lru_cache(maxsize=4)
def _templates(size: int, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles ``(A,)``, the corner pixels' indices ``(P,)`` and the uncovered corners ``(P, A)`` (float32 0/1, C order)."""
    from scipy import ndimage

    corner = np.flatnonzero(footprint_outside(size, INNER_RADIUS).ravel())
    angles = np.arange(-45.0, 45.0, step)
    ones = np.ones((size, size))
    bank = np.empty((len(angles), corner.size), dtype=np.float32)
    for a, angle in enumerate(angles):
        turned = ndimage.rotate(ones, float(angle), reshape=False, order=1, mode="constant", cval=0.0)
        bank[a] = turned.ravel()[corner] == 0.0
    return angles, corner, np.ascontiguousarray(bank.T)


def footprint_angles(fill: np.ndarray) -> np.ndarray:
    """Each plane's footprint rotation (degrees in ``[−45, 45)``, scipy's sense) from its fill mask ``(k, bands, H, W)``.

    NaN where the fill is not a rotated footprint's corners (module docstring). Only planes
    with filled corners are matched, and a band whose corners equal the first band's takes
    its answer (every band of an aligned rotated footprint).
    """
    fill = np.asarray(fill, dtype=bool)
    k, nb, h, w = fill.shape
    out = np.zeros((k, nb), dtype=np.float64)
    if not fill.any():  # clean cutouts: nothing to read, nothing to pay
        return out
    angles, corner, bank = _templates(h, TEMPLATE_STEP)
    planes = np.take(fill.reshape(k, nb, h * w), corner, axis=2)
    filled = planes.sum(axis=2) >= MIN_CORNER_PIXELS
    as_first = (planes == planes[:, :1]).all(axis=2)
    as_first[:, 0] = False
    todo = filled & ~as_first
    if not todo.any():
        return out
    observed = planes[todo].astype(np.float32)  # (D, P)
    overlap = observed @ bank  # (D, templates): one small BLAS product
    union = observed.sum(axis=1)[:, None] + bank.sum(axis=0)[None, :] - overlap
    mismatch = union - overlap
    best = mismatch.argmin(axis=1)
    rows = np.arange(len(observed))
    n = len(angles)
    left, mid, right = mismatch[rows, (best - 1) % n], mismatch[rows, best], mismatch[rows, (best + 1) % n]
    denom = left - 2.0 * mid + right
    refine = np.where(denom > 0, 0.5 * (left - right) / np.where(denom > 0, denom, 1.0), 0.0)
    found = (angles[best] + np.clip(refine, -0.5, 0.5) * TEMPLATE_STEP + 45.0) % 90.0 - 45.0
    out[todo] = np.where(mid <= MAX_MISMATCH * union[rows, best], found, np.nan)
    same = filled & as_first
    out[same] = np.broadcast_to(out[:, :1], out.shape)[same]
    return out


def relative_footprint_angles(footprint: np.ndarray) -> np.ndarray:
    """Each band's footprint angle relative to the object's (circular median mod 90°), in ``[−45, 45)``; NaN stays NaN."""
    footprint = np.asarray(footprint, dtype=np.float64)
    # The reference: the known angle with the smallest summed circular distance to the others (a circular median).
    diff = (footprint[:, :, None] - footprint[:, None, :] + 45.0) % 90.0 - 45.0  # (k, b, c)
    cost = np.nansum(np.abs(diff), axis=2)
    cost = np.where(np.isnan(footprint), np.inf, cost)
    ref = np.take_along_axis(footprint, cost.argmin(axis=1)[:, None], axis=1)
    return (footprint - ref + 45.0) % 90.0 - 45.0


def with_footprint(angles: BandAngles, footprint: np.ndarray, min_spread: float = MIN_SPREAD) -> BandAngles:
    """``angles`` (the image estimate) with the footprints' evidence: flagged where they disagree, their angles where known.

    An object is flagged when at least two of its bands have a footprint angle and they
    differ by ``min_spread`` degrees or more (mod 90°) — besides every object the image
    estimate flags. In an object the footprints flag, each band with a footprint angle takes
    it (relative to the bands' circular median; the corners say it mod 90°: where the image
    estimate flagged the object too, of ``θ − 90°, θ, θ + 90°`` the one nearest its angle,
    elsewhere ``θ`` in ``[−45°, 45°)``), the others keep the image estimate; the bands to
    repair follow (:data:`~brahmasifier.survey.registration.REPAIR_ANGLE`).
    """
    relative = relative_footprint_angles(footprint)
    known = ~np.isnan(relative)
    spread = np.where(known, np.abs(relative), 0.0).max(axis=1)
    flag = (known.sum(axis=1) >= 2) & (spread >= min_spread)
    # Mod 90°: where the image estimate flagged the object too, its angles (a few degrees off at
    # worst) pick θ − 90°, θ or θ + 90°; elsewhere (faint objects) θ in [−45°, 45°).
    candidates = np.where(known, relative, 0.0)[..., None] + np.array([-90.0, 0.0, 90.0])
    nearest = np.abs(candidates - angles.angles[..., None]).argmin(axis=-1)
    resolved = np.take_along_axis(candidates, nearest[..., None], axis=-1)[..., 0]
    chosen = np.where(angles.misregistered[:, None], resolved, relative)
    out = copy.copy(angles)
    out.angles = np.where(flag[:, None] & known, chosen, angles.angles)
    out.footprint_flag = flag
    out.misregistered = angles.misregistered | flag
    out.band_flags = out.bands_to_repair()
    return out
