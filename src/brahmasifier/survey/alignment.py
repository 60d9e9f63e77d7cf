"""The search of the band-registration estimate: each band's shift along the angle, from the bands' cross-spectra.

Input: per object the cross-spectra of the bands' polar images summed over the radii,
``cross[k, m, b, c] = Σ_r S_b(m) S_c(m)*`` (``m`` the angular wave number), their own power and
each band's total power (:func:`brahmasifier.survey.registration._polar`). A rotation is a
circular shift along the angle, so every correlation below is a sum over these spectra.

- :func:`search_rounds`: rounds of estimating each band (or group) against the sum of the others
  as aligned so far, all at once (:mod:`brahmasifier.survey.registration`, step 2). A fixed
  reference (groups) stays at 0; otherwise the bands are re-centred on their median each round.
- :func:`pair_start`: each band aligned to one anchor band alone — a second starting point.
- :func:`coherence`: the power of the aligned bands' sum over their summed power (1 for
  unrelated bands, up to the number of bands for identical ones): how well a configuration
  aligns the object as a whole.

**Why two starts** (2026-12-07, sixth session; ``docs/survey-pixels.md`` §3, "Where the per-band
form still loses"): started at 0 the rounds align every band against a reference that still holds
the others' turns. On a faint galaxy with bright compact neighbours whose bands turned in two
pairs (r and i at +25°, g and z at −25°) r and i lock onto each other 46–48° from the truth,
though the truth is a fixed point of the rounds with twice the coherence; started from every band
aligned to the brightest band alone, the rounds reach it (``tests/survey/test_registration.py``
builds such objects: the first start alone misses in most noise draws). The second start runs
only where the first result has a band at least the flag's smallest angle from 0 (every object on
which it won did; 27% of clean SLSim-engine objects) and wins by :func:`second_wins`. On the
per-band circle-cut sets, ``rb30s1``: TPR at FPR 1e-2 repaired 0.808 → 0.820 (SLSim engine,
``t404``; paired 95% interval +0.001 to +0.067; with the second training seed ``rb30s2`` 0.799 →
0.825) and 0.659 → 0.678 (our engine, ``sim102``), SLSim's
own configuration 0.741 → 0.741 and 0.753 → 0.756; clean logits unchanged, rotated and two-group
sets' TPR the same, detection the same, false flags 0.25–0.62% (0.25–0.58%). Five starts (one per anchor band) gave
no more. Cost: ``pixel_checks`` 67 → 73 µs per object on clean cutouts (medians of three runs).
"""

from __future__ import annotations

import numpy as np

from brahmasifier.survey.polar import dft_matrices, median, rfft_weights

__all__ = ["SECOND_FLOOR", "SECOND_GAIN", "coherence", "pair_start", "peak", "search_rounds", "second_start",
           "second_wins"]

#: The second start's result replaces the first's when its :func:`coherence` is larger by this much ...
SECOND_GAIN: float = 0.1
#: ... and at least this (cutouts of noise alone reach ~1.1 at 0 and up to ~1.9 aligned pairwise to a band).
SECOND_FLOOR: float = 2.0


def peak(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best shift along the last axis (samples, refined by a parabola, in ``[−n/2, n/2)``) and the value there."""
    n_phi = rho.shape[-1]
    best = rho.argmax(axis=-1)
    left = np.take_along_axis(rho, ((best - 1) % n_phi)[..., None], axis=-1)[..., 0]
    mid = np.take_along_axis(rho, best[..., None], axis=-1)[..., 0]
    right = np.take_along_axis(rho, ((best + 1) % n_phi)[..., None], axis=-1)[..., 0]
    denom = left - 2 * mid + right
    refine = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    return (best + np.clip(refine, -0.5, 0.5) + n_phi / 2) % n_phi - n_phi / 2, mid


def _centred(found: np.ndarray, n_phi: int) -> np.ndarray:
    """Shifts re-centred on each object's median band, wrapped into ``[−n/2, n/2)`` (float32)."""
    return ((found - median(found) + n_phi / 2) % n_phi - n_phi / 2).astype(np.float32)


def _phase(shift: np.ndarray, n_phi: int) -> np.ndarray:
    """``exp(i 2π m shift / n)`` for every wave ``m`` ``(k, m, bands)``: cos + i sin beat complex exp 4x."""
    waves = np.arange(n_phi // 2 + 1, dtype=np.float32)
    turn = np.float32(2 * np.pi / n_phi) * waves[None, :, None] * shift[:, None, :]
    phase = np.empty(turn.shape, dtype=np.complex64)
    phase.real, phase.imag = np.cos(turn), np.sin(turn)
    return phase


def search_rounds(cross: np.ndarray, own: np.ndarray, power: np.ndarray, shift: np.ndarray, rounds: int,
                  reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rounds`` rounds from ``shift`` ``(k, bands)``: the final shift, the last round's correlations ``ρ_b(Δ)`` and peaks.

    ``reference`` (bool per band): those stay at 0; none given, the bands are re-centred on
    their median after each round (the bands that agree define 0).
    """
    n_phi = 2 * (cross.shape[1] - 1)
    _, inverse = dft_matrices(n_phi)
    weights = rfft_weights(n_phi).astype(np.float32)
    shift = shift.astype(np.float32, copy=True)
    rho = np.zeros((*shift.shape, n_phi), dtype=np.float32)
    mid = np.zeros(shift.shape, dtype=np.float32)
    for _ in range(rounds):
        phase = _phase(shift, n_phi)
        with_all = (cross @ np.conj(phase)[..., None])[..., 0]  # Σ_c C_bc conj(v_c): band against every band
        against = with_all - own * np.conj(phase)  # ... against every *other* band, aligned as estimated so far
        corr = np.ascontiguousarray(against.transpose(0, 2, 1)).view(np.float32) @ inverse  # c[s] = Σ band(φ + s) ref(φ)
        rows = (phase * with_all).real  # v_b Σ_c C_bc conj(v_c); the reference's power is a quadratic form
        ref_power = ((rows.sum(axis=2, keepdims=True) - 2.0 * rows + own) * weights[None, :, None]).sum(axis=1) / n_phi
        rho = corr / (np.sqrt(np.maximum(power * ref_power, 0.0))[..., None] + 1e-12)
        found, mid = peak(rho)
        if reference is None:
            shift = _centred(found, n_phi)
        else:  # the reference stays put (two groups both turned at once against each other oscillate)
            shift = np.where(reference, 0.0, (found + n_phi / 2) % n_phi - n_phi / 2).astype(np.float32)
    return shift, rho, mid


def pair_start(cross: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Each band's best shift against the band ``anchor[k]`` alone (the anchor at 0), re-centred on the median."""
    n_phi = 2 * (cross.shape[1] - 1)
    _, inverse = dft_matrices(n_phi)
    k = cross.shape[0]
    with_anchor = cross[np.arange(k), :, :, anchor]  # (k, m, bands): Σ_r S_b conj(S_anchor)
    corr = np.ascontiguousarray(with_anchor.transpose(0, 2, 1)).view(np.float32) @ inverse
    found, _ = peak(corr)
    found[np.arange(k), anchor] = 0.0
    return _centred(found, n_phi)


def second_start(cross: np.ndarray, own: np.ndarray, power: np.ndarray, found: tuple[np.ndarray, np.ndarray, np.ndarray],
                 rounds: int, todo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``found`` (:func:`search_rounds`' shift, ρ and peaks from 0, updated in place) with the second start's where it wins.

    Only the objects ``todo`` (indices) are searched again: the first start's result with a band
    turned by at least the flag's smallest angle — every object on which the second start won did.
    """
    shift, rho, mid = found
    if todo.size == 0:
        return shift, rho, mid
    cross, own, power = cross[todo], own[todo], power[todo]
    shift_2, rho_2, mid_2 = search_rounds(cross, own, power, pair_start(cross, power.argmax(axis=1)), rounds)
    won = second_wins(coherence(cross, power, shift[todo]), coherence(cross, power, shift_2))
    shift[todo[won]], rho[todo[won]], mid[todo[won]] = shift_2[won], rho_2[won], mid_2[won]
    return shift, rho, mid


def second_wins(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Whether the second start's configuration replaces the first's, from their :func:`coherence` (module docstring)."""
    return (second > first + SECOND_GAIN) & (second >= SECOND_FLOOR)


def coherence(cross: np.ndarray, power: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per object: the power of the bands' sum aligned by ``shift`` over the sum of their powers."""
    n_phi = 2 * (cross.shape[1] - 1)
    phase = _phase(shift, n_phi)
    aligned = np.einsum("kmb,kmbc,kmc->km", phase, cross, np.conj(phase)).real
    return (aligned * rfft_weights(n_phi)[None]).sum(axis=1) / n_phi / np.maximum(power.sum(axis=1), 1e-12)
