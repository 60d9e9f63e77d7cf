"""Read one object's five band files into a (5, 41, 41) float32 cutout.

An object whose every band is blank (all NaN/Inf, or one constant value) is refused with
:data:`REASON_BLANK`: ``pack`` and ``predict`` list it in ``rejected.csv`` instead of storing or
scoring it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.fastfits import read_band_fits_fast
from brahmasifier.io.fits import BandRecord, FitsFormatError
from brahmasifier.io.scan import ObjectFiles
from brahmasifier.pixels import clean_pixels, invalid_mask

__all__ = ["ID_FROM_STEM", "ID_FROM_TABLE", "REASON_BLANK", "BandReader", "ObjectImage", "read_object", "stem_id_line"]

#: Why an object with no data is not scored: a model's score of a blank image is meaningless (issue 25:
#: all-NaN and all-zero objects were scored as confident lenses).
REASON_BLANK = "no data: every band is blank (all pixels NaN/Inf, or one constant value such as 0)"
#: ``ObjectImage.id_source`` values.
ID_FROM_TABLE = "table"
ID_FROM_STEM = "stem"


@dataclass(frozen=True)
class ObjectImage:
    """One object's cutout: ``image`` float32 ``(5, 41, 41)`` in band order, bad pixels set to 0.

    ``n_nan`` counts the bad pixels that were replaced (all bands together): NaN, ±Inf and
    values beyond :data:`brahmasifier.pixels.PIXEL_LIMIT` (the one rule, :mod:`brahmasifier.pixels`).
    ``id_source`` is ``"table"`` when the ID came from the files' ID column, ``"stem"`` when
    the files have none and the file-name stem stands in for it.
    """

    id: str
    stem: str
    image: np.ndarray
    n_nan: int
    id_source: str = ID_FROM_TABLE
    n_masked: int = 0  # invalid pixels (bad or constant-filled from the border: :func:`brahmasifier.pixels.invalid_mask`)


BandReader = Callable[[Path, str], BandRecord]


def stem_id_line(n: int) -> str:
    """The one summary line (``pack``, ``predict``, ``info``) for ``n`` objects whose ID is their file stem.

    Right for the blind set (no ID column, the stem is the ID); anywhere else it usually means
    the ID column was not recognised (see :data:`brahmasifier.io.fits.ID_COLUMNS`), so it is said.

    Args:
        n: how many objects have no ID column.

    Returns:
        e.g. ``"3 objects have no ID column: their file stem is used as ID"``.
    """
    if n == 1:
        return "1 object has no ID column: its file stem is used as ID"
    return f"{n:,} objects have no ID column: their file stem is used as ID"


def read_object(obj: ObjectFiles, *, band_reader: BandReader = read_band_fits_fast) -> ObjectImage:
    """Read and stack the five bands of ``obj``; raise :class:`FitsFormatError` naming the file.

    All bands must carry the same ID (the challenge writes it into every band file); a file
    without an ID next to files with one counts as a disagreement, because it usually means
    files of different objects were mixed.
    """
    image = np.empty((len(BANDS), STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    ids: dict[str, str | None] = {}
    for channel, band in enumerate(BANDS):
        try:
            path = obj.files[band]
        except KeyError:
            raise FitsFormatError(f"{obj.stem}: no file for band {band}", reason=f"missing band {band}") from None
        record = band_reader(path, band)
        if record.image.shape != (STAMP_SIZE, STAMP_SIZE):  # a custom band_reader may not check
            raise FitsFormatError.at(path, f"image has shape {record.image.shape}, expected ({STAMP_SIZE}, {STAMP_SIZE})")
        image[channel] = record.image
        ids[band] = record.object_id or None  # an empty ID cell counts as no ID
    distinct = set(ids.values())
    if len(distinct) > 1:
        detail = ", ".join(f"{obj.files[b].name}={ids[b]!r}" for b in BANDS)
        raise FitsFormatError(
            f"{obj.files[BANDS[0]].parent}: band files of {obj.stem} disagree on the object ID ({detail})",
            path=obj.files[BANDS[0]],
            reason=f"band files disagree on the object ID ({detail})",
        )
    object_id = distinct.pop()
    n_masked = int(invalid_mask(image).sum())  # before cleaning: a NaN region is bad, not a 0-fill
    n_nan = int(clean_pixels(image)[0])
    if not np.any(image.max(axis=(1, 2)) > image.min(axis=(1, 2))):
        raise FitsFormatError(f"{obj.files[BANDS[0]].parent}: {obj.stem}: {REASON_BLANK}", path=obj.files[BANDS[0]],
                              reason=REASON_BLANK)
    if object_id is None:
        return ObjectImage(id=obj.stem, stem=obj.stem, image=image, n_nan=n_nan, id_source=ID_FROM_STEM, n_masked=n_masked)
    return ObjectImage(id=object_id, stem=obj.stem, image=image, n_nan=n_nan, id_source=ID_FROM_TABLE, n_masked=n_masked)
