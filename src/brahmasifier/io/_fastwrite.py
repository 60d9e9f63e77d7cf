"""Byte-identical fast path for :func:`brahmasifier.io.fits.write_band_fits`.

Writing five small BinTable files per object through astropy costs ~5–10 ms each, more than
rendering the object. All band files of a data set share one structure, so we let astropy
write a *template* once per (band, ID column, ID type/width, header) and then only splice the
ID bytes and the big-endian image into a copy. The template is checked when it is built
(two astropy files that differ only in ID and pixels must differ only where we splice) and a
test compares our bytes with ``write_band_fits`` for many objects. Anything unusual falls
back to ``write_band_fits``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from brahmasifier._atomic import write_bytes_atomic
from brahmasifier.bands import STAMP_SIZE
from brahmasifier.io.fits import write_band_fits

_N_PIX = STAMP_SIZE * STAMP_SIZE


@dataclass(frozen=True)
class _Template:
    data: bytes
    id_offset: int
    id_width: int
    image_offset: int


_TEMPLATES: dict[tuple[object, ...], _Template | None] = {}


def _astropy_bytes(object_id: str | int, band: str, image: np.ndarray, id_column: str, header: dict[str, object] | None) -> bytes:
    """What ``write_band_fits`` writes, captured in memory (same code path, via a temp file)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.fits")
        write_band_fits(path, object_id, band, image, id_column=id_column, header=header)
        with open(path, "rb") as fh:
            return fh.read()


def _id_bytes(object_id: str | int) -> bytes:
    if isinstance(object_id, (int, np.integer)):
        return int(object_id).to_bytes(8, "big", signed=True)
    return str(object_id).encode("ascii")


def _template(object_id: str | int, band: str, id_column: str, header: dict[str, object] | None) -> _Template | None:
    is_int = isinstance(object_id, (int, np.integer))
    width = 8 if is_int else len(str(object_id))
    key = (band, id_column, is_int, width, tuple(sorted((header or {}).items())))
    if key in _TEMPLATES:
        return _TEMPLATES[key]
    template = None
    try:
        ids: tuple[str | int, str | int] = (1, 2) if is_int else ("a" * width, "b" * width)
        images = (np.zeros((STAMP_SIZE, STAMP_SIZE), np.float32), np.ones((STAMP_SIZE, STAMP_SIZE), np.float32))
        first = _astropy_bytes(ids[0], band, images[0], id_column, header)
        second = _astropy_bytes(ids[1], band, images[1], id_column, header)
        image_bytes = images[1].astype(">f4").tobytes()
        image_offset = second.find(image_bytes)
        id_offset = image_offset - width
        if (
            len(first) == len(second)
            and image_offset > 0
            and second[id_offset:image_offset] == _id_bytes(ids[1])
            and first[id_offset:image_offset] == _id_bytes(ids[0])
            and first[:id_offset] == second[:id_offset]
            and first[image_offset + 4 * _N_PIX :] == second[image_offset + 4 * _N_PIX :]
        ):
            template = _Template(first, id_offset, width, image_offset)
    except Exception:
        template = None
    _TEMPLATES[key] = template
    return template


def band_fits_bytes(object_id: str | int, band: str, image: np.ndarray, *, id_column: str,
                    header: dict[str, object] | None = None) -> bytes | None:
    """The bytes ``write_band_fits`` would write, or ``None`` if the fast path does not apply."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (STAMP_SIZE, STAMP_SIZE):
        return None
    if not isinstance(object_id, (int, np.integer)):
        text = str(object_id)
        if not text or not text.isascii() or text != text.strip() or "\x00" in text:
            return None
    template = _template(object_id, band, id_column, header)
    if template is None:
        return None
    buf = bytearray(template.data)
    buf[template.id_offset : template.image_offset] = _id_bytes(object_id)
    buf[template.image_offset : template.image_offset + 4 * _N_PIX] = image.astype(">f4").tobytes()
    return bytes(buf)


def write_band_fits_fast(path: str | os.PathLike[str], object_id: str | int, band: str, image: np.ndarray, *,
                         id_column: str, header: dict[str, object] | None = None) -> None:
    """Same file as ``write_band_fits`` (atomically), an order of magnitude faster."""
    data = band_fits_bytes(object_id, band, image, id_column=id_column, header=header)
    if data is None:
        write_band_fits(path, object_id, band, image, id_column=id_column, header=header)
    else:
        write_bytes_atomic(path, data)


__all__ = ["band_fits_bytes", "write_band_fits_fast"]
