"""The per-batch pixel checks ``predict`` runs before the model: masked pixels, band registration, the optional repair.

:func:`pixel_checks` takes a batch as the readers return it (bad pixels already 0, counted
in ``n_nan``) and returns the images the model scores plus the per-object columns of the
probabilities file:

- ``masked_fraction``: invalid pixels / all pixels. The readers count them before cleaning
  (``n_masked``: bad or constant-filled from the border, :func:`brahmasifier.pixels.invalid_mask`);
  where a store predates that count, the filled pixels found now plus ``n_nan``.
- ``misregistered`` (0/1) and ``band_angle_<b>`` (degrees): :mod:`brahmasifier.survey.registration`,
  on the images with the filled pixels and the bad pixels the reader set to 0
  (:func:`brahmasifier.pixels.zeroed_bad_mask`) invalid, and the bands' rotated footprints
  (:mod:`brahmasifier.survey.footprint`: bands whose filled corners say different angles are
  misregistered, and those angles are the ones repaired).
- the images: filled pixels and the bad pixels the reader set to 0 set to NaN (as
  :func:`brahmasifier.pixels.nan_where_filled` does for the filled ones: a ``valid_only`` model
  ignores them, an older model reads them as 0, as before); with ``register=True`` each flagged
  band is rotated back first (pixels it uncovers are NaN too). Until this change a NaN disc
  inside the stamp reached the model as a disc of zero flux: harmless for ``asinh_mad`` (0 is
  about the sky level), not for its colour residuals (a zero in one band over the deflector reads
  as a strong colour feature): on an SLSim-engine set with random masks, ±2 px offsets (perturb
  seed 21) the 30,000-object colour model went from TPR 0.437 to 0.634 at FPR 1e-2 (AUC 0.928 to
  0.936; without the residuals 0.508 either way; ``docs/survey-pixels.md`` §2).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from brahmasifier import bands as _bands
from brahmasifier.bands import BANDS
from brahmasifier.pixels import fill_mask, zeroed_bad_mask
from brahmasifier.survey.footprint import footprint_angles, with_footprint
from brahmasifier.survey.registration import estimate_band_angles, register_bands

__all__ = ["AGREE_DEGREES", "AGREE_MIN_OBJECTS", "AGREE_SHARE", "MANY_FLAGGED", "PIXEL_COLUMNS", "Registration",
           "band_agreement", "misregistered_line", "one_blas_thread", "pixel_checks", "suggest_band_groups"]

#: Share of scored objects flagged misregistered from which ``predict``'s summary suggests ``--repair-score 0``:
#: aligned cutouts are flagged at under 1% (0.25–0.58% on the clean, rotated, masked and resampled copies of
#: three held-out sets since the detector, 0.55–1.08% with the rule before it; ``docs/survey-pixels.md`` §3),
#: so 5% says the data holds misregistered bands — and then, in the blind set's form, also many turned by
#: less than the flag sees (same section).
MANY_FLAGGED: float = 0.05

#: Two bands of the flagged objects turn together when their estimated angles agree within
#: :data:`AGREE_DEGREES` in at least :data:`AGREE_SHARE` of them (:func:`suggest_band_groups`). Measured on
#: the 6,000-object SLSim-engine set cut to the circle (``docs/survey-pixels.md`` §3, "Bands known to
#: turn together"): g, y turned against r, i, z: 0.66 (g–y) and 0.82–0.91 (r, i, z) within a group, 0.00
#: across; every band on its own angle: 0.08–0.09 for every pair. With the detector's flags (more objects,
#: smaller turns): 0.66 / 0.82–0.90 / 0.01 and 0.09–0.10 there, and 0.67–0.70 / 0.83–0.93 / ≤ 0.01 on the
#: held-out two-group sets (SLSim's own configuration, seeds 51 and 61; our engine's ``sim102``, seed 81),
#: 0.09 for every pair of ``sim102``'s per-band set; the groups are named on each two-group set, on no other.
AGREE_DEGREES: float = 3.0
AGREE_SHARE: float = 0.4
#: Fewest flagged objects :func:`suggest_band_groups` reads groups from.
AGREE_MIN_OBJECTS: int = 50

#: The per-object columns :func:`pixel_checks` adds to the probabilities file.
PIXEL_COLUMNS: tuple[str, ...] = ("masked_fraction", "misregistered", "bands_registered",
                                  *(f"band_angle_{b}" for b in BANDS))


def misregistered_line(n_misregistered: int, n_scored: int, *, register_bands: bool, n_registered: int,
                       repair_score: float | None, band_groups: str = "", suggested_groups: str = "") -> str:
    """The summary line of ``predict`` on the registration check, with the advice the counts call for.

    When at least :data:`MANY_FLAGGED` of the objects are flagged and not every object was
    repaired, it suggests ``--register-bands --repair-score 0``: on cutouts cut to the circle with
    g, y turned against r, i, z (the blind set's form) that took TPR at FPR 1e-2 from 0.739 (only
    the flagged objects repaired, the default; 0.476 with the rule before the detector) to 0.819,
    for −0.012 on the clean copy against the default (``docs/survey-pixels.md`` §3). Where the
    flagged objects' bands turn in groups (``suggested_groups``, :func:`suggest_band_groups`) and
    none were given, it suggests
    ``--band-groups`` instead: on that form 0.855, clean +0.005.
    """
    s = "s" if n_misregistered != 1 else ""
    line = f"{n_misregistered} object{s} flagged misregistered (bands rotated against each other; column misregistered)"
    if register_bands:
        line += (f"; {n_registered} object{'s' if n_registered != 1 else ''} had bands re-aligned before scoring "
                 "(--register-bands; column bands_registered)")
    elif n_misregistered:
        line += "; predict --register-bands (its default) re-aligns them"
    many = n_scored and n_misregistered >= MANY_FLAGGED * n_scored
    if suggested_groups and not band_groups:
        line += (f"\n  {n_misregistered / max(n_scored, 1):.0%} flagged, and their bands turn in groups {suggested_groups} "
                 f"(angles within {AGREE_DEGREES:g} degrees in {AGREE_SHARE:.0%} or more of them): predict --band-groups "
                 f"{suggested_groups} estimates one angle per group and re-aligns every object by it "
                 "(docs/survey-pixels.md, section 3)")
    elif many and not (register_bands and repair_score == 0):
        line += (f"\n  {n_misregistered / n_scored:.0%} flagged, where aligned cutouts have under 1%: data like this usually "
                 "also holds bands turned by less than the flag sees; predict --register-bands --repair-score 0 re-aligns "
                 "every object by its estimated angles (docs/survey-pixels.md, section 3)")
    return line


def band_agreement(angles: np.ndarray) -> np.ndarray:
    """``(bands, bands)`` counts of the objects whose two bands' angles (``(n, bands)``) agree within :data:`AGREE_DEGREES`.

    Counts add over batches and parts: what :func:`suggest_band_groups` reads, in bounded memory.
    """
    angles = np.asarray(angles, dtype=np.float64)
    return (np.abs(angles[:, :, None] - angles[:, None, :]) < AGREE_DEGREES).sum(axis=0).astype(np.int64)


def suggest_band_groups(agreement: np.ndarray, n_flagged: int, n_scored: int, bands: tuple[str, ...] = BANDS) -> str:
    """The groups in which the bands of flagged objects turn (``"gy,riz"``), or ``""``.

    ``agreement``: :func:`band_agreement` of the ``n_flagged`` flagged objects of ``n_scored``.
    Bands are linked when they agree in at least :data:`AGREE_SHARE` of the flagged objects; the
    groups are the linked sets (connected components). ``""`` unless at least
    :data:`AGREE_MIN_OBJECTS` and :data:`MANY_FLAGGED` of the objects are flagged (the ~1% of
    aligned cutouts flagged are colourful lenses, whose red bands agree: on the clean 6,000-object
    set they read "g,r,i,zy"), or when every band is its own group or all are one.
    """
    if n_flagged < max(AGREE_MIN_OBJECTS, MANY_FLAGGED * n_scored):
        return ""
    nb = len(agreement)
    linked = np.asarray(agreement) >= AGREE_SHARE * n_flagged
    group = list(range(nb))
    for _ in range(nb):  # label propagation: each band takes the smallest label it is linked to
        group = [min(group[c] for c in range(nb) if linked[b, c]) for b in range(nb)]
    labels = sorted(set(group))
    if len(labels) in (1, nb):
        return ""
    return ",".join("".join(bands[b] for b in range(nb) if group[b] == label) for label in labels)


@dataclass(frozen=True)
class Registration:
    """``predict``'s registration settings in one value: repair or not, ``--repair-score``, ``--band-groups``."""

    register: bool = False
    repair_score: float | None = None
    band_groups: str = ""  # "" (each band alone) or comma-separated groups of band letters, e.g. "gy,riz"

    @property
    def repair_from(self) -> float | None:
        """The registration score from which objects are repaired: ``repair_score``; with groups and none given, 0.

        One angle per group is precise enough to turn every object back by it: on the 6,000-object
        SLSim-engine set, clean +0.005 and aligned rotated −0.004 in TPR at FPR 1e-2, the blind
        set's form −0.006 against −0.151 with the flagged objects only (``docs/survey-pixels.md`` §3,
        "Bands known to turn together").
        """
        return 0.0 if self.repair_score is None and self.band_groups else self.repair_score

    def checks(self, images: np.ndarray, n_nan: np.ndarray,
               n_masked: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """:func:`pixel_checks` with these settings."""
        return pixel_checks(images, n_nan, n_masked, register=self.register, repair_score=self.repair_from,
                            band_groups=self.band_groups)


def pixel_checks(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
                 register: bool = False, repair_score: float | None = None,
                 band_groups: str = "") -> tuple[np.ndarray, dict[str, Any]]:
    """The images to score (a new array only where something changed) and the :data:`PIXEL_COLUMNS` of each object.

    Args:
        images: float32 ``(k, bands, H, W)``, bad pixels already 0.
        n_nan: bad pixels per object (``(k,)``).
        n_masked: invalid pixels per object as the reader counted them; ``-1`` (or ``None``
            for all) where unknown.
        register: rotate the bands of misregistered objects back before scoring.
        repair_score: with ``register``, also those of the objects whose registration score
            reaches it (:meth:`~brahmasifier.survey.registration.BandAngles.bands_to_repair`).
        band_groups: bands known to turn together (``"gy,riz"``): one angle per group
            (:func:`~brahmasifier.survey.registration.estimate_band_angles`' ``groups``).
    """
    k = images.shape[0]
    per_object = int(np.prod(images.shape[1:]))
    fill = fill_mask(images)
    counted = fill.reshape(k, -1).sum(axis=1) + np.asarray(n_nan, dtype=np.int64)
    if n_masked is not None:
        known = np.asarray(n_masked, dtype=np.int64)
        counted = np.where(known >= 0, known, counted)
    fraction = np.minimum(counted, per_object) / per_object
    invalid = fill | zeroed_bad_mask(images, n_nan)  # NaN discs the reader set to 0 too
    groups = _bands.band_groups(band_groups) if band_groups else None
    angles = with_footprint(estimate_band_angles(images, invalid, groups=groups), footprint_angles(fill))
    out = images
    if invalid.any():
        out = images.copy()
        out[invalid] = np.nan
    if register and repair_score is not None:
        angles.band_flags = angles.bands_to_repair(repair_score)
    registered = angles.band_flags.sum(axis=1).astype(np.int8) if register else np.zeros(k, np.int8)
    if registered.any():
        out = register_bands(out, angles)
    return out, {"masked_fraction": fraction.astype(np.float64), **angles.columns(BANDS[: images.shape[1]]),
                 "bands_registered": registered}


@lru_cache(maxsize=1)
def _openblas() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; without it the checks run as they are
        return None
    return ThreadpoolController().select(internal_api="openblas")


def one_blas_thread() -> AbstractContextManager[Any]:
    """numpy/scipy's OpenBLAS limited to one thread while the context lasts (torch's OpenMP pool untouched).

    ``predict`` runs :func:`pixel_checks` on its reader thread while the model runs on the
    cores: two BLAS threads there only fight the model's. Measured on 2 cores
    (``docs/survey-pixels.md`` §4, rounds interleaved in one process, rotated-footprint
    stamps): ``predict`` 620 vs 564 objects/s (+10%, eight rounds of nine). The limit is the
    process's, so it is taken only around the checks.
    """
    controller = _openblas()
    return nullcontext() if controller is None or not controller.lib_controllers else controller.limit(limits=1)
