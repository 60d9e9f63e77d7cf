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
   at 41 × 41: :func:`_polar_support`) take part, so a rotated footprint's filled corners never
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
   lenses scored high): not used.
2. A rotation about the centre is a circular shift along the angle, so the correlation of
   band ``b`` with the sum of the *other* bands at every shift is one FFT along the angle,
   summed over the radii, normalised into a correlation coefficient ``ρ_b(Δ)``. The band's
   estimated rotation is the best shift (refined by a parabola through the peak), relative to
   the median of the five bands' estimates (so the bands that agree define 0).
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
4. :func:`register_bands` rotates each band to repair (``band_flags``) back about the centre (cubic spline: a
   bilinear round trip smoothed the core by more than a 25° misregistration changed a
   band-alignment score, ``tests/survey/test_predict_pixels.py``); pixels the rotation
   uncovers, and any touching an invalid pixel, become NaN: invalid.

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

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["MIN_ANGLE", "MIN_SCORE", "RADII", "REPAIR_ANGLE", "SCORE_FLOOR", "STEP", "BandAngles", "estimate_band_angles",
           "register_bands"]

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
#: Floor of ``1 − ρ(0)`` in the score (see the module docstring).
SCORE_FLOOR: float = 0.2
#: Smallest ``|angle|`` (degrees) of a band of an object to repair that is rotated back.
REPAIR_ANGLE: float = 1.0


class BandAngles:
    """Per object: each band's estimated rotation (degrees, ``(k, bands)``), its correlation gain and peak, and the flag.

    ``score`` is each band's score, ``object_score`` the sum over the bands at least
    ``min_angle`` from 0, ``misregistered`` whether it reaches ``min_score``; ``band_flags``
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
        self.repair_angle = repair_angle
        self.band_flags = self.bands_to_repair()
        self.footprint_flag = np.zeros(len(angles), dtype=bool)  # flagged by the footprints (survey.footprint)

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


def _rfft_weights(n: int) -> np.ndarray:
    """Parseval weights of a real FFT of length ``n`` (bins other than 0 and Nyquist count twice)."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


@lru_cache(maxsize=4)
def _polar_matrix(size: int, step: float, radii: tuple[float, ...]) -> Any:
    """Sparse ``(size², len(radii) · n_angles)`` bilinear resampling onto the polar grid (images @ it)."""
    from scipy import sparse

    centre = (size - 1) / 2.0
    phi = np.deg2rad(np.arange(0.0, 360.0, step))
    rr, pp = np.meshgrid(np.asarray(radii), phi, indexing="ij")
    y = centre + rr * np.sin(pp)
    x = centre + rr * np.cos(pp)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    rows = np.arange(rr.size)
    data, ii, jj = [], [], []
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        data.append(w.ravel())
        ii.append(rows)
        jj.append(((y0 + dy) * size + (x0 + dx)).ravel())
    weights = np.concatenate(data).astype(np.float32)  # float32 images stay float32 (half the memory traffic)
    matrix = sparse.csr_matrix((weights, (np.concatenate(ii), np.concatenate(jj))), shape=(rr.size, size * size))
    return matrix.T  # CSC: ``images @ matrix`` needs no transposed copy of the images (half the time)


@lru_cache(maxsize=4)
def _polar_support(size: int, step: float, radii: tuple[float, ...]) -> tuple[np.ndarray, Any]:
    """The flat indices of the pixels the polar grid reads (r < 20.5 px at 41 × 41) and its matrix on them alone.

    A rotated footprint's filled corners lie outside: the level, the noise and the resampling
    never see them (module docstring, "Speed").
    """
    matrix = _polar_matrix(size, step, radii)
    support = np.flatnonzero(np.diff(matrix.tocsr().indptr) > 0)
    return support, matrix.tocsr()[support].tocsc()


def _lower_median(sample: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Lower median of the valid values along the last axis (0 where none): one sort, invalid values last."""
    ordered = np.sort(np.where(valid, sample, np.inf), axis=-1)
    k = np.maximum((valid.sum(axis=-1, keepdims=True) + 1) // 2 - 1, 0)
    out = np.take_along_axis(ordered, k, axis=-1)
    return np.where(np.isfinite(out), out, 0.0)


def _median(sample: np.ndarray) -> np.ndarray:
    """``np.median(sample, axis=-1, keepdims=True)`` by one sort (exactly).

    numpy's vectorised float sort beats ``np.partition`` on rows of a few hundred values (14 vs
    17 µs per object here) and ``np.median`` by 2x.
    """
    n = sample.shape[-1]
    lo, hi = (n - 1) // 2, n // 2
    part = np.sort(sample, axis=-1)
    return 0.5 * (part[..., lo:lo + 1] + part[..., hi:hi + 1])


def _median_and_mad(sample: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD along the last axis: exact over every value, or the lower ones over the ``valid`` values."""
    if valid is None:
        med = _median(sample)
        return med, _median(np.abs(sample - med))
    med = _lower_median(sample, valid)
    return med, _lower_median(np.abs(np.where(valid, sample, 0.0) - med), valid)


def _level_and_noise(flat: np.ndarray, bad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per band: median and ``1.4826 × MAD`` of every third pixel (a third of the work; ample for a scale).

    Bands with an invalid sampled pixel take the valid-only sort; the others the exact median of all.
    """
    sample = flat[..., ::3]
    holed = np.zeros(sample.shape[:-1], dtype=bool) if bad is None else bad[..., ::3].any(axis=-1)
    if not holed.any():
        med, mad = _median_and_mad(sample)
    else:
        med, mad = np.empty((*sample.shape[:-1], 1), sample.dtype), np.empty((*sample.shape[:-1], 1), sample.dtype)
        med[holed], mad[holed] = _median_and_mad(sample[holed], ~bad[..., ::3][holed])  # type: ignore[index]
        med[~holed], mad[~holed] = _median_and_mad(sample[~holed])
    return med, 1.4826 * mad + 1e-12 * (1.0 + np.abs(med))


@lru_cache(maxsize=4)
def _dft_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real-input DFT of length ``n`` as one real ``(n, 2 (n//2 + 1))`` matrix, and the inverse ``(2 (n//2 + 1), n)`` one.

    ``(x @ F).view(np.complex64)`` is ``np.fft.rfft(x)`` (real and imaginary parts interleaved
    in the columns, so a float32 product is the complex spectrum without a complex matmul);
    ``X.view(np.float32) @ G`` is ``np.fft.irfft(X, n)`` for a Hermitian spectrum ``X`` (complex64). At n = 90 on batches
    of 256 objects one BLAS call beats pocketfft on 50 short rows per object (module
    docstring, "Speed").
    """
    m = np.arange(n // 2 + 1)
    t = np.arange(n)
    spectrum = np.exp(-2j * np.pi * np.outer(t, m) / n)
    forward = np.empty((n, 2 * len(m)), dtype=np.float32)
    forward[:, 0::2], forward[:, 1::2] = spectrum.real, spectrum.imag
    inverse_c = np.exp(2j * np.pi * np.outer(m, t) / n) * (_rfft_weights(n)[:, None] / n)
    inverse = np.empty((2 * len(m), n), dtype=np.float32)  # Re(X G) = Re X · Re G − Im X · Im G, interleaved rows
    inverse[0::2], inverse[1::2] = inverse_c.real, -inverse_c.imag
    return forward, inverse


def estimate_band_angles(images: np.ndarray, invalid: np.ndarray | None = None, *, min_angle: float = MIN_ANGLE,
                         min_score: float = MIN_SCORE) -> BandAngles:
    """Each band's rotation against the others for a batch ``(k, bands, H, W)`` (see the module docstring).

    Args:
        images: raw pixels (NaN allowed: invalid).
        invalid: optional boolean mask of the same shape (e.g. :func:`brahmasifier.pixels.fill_mask`).
        min_angle: smallest ``|angle|`` that flags a band.
        min_score: smallest sum of band scores (gain / max(1 − ρ(0), floor) × peak) that flags an object.
    """
    images = np.asarray(images)
    k, nb, h, w = images.shape
    if k == 0:
        return BandAngles(np.zeros((0, nb)), np.zeros((0, nb)), min_angle, min_score)
    support, matrix = _polar_support(h, STEP, tuple(RADII))
    flat = np.take(images.reshape(k, nb, h * w), support, axis=2).astype(np.float32, copy=False)  # take: 3x indexing's speed
    bad = ~np.isfinite(flat)
    if invalid is not None:
        bad |= np.take(invalid.reshape(k, nb, h * w), support, axis=2)
    med, sigma = _level_and_noise(flat, bad)
    med = med.astype(np.float32)
    invalid_any = bad.any(axis=1, keepdims=True)
    if invalid_any.any():  # invalid in any band: the level, in every band
        flat = np.where(invalid_any, med, flat)
    n_phi = round(360.0 / STEP)
    # Resample, then subtract the level: the bilinear weights of each polar sample sum to 1, so this is
    # (flat − level) resampled without a pass over every pixel.
    polar = np.asarray(flat.reshape(k * nb, -1) @ matrix).reshape(k, nb, -1)
    polar -= med
    scale = (ASINH_NOISE * sigma[..., None]).astype(np.float32)
    polar = np.arcsinh(polar.reshape(k, nb, len(RADII), n_phi) / scale)
    polar -= polar.mean(axis=3, keepdims=True)
    forward, inverse = _dft_matrices(n_phi)
    spectra = (polar @ forward).view(np.complex64)  # (k, nb, radii, n_phi // 2 + 1): rfft along the angle
    power = (polar**2).sum(axis=(2, 3))
    # Cross-spectra summed over the radii, once: cross[k, m, b, c] = Σ_r S_b(m) conj(S_c(m)). Every
    # quantity of a round is a sum over these, so the rounds never touch the radii again.
    by_wave = np.ascontiguousarray(spectra.transpose(0, 3, 1, 2))  # (k, m, nb, radii)
    cross = by_wave @ np.conj(by_wave).transpose(0, 1, 3, 2)  # (k, m, nb, nb)
    own = np.einsum("kmbb->kmb", cross).real  # Σ_r |S_b|²
    weights = _rfft_weights(n_phi).astype(np.float32)
    waves = np.arange(n_phi // 2 + 1, dtype=np.float32)
    shift = np.zeros((k, nb), dtype=np.float32)  # in samples: band(φ + shift) lines up with the others
    for _ in range(ITERATIONS):
        turn = np.float32(2 * np.pi / n_phi) * waves[None, :, None] * shift[:, None, :]
        phase = np.empty(turn.shape, dtype=np.complex64)  # exp(i turn), (k, m, nb): cos + i sin beat complex exp 4x
        phase.real, phase.imag = np.cos(turn), np.sin(turn)
        with_all = (cross @ np.conj(phase)[..., None])[..., 0]  # Σ_c C_bc conj(v_c): band against every band
        against = with_all - own * np.conj(phase)  # ... against every *other* band, aligned as estimated so far
        corr = np.ascontiguousarray(against.transpose(0, 2, 1)).view(np.float32) @ inverse  # c[s] = Σ band(φ + s) ref(φ)
        rows = (phase * with_all).real  # v_b Σ_c C_bc conj(v_c); the reference's power is a quadratic form
        ref_power = ((rows.sum(axis=2, keepdims=True) - 2.0 * rows + own) * weights[None, :, None]).sum(axis=1) / n_phi
        rho = corr / (np.sqrt(np.maximum(power * ref_power, 0.0))[..., None] + 1e-12)
        best = rho.argmax(axis=2)
        left = np.take_along_axis(rho, ((best - 1) % n_phi)[..., None], axis=2)[..., 0]
        mid = np.take_along_axis(rho, best[..., None], axis=2)[..., 0]
        right = np.take_along_axis(rho, ((best + 1) % n_phi)[..., None], axis=2)[..., 0]
        denom = left - 2 * mid + right
        refine = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
        found = (best + np.clip(refine, -0.5, 0.5) + n_phi / 2) % n_phi - n_phi / 2
        shift = ((found - _median(found) + n_phi / 2) % n_phi - n_phi / 2).astype(np.float32)
    # A band rotated by +θ (scipy's sense) has its structure at φ - θ. float64, as before: the
    # probabilities file's angle columns keep one dtype in every part.
    relative = (-shift * STEP).astype(np.float64)
    gain = mid - rho[..., 0]
    return BandAngles(relative, gain, min_angle, min_score, mid)


def register_bands(images: np.ndarray, angles: BandAngles) -> np.ndarray:
    """A copy of ``images`` with every band of ``angles.band_flags`` rotated back by its estimated angle (module docstring)."""
    from scipy import ndimage

    out = np.array(images, dtype=np.float32, copy=True)
    for obj, band in zip(*np.nonzero(angles.band_flags), strict=True):
        plane = out[obj, band].astype(np.float64)
        bad = ~np.isfinite(plane)
        level = float(np.median(plane[~bad])) if (~bad).any() else 0.0
        angle = -float(angles.angles[obj, band])
        turned = ndimage.rotate(np.where(bad, level, plane), angle, reshape=False, order=3, mode="constant", cval=level)
        covered = ndimage.rotate((~bad).astype(np.float64), angle, reshape=False, order=1, mode="constant", cval=0.0)
        turned[covered < 0.999] = np.nan  # uncovered, or touching an invalid pixel
        out[obj, band] = turned
    return out
