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
  misregistered, and those angles are the ones repaired); the objects to repair have each band's
  angle re-read from the moiré its resampling left in the noise where that trace is clear
  (:mod:`brahmasifier.survey.traces`).
- with ``band_groups`` (``predict --band-groups``), one angle per group of bands turning together;
  ``--band-groups auto`` (the default) reads the groups once per run from a sample of the input
  (:func:`sample_spans`, :class:`GroupSample`) and keeps each band's own angles for the objects
  turned otherwise (:func:`alone_where_apart`; ``docs/survey-pixels.md`` §3, "Groups read from the
  data").
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

import copy
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from brahmasifier import bands as _bands
from brahmasifier.bands import BANDS
from brahmasifier.pixels import fill_mask, zeroed_bad_mask
from brahmasifier.survey.footprint import footprint_angles, with_footprint
from brahmasifier.survey.registration import BandAngles, estimate_band_angles, estimate_grouped_and_alone
from brahmasifier.survey.repair import register_bands
from brahmasifier.survey.traces import with_traces

__all__ = ["AGREE_DEGREES", "AGREE_MIN_OBJECTS", "AGREE_SHARE", "AUTO_CONSISTENT", "AUTO_GROUPS", "AUTO_SPREAD",
           "MANY_FLAGGED", "NO_GROUPS", "PIXEL_COLUMNS", "SAMPLE_BLOCK", "SAMPLE_BLOCKS", "GroupSample", "Registration",
           "alone_where_apart", "band_agreement", "group_spread", "misregistered_line", "one_blas_thread", "pixel_checks",
           "sample_spans", "suggest_band_groups"]

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

#: ``predict --band-groups`` values: read the groups from a sample of the input (the default), or one angle per band.
AUTO_GROUPS: str = "auto"
NO_GROUPS: str = "none"
#: The sample ``--band-groups auto`` reads: up to this many blocks of :data:`SAMPLE_BLOCK` consecutive objects,
#: spread evenly over the input (:func:`sample_spans`). On every set of ``docs/survey-pixels.md`` §3 (clean,
#: rotated, masked, resampled, each band turned, g and y against r, i, z; 2,000–6,000 objects, three engines
#: and configurations), 1,024 objects drawn at random named the groups the whole set names in 10 of 10
#: draws; 256 did on all but the set with 30% of objects turned in groups (7 of 10).
SAMPLE_BLOCKS: int = 16
SAMPLE_BLOCK: int = 256
#: ``--band-groups auto`` takes the groups the sample names only when at least :data:`AUTO_CONSISTENT` of its
#: flagged objects have every group's bands within :data:`AUTO_SPREAD` degrees of each other (:class:`GroupSample`),
#: and then keeps each band's own angles for the flagged objects whose bands are further apart
#: (:func:`alone_where_apart`). Measured with the 30,000-object recipe model ``rb30s1``, TPR at FPR 1e-2
#: (``docs/survey-pixels.md`` §3, "Groups read from the data"): on the 6,000-object SLSim-engine set cut to the
#: circle with g, y turned against r, i, z (perturb seed 41) the per-object fallback at 10° cost 0.015 (colourful
#: objects whose own angles spread), at 15° and 20° 0.007; the same objects with a tenth of them turned band by band
#: instead went from 0.740 (the groups' angles for every object) to 0.839 / 0.847 / 0.845 (0.750 with one angle per
#: band). Within 15°: 0.87–0.96 of the flagged objects of the two-group sets (four, held out included), 0.65 with a
#: quarter turned band by band, 0.48 with half (whose agreement names g, riz, y), 0 on sets turned band by band
#: (which name no groups); the groups with the fallback beat one angle per band on all three mixtures (0.847 /
#: 0.836 / 0.807 against 0.750 / 0.757 / 0.768), so the gate is set below them, for groups the flagged objects'
#: pairs agree on but few of them share as a whole.
AUTO_SPREAD: float = 15.0
AUTO_CONSISTENT: float = 0.4

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


def sample_spans(n: int, blocks: int = SAMPLE_BLOCKS, block: int = SAMPLE_BLOCK) -> list[tuple[int, int]]:
    """Position ranges ``(start, stop)`` of the ``--band-groups auto`` sample of ``n`` objects.

    Every object when ``n <= blocks × block``, else ``blocks`` blocks of ``block`` consecutive
    objects spread evenly from the first to the last (consecutive: a store or FITS tree reads a
    block at the cost of a few objects).
    """
    if n <= blocks * block:
        return [(0, n)] if n else []
    starts = np.linspace(0, n - block, blocks).round().astype(np.int64)
    return [(int(s), int(s) + block) for s in starts]


def group_spread(angles: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Per object (``angles``: ``(n, bands)`` degrees), the largest spread of estimated angles within one of ``groups``."""
    spread = np.zeros(len(angles))
    for members in groups:
        chosen = angles[:, list(members)]
        spread = np.maximum(spread, chosen.max(axis=1) - chosen.min(axis=1))
    return spread


@dataclass
class GroupSample:
    """What the ``--band-groups auto`` sample said: its flagged objects' angles, and the groups they name.

    The candidate is :func:`suggest_band_groups` of the flagged objects; it is taken only when at
    least :data:`AUTO_CONSISTENT` of them have every group's bands within :data:`AUTO_SPREAD` of
    each other, so that data mixing objects turned in groups with objects whose bands turn each
    on its own (there the agreement counts can name groups the objects do not share) keeps one
    angle per band.
    """

    n_sampled: int = 0
    flagged_angles: list[np.ndarray] = field(default_factory=list)  # per batch, (flagged, bands) degrees

    @property
    def n_flagged(self) -> int:
        """Flagged objects in the sample."""
        return sum(len(a) for a in self.flagged_angles)

    def add(self, images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None) -> None:
        """Estimate one batch's band angles as ``predict`` does (each band alone) and keep its flagged objects'."""
        _, columns = pixel_checks(images, n_nan, n_masked)
        flagged = columns["misregistered"].astype(bool)
        self.flagged_angles.append(np.stack([columns[f"band_angle_{b}"] for b in BANDS[: images.shape[1]]], axis=1)[flagged])
        self.n_sampled += len(images)

    @property
    def candidate(self) -> str:
        """:func:`suggest_band_groups` of the sample's flagged objects (``""``: none)."""
        if not self.flagged_angles:
            return ""
        nb = self.flagged_angles[0].shape[1]
        return suggest_band_groups(band_agreement(np.concatenate(self.flagged_angles).reshape(-1, nb)), self.n_flagged,
                                   self.n_sampled, BANDS[:nb])

    @property
    def consistent(self) -> float:
        """The share of flagged objects whose angles agree within every group of :attr:`candidate` (0 without one)."""
        return self._choice()[1]

    @property
    def groups(self) -> str:
        """The groups ``--band-groups auto`` uses: :attr:`candidate` if :attr:`consistent` enough, else ``""``."""
        candidate, consistent = self._choice()
        return candidate if consistent >= AUTO_CONSISTENT else ""

    def _choice(self) -> tuple[str, float]:
        candidate = self.candidate
        if not candidate:
            return "", 0.0
        spread = group_spread(np.concatenate(self.flagged_angles), _bands.band_groups(candidate))
        return candidate, float(np.mean(spread <= AUTO_SPREAD))

    def describe(self, register: bool = True) -> str:
        """The summary's note on what ``--band-groups auto`` chose and from what (``""`` when there was no candidate)."""
        candidate, consistent = self._choice()
        if not candidate:
            return ""
        s = "s" if self.n_sampled != 1 else ""
        share = (f"{consistent:.0%} of the {self.n_flagged} flagged of {self.n_sampled} sampled object{s} have each "
                 f"group's bands within {AUTO_SPREAD:g} degrees")
        if consistent < AUTO_CONSISTENT:
            return (f"one angle per band (--band-groups auto): the flagged objects' bands agree in groups {candidate}, but "
                    f"only {share} (under {AUTO_CONSISTENT:.0%}: objects turned in groups mixed with bands turned each on "
                    "its own; docs/survey-pixels.md, section 3)")
        then = "every object re-aligned by it" if register else "the flags read from it (--no-register-bands: no repair)"
        return (f"band groups {candidate} (--band-groups auto): {share}, so one angle per group was estimated and {then} "
                f"(--band-groups {NO_GROUPS}: one angle per band; docs/survey-pixels.md, section 3)")


@dataclass(frozen=True)
class Registration:
    """``predict``'s registration settings in one value: repair or not, ``--repair-score``, ``--band-groups``."""

    register: bool = False
    repair_score: float | None = None
    band_groups: str = ""  # "" (each band alone) or comma-separated groups of band letters, e.g. "gy,riz"
    groups_read: bool = False  # the groups came from --band-groups auto: objects turned otherwise keep their own angles

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
                            band_groups=self.band_groups, groups_read=self.groups_read)


def pixel_checks(images: np.ndarray, n_nan: np.ndarray, n_masked: np.ndarray | None = None, *,
                 register: bool = False, repair_score: float | None = None, band_groups: str = "",
                 groups_read: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
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
        groups_read: with ``band_groups``, also estimate each band alone, and keep those
            angles (and their flag and repair) for the objects that estimate flags with a group's
            bands more than :data:`AUTO_SPREAD` apart (:func:`alone_where_apart`): ``--band-groups
            auto``, where the data may mix objects turned in groups with bands turned each alone.
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
    footprints = footprint_angles(fill)
    alone = None
    if groups is not None and groups_read:  # both estimates from one polar grid
        grouped, alone = estimate_grouped_and_alone(images, invalid, groups)
        angles = with_footprint(grouped, footprints)
    else:
        angles = with_footprint(estimate_band_angles(images, invalid, groups=groups), footprints)
    out = images
    if invalid.any():
        out = images.copy()
        out[invalid] = np.nan
    if register and repair_score is not None:
        angles.band_flags = angles.bands_to_repair(repair_score)
    if groups is not None and alone is not None:  # groups read: objects turned band by band keep their own angles
        angles = alone_where_apart(angles, with_footprint(alone, footprints), groups)
    angles = with_traces(angles, images, invalid)  # the objects to repair: each band's angle from its resampling trace
    registered = angles.band_flags.sum(axis=1).astype(np.int8) if register else np.zeros(k, np.int8)
    if registered.any():
        out = register_bands(out, angles)
    return out, {"masked_fraction": fraction.astype(np.float64), **angles.columns(BANDS[: images.shape[1]]),
                 "bands_registered": registered}


def alone_where_apart(grouped: BandAngles, alone: BandAngles, groups: tuple[tuple[int, ...], ...]) -> BandAngles:
    """``grouped``, but each band's own estimate for the objects ``alone`` flags with a group's bands > :data:`AUTO_SPREAD` apart.

    Those objects' bands did not turn in these groups (every band turned on its own, in data that
    mixes both forms): their angles, scores, flag and bands to repair come from ``alone`` (its
    repair: the flagged objects' bands ≥ 1° from 0); every other object keeps ``grouped``'s.
    """
    apart = alone.misregistered & (group_spread(alone.angles, groups) > AUTO_SPREAD)
    if not apart.any():
        return grouped
    out = copy.copy(grouped)
    rows, cells = apart, apart[:, None]
    out.angles = np.where(cells, alone.angles, grouped.angles)
    out.gain = np.where(cells, alone.gain, grouped.gain)
    out.peak = np.where(cells, alone.peak, grouped.peak)
    out.score = np.where(cells, alone.score, grouped.score)
    out.object_score = np.where(rows, alone.object_score, grouped.object_score)
    out.misregistered = np.where(rows, alone.misregistered, grouped.misregistered)
    out.footprint_flag = np.where(rows, alone.footprint_flag, grouped.footprint_flag)
    out.band_flags = np.where(cells, alone.band_flags, grouped.band_flags)
    out.evidence = None
    return out


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
