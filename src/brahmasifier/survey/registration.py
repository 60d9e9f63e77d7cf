"""Band registration: each band's rotation against the other bands, the misregistered flag, and the repair.

Method (per object, vectorised over a batch):

1. Each band minus its median, pixels invalid in any band (the caller's mask:
   :func:`brahmasifier.pixels.fill_mask` and :func:`brahmasifier.pixels.zeroed_bad_mask` in
   ``predict``; NaN) set to that level in every band, is resampled (bilinear, one sparse
   matrix for every image) onto a polar grid about the stamp centre: :data:`RADII` 1–19 px
   every 2 px (inside the inscribed circle rotated footprints keep), every :data:`STEP`
   degrees (the measurements below were made at 4°; "Speed" for 6°); then divided by
   ``ASINH_NOISE × 1.4826 × MAD`` (the band's noise: bands differ by orders of magnitude)
   through ``asinh`` (the bright core does not dominate), and each ring's mean is removed
   (the radial profile says nothing about an angle). Only the pixels the grid reads (r < 20.5 px
   at 41 × 41: :func:`brahmasifier.survey.polar.polar_support`) take part, so a rotated footprint's filled corners never
   do; median and MAD come from every third of them, each band from its own valid pixels
   (an object's numbers do not depend on the rest of its batch; a test keeps both). Measured
   (tuning sets as in 3., ``docs/survey-pixels.md`` §3): with
   ``asinh`` at 10 × the noise instead of 3 ×, and radii 1, 3, …, 19 px instead of 2, 4, …,
   18 px, the flagged bands' angle errors fell from a median 1.19° / 90th percentile 7.3° to
   0.75° / 5.3° (SLSim engine) and detection at ≤ 1% false flags rose from 91.4% / 87.2% to
   92.6% / 88.5% (our engine / SLSim), for 10 radii instead of 9; 1 × the noise was worse
   (74% on SLSim), 30 × and linear a little worse; radii every 1.5 px or 1 px, or 3° steps,
   no better (at up to twice the cost).
   Masks: a hole in one band alone reads as structure — on an SLSim-engine set with random
   discs, strips and chip gaps, 2.95% of clean objects flagged; 2.20% with the common level;
   the rest were NaN discs the readers had set to 0 inside the stamp, where ``fill_mask``
   does not look: with ``zeroed_bad_mask`` too, 0.40% on both engines (the rule as shipped). A
   validity-weighted correlation (each band's own holes left out, the reference over the
   pixels valid in every other band) found 84% instead of 50% of misregistered objects that
   also had masks, but 6 points fewer without masks at ≤ 1% false flags (masked colourful
   lenses scored high): not used. But the common level still drew a step at the hole's edge
   into every band alike — structure at angle 0 that holds misregistered bands in place. Now
   each band's polar samples touching one of its invalid pixels are 0 after each ring's mean
   over its other samples: they add nothing to any correlation, and a hole in one band costs the
   others nothing. On the 6,000-object SLSim-engine set with g, y turned against r, i, z, cut to
   the circle and randomly masked (perturb seed 41), 48.8% → 63.4% of objects spanning ≥ 10°
   found (with ``groups`` 65.7% → 79.2%; zeroing the samples of a hole in any band in every
   band: 57.9% / 72.9%); masked clean objects flagged 0.55% → 0.67% (held out, SLSim's own
   configuration: 0.65 / 0.60% → 0.70 / 0.85%; with ``groups`` 0.37 / 0.35 / 0.35% → 0.62 /
   0.75 / 0.65%); every set without holes inside the grid unchanged (``docs/survey-pixels.md``
   §3, "Bands known to turn together"). Holes on the same pixels of every band (chip gaps, edge
   strips) that come within 10 px of the centre are filled first, each band from its own valid
   neighbours (:func:`brahmasifier.survey.polar.fill_shared_holes`): left out, a gap through the
   centre took every band's core, and 44% of such objects turned ≥ 10° were found. Found since:
   72.0% → 83.1% per band (``groups`` 79.2% → 91.5%) on that set, 79.2% → 91.2% on our engine's
   per-band masked set (held out); masked clean objects flagged 0.45–0.62% → 0.45–0.65% per band
   and 0.62–0.75% → 0.67–0.90% with ``groups``; every other set unchanged
   (``docs/survey-pixels.md`` §3, "Holes every band shares").
2. A rotation about the centre is a circular shift along the angle, so the correlation of
   band ``b`` with the sum of the *other* bands at every shift is one FFT along the angle,
   summed over the radii, normalised into a correlation coefficient ``ρ_b(Δ)``. The band's
   estimated rotation is the best shift (refined by a parabola through the peak), relative to
   the median of the five bands' estimates (so the bands that agree define 0). The search
   (:mod:`brahmasifier.survey.alignment`) runs ``ITERATIONS`` rounds from 0, and where a band
   ends at least ``min_angle`` from 0, rounds again from every band aligned to the brightest
   first, keeping the more coherent result (bands turned alike no longer lock onto each other).
3. Each band's score is the gain in ``ρ`` (rotated against as it is) as a fraction of what was
   left to gain, ``1 − ρ(0)`` floored at :data:`SCORE_FLOOR`, times ``ρ`` at the estimate. An
   object is ``misregistered`` when the **sum** of the scores of its bands estimated at least
   :data:`MIN_ANGLE` from 0 is at least :data:`MIN_SCORE`. A round or faint object has no angle
   to measure (its ``ρ`` barely changes; it is not flagged); the peak factor keeps noisy bands
   whose best shift is a noise peak from flagging. Why (thresholds at ≤ 1% false flags on
   every clean tuning set: our engine's test set and its rotated-footprint and randomly masked
   copies, perturb seed 31, and the SLSim engine's clean, rotated, masked and resampled copies,
   seed 21; detection on each set's copy with every band rotated by U(−30°, 30°);
   ``docs/survey-pixels.md`` §3): the gain grows like the square of a small angle, so gain ×
   peak found only 47% of objects spanning 10–20°; dividing by ``1 − ρ(0)`` makes it a
   fraction, but a well-correlated object whose bands differ in colour (``ρ(0)`` near 1: a
   lens's blue arcs against its red deflector) then scores high on rotated-and-offset
   footprints (5.7% false flags) — the floor keeps those down. A misregistration turns every
   band while colour structure sets one band apart, so the sum over bands ranks misregistered
   objects above colourful clean ones better than the largest band score: 91.4% / 87.2% of
   objects spanning ≥ 10° found (our engine / SLSim) against 89.6% / 84.8% with the largest
   (floor 0.5, threshold 0.093) at the same ≤ 1% false flags (with the earlier grid: 3 × the
   noise, radii every 2 px); with the grid of 1., floor 0.2 and threshold 0.31 (floors 0.3 and
   0.5 found fewer). Per-band angle uncertainties (ring jackknife, a Cramér–Rao width from
   the residual), a noise-corrected (disattenuated) correlation, an S/N-weighted reference and
   the validity-weighted correlation of 1. did not find more at ≤ 1% false flags.
   **Five bands estimated each on its own are flagged by a fitted network instead**
   (:mod:`brahmasifier.survey.evidence`: the per-band gains, ``ρ(0)``, peaks and ``|angle| ≥ 5°``
   and this score, 22 numbers → one logit; :meth:`BandAngles.flag_by_detector`); the rule above
   flags groups, other band counts and callers that pass ``min_score``, and ``object_score`` stays
   the rule's sum (``--repair-score`` reads it). Bright smooth objects gain 0.01–0.03 when turned
   back, under the floor; the network reads that their residual shrank. Held out (SLSim's own
   configuration, perturb seeds 51 / 61, and our engine's ``sim102``, seed 81), cut to the circle,
   each band U(−30°, 30°): 95.2 / 95.2 / 96.0% of objects spanning ≥ 10° found against 91.4 / 90.5
   / 91.6%, clean, rotated, masked and resampled copies flagged 0.25–0.58% against 0.70–1.05%;
   g, y turned against r, i, z without ``groups``: 90.6–91.8% against 81.6–83.5%; cutouts of noise
   alone 0.2% (the rule: none)
   (``docs/survey-pixels.md`` §3, "A detector fitted to the estimate's numbers").
   In a flagged object every band estimated at least :data:`REPAIR_ANGLE` from 0 is a band to
   repair (``band_flags``): with the earlier grid, bands estimated 1–5° from the median band
   kept a mean error of 1.6–2.5° once rotated back against 2.1–4.3° untouched.
   ``predict --repair-score S`` repairs the objects scoring ``S`` too, unflagged: a trade, not a
   default. At 0.1 (a third of the flag's threshold; 0.05 and 0 gained no more on the tuning
   set, repairing every object cost the clean seed-23 set 0.041), with the 30,000-object
   three-target models with and without ``--aug-resample-bands 30``, flips TTA, TPR at FPR 1e-2
   against the flagged objects alone (paired bootstrap, ``docs/survey-pixels.md`` §3): on sets
   cut to the circle after a common rotation, each band U(−30°, 30°), +0.012 to +0.047 (mean
   +0.022; on the 6,000-object set +0.024 and +0.047, 95% intervals above 0); on their aligned
   rotated copies 0.000 to −0.017 (mean −0.010), on clean ones −0.015 to +0.001 (mean −0.003);
   5–8% of clean objects get a band turned. It pays where a good share of the objects (about a
   third, on rotated data) are misregistered and their corners were cut alike — the blind set's
   form as described; bands with their own filled corners are found without it. At 0 (every
   object's bands estimated ≥ :data:`REPAIR_ANGLE` from 0 turned back) on a 6,000-object set cut
   to the circle with g, y turned against r, i, z by U(−30°, 30°) each (``perturb
   --misregister-groups gy,riz``), TPR 0.476 → 0.819 (0.05: 0.768): there a fifth of the objects
   span 3–10°, below what the flag sees, and their non-lenses score like lenses; clean −0.012,
   aligned rotated −0.014 (``docs/survey-pixels.md`` §3, "The blind set's two groups"). The
   summary of ``predict`` suggests it from :data:`brahmasifier.survey.checks.MANY_FLAGGED` flagged.
   ``experiments/survey_registration_oracle.py`` (``docs/survey-pixels.md`` §3) says where
   ``--register-bands`` still loses against the clean set: repaired with the true angles an
   SLSim-engine set is 0.017 below it in TPR at FPR 1e-2, the missed detections and the angle
   errors cost the rest.
4. The repair (:func:`brahmasifier.survey.repair.register_bands`) rotates each band to repair
   (``band_flags``) back about the centre, all of a batch's in one
   ``torch.nn.functional.grid_sample`` call (bicubic, Keys' kernel: the one the training's
   ``--aug-resample-bands`` turns bands back with; a bilinear round trip smoothed the core by more
   than a 25° misregistration changed a band-alignment score); pixels the rotation uncovers, and any
   touching an invalid pixel (a bilinear pass over the valid mask), become NaN: invalid. It replaced
   scipy's cubic spline, one ``ndimage.rotate`` per band (2026-12-07, sixth session;
   ``docs/survey-pixels.md`` §3 and §4): TPR at FPR 1e-2 on the ten repaired sets measured moved by
   −0.008 to +0.003 (every paired 95% interval spanning 0), re-aligning g and y of every object 3.8×
   faster (385 → 101 µs per object); its grid written out in float32 since (the seventh session:
   :mod:`brahmasifier.survey.repair`, another 1.9×).
5. Known groups (``groups``; ``predict --band-groups gy,riz``): where bands turn together — the
   blind set's g and y one way, r, i, z another — each group's polar image (the sum of its
   bands') is one "band" of 2.: one angle per group against the largest group, which stays at 0
   (two groups turned against each other at once oscillate), one score per other group, flagged
   from :data:`GROUP_MIN_SCORE`. On the 6,000-object SLSim-engine set cut to the circle with g, y
   turned against r, i, z (perturb seed 41; ``docs/survey-pixels.md`` §3, "Bands known to turn
   together") the worst band's angle error fell from a median 2.46° (> 5° for 28%) to 0.75° (8%);
   at 0.06 (its clean, rotated, masked and resampled copies at ≤ 1% false flags: 0.58 / 0.85 /
   0.37 / 0.67% when chosen, masked 0.62% since 1.'s zeroing) 95.4% of objects spanning ≥ 10° are
   flagged against 81.0% per band, and on SLSim's own configuration (sets 505 and 606, perturb
   seeds 51 and 61, held out) 96.5% / 95.2% against 83.5% / 81.6%, at 0.40–0.75% false flags.
   Wrong groups are worse than none: on a set with every band turned on its own, ``gy,riz`` left
   TPR at FPR 1e-2 at 0.344 (0.808 per band). ``predict --band-groups auto`` (the default) reads
   the groups from a sample of its input and keeps each band's own angles for objects turned
   otherwise (:class:`brahmasifier.survey.checks.GroupSample`,
   :func:`brahmasifier.survey.checks.alone_where_apart`).

Speed (``benchmarks/bench_pixel_checks.py``; ``docs/survey-pixels.md`` §4). The arithmetic is
float32 / complex64 from the polar grid on (on the SLSim-engine clean and misregistered sets,
perturb seed 21, the flags were identical to float64 and the angles within 0.001°). Every
round of 2. works on the cross-spectra summed over the radii once, ``C_bc(m) = Σ_r S_b S_c*``
(the correlation of band ``b`` with the others and the others' power are sums over ``C``), the
Fourier transforms along the angle are BLAS products with fixed matrices, and medians are one
sort (numpy's vectorised float sort beats a partition at these lengths); the level is
subtracted after the polar resampling (its weights sum to 1: one pass over 600 samples instead
of 1,681 pixels): the same flags and angles within 0.002° as the direct form
(``tests/survey/test_registration.py`` keeps it) at 0.4 of its time. The polar grid steps 6°
rather than 4°: on the tuning sets detection moved by −0.3 / +0.1 points (92.2% / 88.3%) and the
false flags by at most 0.1 point, on the held-out seeds 22 and 23 89.0% / 89.5% against
88.7% / 89.1%, false flags 0.45–1.05% against 0.65–1.05%; 7.2° and 8° were no worse on the
tuning sets either (6° kept as the margin).

Angles are degrees in ``scipy.ndimage.rotate``'s sense: a band rotated by ``+θ`` from the
others is estimated at ``+θ``, and rotated by ``−θ`` to repair it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brahmasifier.survey.alignment import search_rounds, second_start
from brahmasifier.survey.evidence import N_BANDS, detector, features
from brahmasifier.survey.polar import central_pixels, dft_matrices, fill_shared_holes, level_and_noise, polar_support

__all__ = ["GROUP_MIN_SCORE", "MIN_ANGLE", "MIN_SCORE", "RADII", "REPAIR_ANGLE", "SCORE_FLOOR", "STEP", "BandAngles",
           "estimate_band_angles", "estimate_grouped_and_alone"]

#: Angular step of the polar grid, degrees (the estimate is refined between steps; 6° instead of 4°:
#: the same detection and false flags, a third less work — module docstring, "Speed").
STEP: float = 6.0
#: Radii of the polar grid, pixels from the stamp centre (see the module docstring).
RADII: np.ndarray = np.arange(1.0, 19.5, 2.0)
#: Pixels are put through ``asinh(x / (ASINH_NOISE × noise))`` (see the module docstring).
ASINH_NOISE: float = 10.0
#: Rounds of estimating each band against the others as already aligned (the first round's
#: reference holds the misaligned bands too; two more remove that bias).
ITERATIONS: int = 3
#: Smallest ``|angle|`` (degrees) of a band whose score counts towards the object's.
MIN_ANGLE: float = 5.0
#: Smallest sum of band scores (gain / max(1 − ρ(0), floor) × peak correlation, see the module docstring) that
#: flags an object.
MIN_SCORE: float = 0.31
#: The same threshold for an object whose bands are estimated in known groups (one score per
#: group that is not the reference, module docstring, 5.).
GROUP_MIN_SCORE: float = 0.06
#: Floor of ``1 − ρ(0)`` in the score (see the module docstring).
SCORE_FLOOR: float = 0.2
#: Smallest ``|angle|`` (degrees) of a band of an object to repair that is rotated back.
REPAIR_ANGLE: float = 1.0


class BandAngles:
    """Per object: each band's estimated rotation (degrees, ``(k, bands)``), its correlation gain and peak, and the flag.

    ``score`` is each band's score, ``object_score`` the sum over the bands at least
    ``min_angle`` from 0, ``misregistered`` whether it reaches ``min_score`` (the rule) or, after
    :meth:`flag_by_detector`, whether ``evidence`` (the detector's logit) reaches its threshold; ``band_flags``
    are the bands to rotate back: in a flagged object, those at least ``repair_angle`` from 0
    (:meth:`bands_to_repair` for a looser choice of objects).
    """

    def __init__(self, angles: np.ndarray, gain: np.ndarray, min_angle: float = MIN_ANGLE,
                 min_score: float = MIN_SCORE, peak: np.ndarray | None = None,
                 repair_angle: float = REPAIR_ANGLE) -> None:
        self.angles = angles
        self.gain = gain
        self.peak = peak if peak is not None else np.zeros_like(gain)  # ρ at the estimated angle
        self.score = gain * self.peak / np.maximum(1.0 - (self.peak - gain), SCORE_FLOOR)  # ρ(0) = peak − gain
        self.object_score = np.where(np.abs(angles) >= min_angle, self.score, 0.0).sum(axis=1)
        self.misregistered = self.object_score >= min_score
        self.evidence: np.ndarray | None = None  # the detector's logit, where it flagged (flag_by_detector)
        self.repair_angle = repair_angle
        self.band_flags = self.bands_to_repair()
        self.footprint_flag = np.zeros(len(angles), dtype=bool)  # flagged by the footprints (survey.footprint)

    def flag_by_detector(self, min_angle: float = MIN_ANGLE) -> None:
        """Flag by :func:`brahmasifier.survey.evidence.detector` instead of the rule (module docstring, 3.).

        ``evidence`` becomes its logit, ``misregistered`` its flag; ``object_score`` stays the
        rule's (``predict --repair-score`` reads it).
        """
        found = detector()
        self.evidence = found.logit(features(self, min_angle))
        self.misregistered = self.evidence >= found.threshold
        self.band_flags = self.bands_to_repair()

    def bands_to_repair(self, repair_score: float | None = None) -> np.ndarray:
        """The bands at least ``repair_angle`` from 0 of the flagged objects and, given ``repair_score``, of those scoring it.

        ``predict --repair-score`` (module docstring, 3.): a looser choice of objects to repair.
        """
        chosen = self.misregistered if repair_score is None else self.misregistered | (self.object_score >= repair_score)
        return chosen[:, None] & (np.abs(self.angles) >= self.repair_angle)

    def columns(self, bands: tuple[str, ...]) -> dict[str, Any]:
        """The probabilities-file columns: ``misregistered`` 0/1 and ``band_angle_<b>``."""
        out: dict[str, Any] = {"misregistered": self.misregistered.astype(np.int8)}
        for j, band in enumerate(bands):
            out[f"band_angle_{band}"] = np.round(self.angles[:, j], 2)
        return out


def estimate_band_angles(images: np.ndarray, invalid: np.ndarray | None = None, *, min_angle: float = MIN_ANGLE,
                         min_score: float | None = None,
                         groups: tuple[tuple[int, ...], ...] | None = None) -> BandAngles:
    """Each band's rotation against the others for a batch ``(k, bands, H, W)`` (see the module docstring).

    Args:
        images: raw pixels (NaN allowed: invalid).
        invalid: optional boolean mask of the same shape (e.g. :func:`brahmasifier.pixels.fill_mask`).
        min_angle: smallest ``|angle|`` that flags a band.
        min_score: given, the rule flags: the smallest sum of band scores (gain / max(1 − ρ(0),
            floor) × peak) that flags an object. Not given: five bands without ``groups`` are
            flagged by :mod:`brahmasifier.survey.evidence`'s detector (module docstring, 3.),
            others by the rule at :data:`MIN_SCORE`, or :data:`GROUP_MIN_SCORE` with ``groups``.
        groups: bands known to turn together (:func:`brahmasifier.bands.band_groups`, e.g. g and y
            against r, i, z): each group's summed polar image is one "band", the largest group
            stays at 0 and every band gets its group's angle (module docstring, 5.).
    """
    images = np.asarray(images)
    k, nb = images.shape[:2]
    member = None if groups is None else _membership(groups, nb)  # checked before any work
    if k == 0:
        fallback = MIN_SCORE if groups is None else GROUP_MIN_SCORE
        return BandAngles(np.zeros((0, nb)), np.zeros((0, nb)), min_angle, fallback if min_score is None else min_score)
    return _from_polar(_polar(images, invalid), member, min_angle, min_score)


def estimate_grouped_and_alone(images: np.ndarray, invalid: np.ndarray | None, groups: tuple[tuple[int, ...], ...], *,
                               min_angle: float = MIN_ANGLE) -> tuple[BandAngles, BandAngles]:
    """:func:`estimate_band_angles` with ``groups`` and without, from one polar resampling (half the work of two calls).

    The same numbers as the two calls: only the grid, levels, noise and ``asinh`` are shared.
    """
    images = np.asarray(images)
    k, nb = images.shape[:2]
    member = _membership(groups, nb)
    if k == 0:
        return (BandAngles(np.zeros((0, nb)), np.zeros((0, nb)), min_angle, GROUP_MIN_SCORE),
                BandAngles(np.zeros((0, nb)), np.zeros((0, nb)), min_angle, MIN_SCORE))
    polar = _polar(images, invalid)
    return _from_polar(polar, member, min_angle, None), _from_polar(polar, None, min_angle, None)


def _polar(images: np.ndarray, invalid: np.ndarray | None) -> np.ndarray:
    """Each band on the polar grid, in units of its noise through ``asinh``, ring means removed (module docstring, 1.)."""
    k, nb, h, w = images.shape
    support, matrix = polar_support(h, STEP, tuple(RADII))
    flat, bad = _on_grid(images, invalid, support)
    # objects with a hole every band shares near the centre: their shared holes filled first
    rows = np.flatnonzero(np.any(np.all(bad, axis=1) & central_pixels(h, support), axis=1))
    if rows.size:  # those objects alone: filled and read again
        inside = np.zeros(h * w, dtype=bool)
        inside[support] = True
        lacking = ~np.isfinite(images[rows]) if invalid is None else invalid[rows] | ~np.isfinite(images[rows])
        flat[rows], bad[rows] = _on_grid(*fill_shared_holes(images[rows], lacking, inside.reshape(h, w)), support)
    med, sigma = level_and_noise(flat, bad)
    med = med.astype(np.float32)
    holed = bad.any()
    if holed:  # an invalid pixel: its band's level (so the resampling stays finite; zeroed below)
        flat = np.where(bad, med, flat)
    n_phi = round(360.0 / STEP)
    # Resample, then subtract the level: the bilinear weights of each polar sample sum to 1, so this is
    # (flat − level) resampled without a pass over every pixel.
    polar = np.asarray(flat.reshape(k * nb, -1) @ matrix).reshape(k, nb, -1)
    polar -= med
    scale = (ASINH_NOISE * sigma[..., None]).astype(np.float32)
    polar = np.arcsinh(polar.reshape(k, nb, len(RADII), n_phi) / scale)
    if holed:  # a band's samples touching its invalid pixels: 0 after each ring's mean over its others
        rows = bad.reshape(k * nb, -1)
        holes = np.flatnonzero(rows.any(axis=1))  # most bands have none inside the grid: only theirs resampled
        valid = np.ones((k * nb, polar[0, 0].size), dtype=bool)
        valid[holes] = np.asarray(rows[holes].astype(np.float32) @ matrix) == 0
        valid = valid.reshape(k, nb, len(RADII), n_phi)
        count = np.maximum(valid.sum(axis=3, keepdims=True), 1)
        ring = ((polar * valid).sum(axis=3, keepdims=True, dtype=np.float64) / count).astype(np.float32)
        return np.where(valid, polar - ring, np.float32(0.0))
    # Sums in float64: numpy's float32 sums along a contiguous axis round by the array's memory
    # alignment, and an object's numbers must not depend on its batch. Float32 after (spectra below).
    return polar - polar.mean(axis=3, keepdims=True, dtype=np.float64).astype(np.float32)


def _on_grid(images: np.ndarray, invalid: np.ndarray | None, support: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels the polar grid reads (float32) and which of them are invalid, ``(k, bands, len(support))`` each."""
    k, nb = images.shape[:2]
    flat = np.take(images.reshape(k, nb, -1), support, axis=2).astype(np.float32, copy=False)  # take: 3x indexing's speed
    bad = ~np.isfinite(flat)
    if invalid is not None:
        bad |= np.take(invalid.reshape(k, nb, -1), support, axis=2)
    return flat, bad


def _from_polar(polar: np.ndarray, member: np.ndarray | None, min_angle: float, min_score: float | None) -> BandAngles:
    """Steps 2. and 3. of the module docstring on :func:`_polar`'s output (``member``: the groups' 0/1 matrix)."""
    k, nb, _, n_phi = polar.shape
    learned = min_score is None and member is None and nb == N_BANDS  # the detector flags (module docstring, 3.)
    if min_score is None:
        min_score = MIN_SCORE if member is None else GROUP_MIN_SCORE
    if member is not None:  # a group's polar image: the sum of its bands' (each already in units of its noise)
        polar = np.einsum("gb,kbrp->kgrp", member, polar)
    forward, _ = dft_matrices(n_phi)
    # (k, nb, radii, n_phi // 2 + 1): rfft along the angle, one product per object (numpy runs a stacked
    # product as one small product per leading index: per band and radius took 2x the time; one 2-D
    # product over the whole batch 0.6x, but its rounding then depends on the batch's size)
    spectra = (polar.reshape(k, -1, n_phi) @ forward).view(np.complex64).reshape(k, polar.shape[1], -1, forward.shape[1] // 2)
    power = (polar**2).sum(axis=(2, 3), dtype=np.float64).astype(np.float32)  # float64: the _polar ring means
    # Cross-spectra summed over the radii, once: cross[k, m, b, c] = Σ_r S_b(m) conj(S_c(m)). Every
    # quantity of a round is a sum over these, so the rounds never touch the radii again.
    by_wave = np.ascontiguousarray(spectra.transpose(0, 3, 1, 2))  # (k, m, nb, radii)
    cross = by_wave @ np.conj(by_wave).transpose(0, 1, 3, 2)  # (k, m, nb, nb)
    own = np.einsum("kmbb->kmb", cross).real  # Σ_r |S_b|²
    ng = polar.shape[1]  # bands, or groups
    group_of = np.arange(nb) if member is None else np.argmax(member, axis=0)
    reference = None  # with groups: the largest (the first of equals) defines 0
    if member is not None:
        reference = np.zeros(ng, dtype=bool)
        reference[int(np.argmax(member.sum(axis=1)))] = True
    # shift: in samples, band(φ + shift) lines up with the others
    found = search_rounds(cross, own, power, np.zeros((k, ng), dtype=np.float32), ITERATIONS, reference)
    if reference is None and ng > 2:  # a second start, each band first aligned to the brightest (survey.alignment)
        turned = np.nonzero(np.abs(found[0]).max(axis=1) * STEP >= min_angle)[0]
        found = second_start(cross, own, power, found, ITERATIONS, turned)
    shift, rho, mid = found
    # A band rotated by +θ (scipy's sense) has its structure at φ - θ. float64, as before: the
    # probabilities file's angle columns keep one dtype in every part.
    relative = (-shift * STEP).astype(np.float64)[:, group_of]
    gain = (mid - rho[..., 0])[:, group_of]
    if member is not None and reference is not None:  # each group other than the reference counts once in the score
        counted = np.zeros(nb, dtype=bool)
        counted[[int(np.argmax(row)) for row, ref in zip(member, reference, strict=True) if not ref]] = True
        gain = np.where(counted, gain, 0.0)
    out = BandAngles(relative, gain, min_angle, min_score, mid[:, group_of])
    if learned:
        out.flag_by_detector(min_angle)
    return out


def _membership(groups: tuple[tuple[int, ...], ...], nb: int) -> np.ndarray:
    """``(groups, bands)`` 0/1: which bands each group sums; every band exactly once, or ``ValueError``."""
    if sorted(b for group in groups for b in group) != list(range(nb)):
        raise ValueError(f"band groups {groups}: every one of the {nb} bands exactly once")
    member = np.zeros((len(groups), nb), dtype=np.float32)
    for g, bands in enumerate(groups):
        member[g, list(bands)] = 1.0
    return member
