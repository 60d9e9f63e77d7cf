"""Fast reader for the challenge's band files: parse the FITS headers by hand.

Opening a FITS file with astropy costs about a millisecond, mostly in building ``Header``,
``HDUList`` and ``FITS_rec`` objects. A challenge band file is tiny (6-7 blocks of 2880 bytes)
and always laid out the same way, so this reader reads the bytes once, walks the 80-character
header cards, and decodes the image with ``np.frombuffer``. Two layouts take the fast path:

- the labelled set's: empty primary HDU, then a plain BINTABLE (no heap, scaling or odd column
  types); the ``band_<b>`` and ID columns are found from ``TTYPEn``/``TFORMn``/``TDIMn``;
- the blind set's: a 41×41 image in the primary HDU (or in a lone IMAGE extension after an empty
  primary), unscaled, with nothing after it and no ID keyword. 500,000 such files make the
  blind set; astropy takes ~1 ms per file, this path a few tens of µs
  (``benchmarks/bench_ingest.py``, row "blind set").

Anything else goes to :func:`brahmasifier.io.fits.read_band_fits_astropy`, so the two readers
agree by construction on everything the fast path does not handle; the tests check they agree
bit for bit on the layouts it does handle. Files that are empty, not FITS or truncated raise
:class:`~brahmasifier.io.fits.FitsFormatError` naming the file and the problem.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brahmasifier._inputs import MAX_BAND_FILE_BYTES, check_input_file
from brahmasifier.bands import STAMP_SIZE
from brahmasifier.io.fits import (
    ID_COLUMNS,
    BandRecord,
    FitsFormatError,
    _pick_id_column,
    check_row_count,
    id_to_str,
    pick_image_column,
    read_band_fits_astropy,
)

__all__ = ["BLOCK", "CARD", "parse_band_bytes", "read_band_fits_fast"]

BLOCK = 2880
CARD = 80
_N_PIXELS = STAMP_SIZE * STAMP_SIZE

#: Bytes per element of each binary-table TFORM code ('X' bits are handled separately).
_WIDTH = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16, "P": 8, "Q": 16}
#: Big-endian NumPy dtype of the numeric codes the fast path decodes.
_DTYPE: dict[str, np.dtype[Any]] = {"B": np.dtype("u1"), "I": np.dtype(">i2"), "J": np.dtype(">i4"), "K": np.dtype(">i8"),
          "E": np.dtype(">f4"), "D": np.dtype(">f8")}
#: Big-endian NumPy dtype of the image BITPIX values the fast path decodes.
_BITPIX: dict[int, np.dtype[Any]] = {8: np.dtype("u1"), 16: np.dtype(">i2"), 32: np.dtype(">i4"), 64: np.dtype(">i8"),
           -32: np.dtype(">f4"), -64: np.dtype(">f8")}
_TFORM = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])(.*)$")
_CANONICAL_TDIM = {f"({STAMP_SIZE},{STAMP_SIZE})", f"({_N_PIXELS})"}


class _Fallback(Exception):
    """The layout is valid FITS but not one the fast path handles: use astropy."""


def read_band_fits_fast(path: str | os.PathLike[str], band: str | None = None) -> BandRecord:
    """Read one band file (same result as :func:`read_band_fits_astropy`, several times faster).

    ``band`` picks the ``band_<band>`` column (a file whose image column is another band's is
    refused); without it the first ``band_*`` column is used, as the astropy reader does.
    """
    path = path if isinstance(path, Path) else Path(path)
    check_input_file(path, MAX_BAND_FILE_BYTES, FitsFormatError)  # no pipes, devices or 2 GB files (brahmasifier._inputs)
    try:
        data = _read_all(path)
    except OSError as exc:
        raise FitsFormatError.at(path, f"cannot read file ({exc.strerror or exc})") from exc
    try:
        return parse_band_bytes(data, path, band)
    except _Fallback:
        return read_band_fits_astropy(path, band)


def _read_all(path: Path) -> bytes:
    """The whole file, with as few system calls as possible (files are ~14 kB)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe swapped in after the check: no wait
    try:
        chunks = [os.read(fd, 1 << 16)]
        total = len(chunks[0])
        while chunks[-1] and total <= MAX_BAND_FILE_BYTES:  # a file grown after the check is still capped
            chunks.append(os.read(fd, 1 << 20))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    return b"".join(chunks)


@dataclass(frozen=True)
class _Layout:
    """Where a file's image and ID live: all that the headers tell, reusable for equal headers."""

    needed: int  # file size the headers imply (incl. padding)
    image_offset: int
    image_dtype: np.dtype
    id_column: tuple[str, int, int, str | None] | None  # (code, repeat, offset in file, TDIM)
    image_hdu: bool = False  # an image HDU: the file must end with it (a later table would win)


#: Layouts keyed by (headers' blocks, band): the challenge's files share a handful of headers,
#: so most files skip header parsing. A layout is cached under the bytes of all its headers,
#: which end exactly at block 1 (image in the primary HDU) or block 2 (primary + extension), so
#: equal keys mean equal headers and hence equal layouts.
_LAYOUTS: dict[tuple[bytes, str | None], _Layout] = {}
_MAX_LAYOUTS = 1024


def parse_band_bytes(data: bytes, path: Path, band: str | None = None) -> BandRecord:
    """Decode a band file's bytes; raise ``_Fallback`` for layouts left to astropy."""
    layout = _LAYOUTS.get((data[:BLOCK], band)) or _LAYOUTS.get((data[: 2 * BLOCK], band))
    if layout is None:
        layout, data_start = _parse_layout(data, path, band)
        if data_start in (BLOCK, 2 * BLOCK):
            if len(_LAYOUTS) >= _MAX_LAYOUTS:
                _LAYOUTS.clear()
            _LAYOUTS[(data[:data_start], band)] = layout
    elif layout.needed > len(data):
        raise FitsFormatError.at(path, f"truncated file ({len(data)} bytes; its headers say {layout.needed})")
    elif layout.image_hdu and layout.needed < len(data):
        raise _Fallback
    image = np.frombuffer(data, dtype=layout.image_dtype, count=_N_PIXELS, offset=layout.image_offset)
    image = image.astype(np.float32).reshape(STAMP_SIZE, STAMP_SIZE)
    object_id = None if layout.id_column is None else _decode_id(data, layout.id_column)
    return BandRecord(object_id, image)


def _parse_layout(data: bytes, path: Path, band: str | None) -> tuple[_Layout, int]:
    """Read the headers: where the image and ID are; errors for broken files, ``_Fallback`` for odd ones."""
    if not data:
        raise FitsFormatError.at(path, "empty file (0 bytes)")
    if not data.startswith(b"SIMPLE  ="):
        raise FitsFormatError.at(path, "not a FITS file (does not start with a SIMPLE card)")
    primary, offset = _read_header(data, 0, path, "primary HDU")
    if primary.get("SIMPLE") != "T":
        raise _Fallback  # non-conforming primary: let astropy decide
    if primary.get("GROUPS") == "T":
        raise _Fallback  # random groups
    if _int(primary, "NAXIS", path) != 0:
        return _image_layout(primary, offset, data, path), offset  # the blind set: image in the primary HDU
    if offset >= len(data):
        raise _Fallback  # primary HDU only: astropy reports "no BinTable" consistently
    header, data_start = _read_header(data, offset, path, "first extension")
    if header.get("XTENSION") == "IMAGE":
        if _int(header, "PCOUNT", path, 0) != 0 or _int(header, "GCOUNT", path, 1) != 1:
            raise _Fallback
        return _image_layout(header, data_start, data, path), data_start
    if header.get("XTENSION") != "BINTABLE" or header.get("ZIMAGE") == "T" or header.get("ZTABLE") == "T":
        raise _Fallback  # ASCII table, tile-compressed HDU …
    if _int(header, "NAXIS", path) != 2 or _int(header, "PCOUNT", path, 0) != 0 or _int(header, "GCOUNT", path, 1) != 1:
        raise _Fallback  # heap (variable-length arrays) or other unusual table
    if "THEAP" in header:
        raise _Fallback
    row_bytes = _int(header, "NAXIS1", path)
    n_rows = _int(header, "NAXIS2", path)
    n_fields = _int(header, "TFIELDS", path)
    # Like astropy, count the padding to a whole block: a file cut anywhere is "truncated".
    needed = data_start + -(-row_bytes * n_rows // BLOCK) * BLOCK
    if needed > len(data):
        raise FitsFormatError.at(path, f"truncated file ({len(data)} bytes; its headers say {needed})")

    names: list[str] = []
    columns: dict[str, tuple[str, int, int, str | None]] = {}  # name -> (code, repeat, byte offset, TDIM)
    position = 0
    for n in range(1, n_fields + 1):
        tform = header.get(f"TFORM{n}")
        if tform is None:
            raise FitsFormatError.at(path, f"column {n} has no TFORM{n}")
        m = _TFORM.match(tform)
        if m is None:
            raise _Fallback
        repeat = int(m[1]) if m[1] else 1
        code = m[2]
        width = (repeat + 7) // 8 if code == "X" else repeat * _WIDTH[code]
        name = header.get(f"TTYPE{n}", "")
        if name in columns or not name:
            raise _Fallback  # duplicate or unnamed columns: astropy has its own rules
        names.append(name)
        columns[name] = (code, repeat, position, header.get(f"TDIM{n}"))
        if any(f"{key}{n}" in header for key in ("TSCAL", "TZERO")):
            columns[name] = ("scaled", repeat, position, None)
        position += width
    if position != row_bytes:
        raise _Fallback  # inconsistent row length; astropy reports what it makes of it

    image_column = pick_image_column(path, names, band)
    check_row_count(path, n_rows)
    code, repeat, start, tdim = columns[image_column]
    if code not in _DTYPE or repeat != _N_PIXELS or (tdim is not None and tdim.replace(" ", "") not in _CANONICAL_TDIM):
        raise _Fallback  # scaled, other shapes or types: astropy (which also words the errors)
    id_name = _pick_id_column(names, image_column)
    id_column = None
    if id_name is not None:
        id_code, id_repeat, id_start, id_tdim = columns[id_name]
        id_column = (id_code, id_repeat, data_start + id_start, id_tdim)
    return _Layout(needed, data_start + start, _DTYPE[code], id_column), data_start


def _image_layout(header: dict[str, str], data_start: int, data: bytes, path: Path) -> _Layout:
    """Where a 41×41 image HDU's pixels are; ``_Fallback`` unless it is plain and the file's last HDU."""
    shape = (_int(header, "NAXIS", path), _int(header, "NAXIS1", path, 0), _int(header, "NAXIS2", path, 0))
    if shape != (2, STAMP_SIZE, STAMP_SIZE):
        raise _Fallback  # other shapes: astropy's reader words the error
    dtype = _BITPIX.get(_int(header, "BITPIX", path))
    if dtype is None or any(key in header for key in ("BSCALE", "BZERO", "BLANK", *ID_COLUMNS)):
        raise _Fallback  # scaled or blank-flagged pixels, or an ID keyword: astropy's rules
    needed = data_start + -(-_N_PIXELS * dtype.itemsize // BLOCK) * BLOCK
    if needed > len(data):
        raise FitsFormatError.at(path, f"truncated file ({len(data)} bytes; its headers say {needed})")
    if needed < len(data):
        raise _Fallback  # more HDUs follow (a table there would be read instead)
    return _Layout(needed, data_start, dtype, None, image_hdu=True)


def _decode_id(data: bytes, column: tuple[str, int, int, str | None]) -> str:
    code, repeat, at, tdim = column
    if tdim is not None:
        raise _Fallback
    if code == "A":
        raw = data[at : at + repeat]
        if b"\0" in raw.rstrip(b"\0") or max(raw, default=0) > 126:
            raise _Fallback  # embedded NUL or non-ASCII bytes: leave the decoding to astropy
        return id_to_str(raw.rstrip(b"\0").decode("ascii"))
    if code in _DTYPE and repeat == 1:
        return id_to_str(np.frombuffer(data, dtype=_DTYPE[code], count=1, offset=at)[0])
    raise _Fallback  # scaled, logical, complex or vector ID columns


_END_CARD = "END" + " " * (CARD - 3)


def _read_header(data: bytes, offset: int, path: Path, what: str) -> tuple[dict[str, str], int]:
    """Parse the header starting at ``offset``; return ``{keyword: value text}`` and the data offset.

    String values are unquoted (``''`` → ``'``) with trailing blanks removed, as FITS says.
    The END card is found with one substring search and the cards are sliced in bulk: this
    function is most of the fast reader's time.
    """
    size = len(data)
    pos = offset
    while True:  # grow the header a block at a time until a block-aligned END card shows up
        if pos + BLOCK > size:
            raise FitsFormatError.at(path, f"truncated file ({size} bytes; the {what} header has no END card)")
        pos += BLOCK
        text = data[offset:pos].decode("latin-1")
        end = _find_end(text, pos - BLOCK - offset)
        if end >= 0:
            break
    if "CONTINUE" in text or "HIERARCH" in text:
        raise _Fallback  # long strings / extended keywords: leave to astropy
    cards = [text[i : i + CARD] for i in range(0, end, CARD)]
    header = {card[:8].rstrip(): _value(card[10:]) for card in cards if card[8:10] == "= "}
    return header, pos


def _find_end(text: str, start: int) -> int:
    """Offset of the first card-aligned END card at or after ``start`` (-1 if none)."""
    at = text.find(_END_CARD, start)
    while at >= 0:
        if at % CARD == 0:
            return at
        at = text.find(_END_CARD, at + 1)
    for i in range(start, len(text), CARD):  # an END card with trailing junk is still an END card
        if text[i : i + 8].rstrip() == "END":
            return i
    return -1


def _value(raw: str) -> str:
    """The value part of a card (after ``= ``): an unquoted string or the text before ``/``."""
    value = raw.strip()
    if value.startswith("'"):
        closing = _string_end(value)
        if closing < 0:
            raise _Fallback
        return value[1:closing].replace("''", "'").rstrip()
    return value.split("/", 1)[0].strip()


def _string_end(value: str) -> int:
    """Index of the quote closing a FITS string value that starts at 0 (``''`` is an escaped quote)."""
    i = 1
    while True:
        j = value.find("'", i)
        if j < 0:
            return -1
        if value[j + 1 : j + 2] == "'":
            i = j + 2
            continue
        return j


def _int(header: dict[str, str], key: str, path: Path, default: int | None = None) -> int:
    text = header.get(key)
    if text is None:
        if default is None:
            raise FitsFormatError.at(path, f"header lacks the required keyword {key}")
        return default
    try:
        return int(text)
    except ValueError:
        raise FitsFormatError.at(path, f"header keyword {key} is not an integer ({text!r})") from None
