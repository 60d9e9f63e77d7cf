"""Challenge FITS format: one file per object and band.

Labelled set: an empty primary HDU + a BinTable HDU with one row and two columns, the object's
ID (``Lens ID``, ``Object ID`` or ``ID``; in the release a fixed-width string, ``22A``-``24A``)
and ``band_<b>`` holding the 41×41 image (in the release ``1681D``, float64; a 1681-vector or
with TDIM ``(41,41)``, any numeric type, is read). Blind set: the 2-D image in the primary HDU
and no ID (the file-name stem stands in). Images in an IMAGE extension are accepted too.

IDs are strings everywhere (:func:`id_to_str`): a string cell is kept exactly (digit strings
keep their leading zeros), an integer cell is written in decimal.

This module holds the writers (used by the simulator and the tests) and the astropy-based
reader, the reference every faster reader and writer is tested against.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from brahmasifier._atomic import atomic_path
from brahmasifier._inputs import MAX_BAND_FILE_BYTES, check_input_file
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import FitsFormatError
from brahmasifier.io.naming import printable_name

__all__ = [
    "ID_COLUMNS",
    "IMAGE_DTYPES",
    "BandRecord",
    "check_row_count",
    "id_to_str",
    "pick_image_column",
    "read_band_fits_astropy",
    "read_parameters_fits",
    "write_band_fits",
    "write_image_fits",
    "write_parameters_fits",
]

#: ID column names the challenge uses, in the order they are looked for.
ID_COLUMNS: tuple[str, ...] = ("Lens ID", "Object ID", "ID")
#: Pixel types the writers offer: BinTable TFORM code (and primary-HDU BITPIX) by NumPy dtype.
IMAGE_DTYPES: dict[np.dtype, tuple[str, int]] = {np.dtype(np.float32): ("E", -32), np.dtype(np.float64): ("D", -64)}


@dataclass(frozen=True)
class BandRecord:
    """One band file's content: the object's ID (as a string; ``None`` if the file has none)."""

    object_id: str | None
    image: np.ndarray  # float32, (STAMP_SIZE, STAMP_SIZE), may contain NaN/Inf


def id_to_str(value: object) -> str:
    r"""Canonical string form of an ID cell: integers without ``.0``, bytes decoded, stripped, escaped.

    Bytes that are not UTF-8 become ``\xNN`` and control characters (a newline) backslash
    escapes, as file names are (:func:`brahmasifier.io.naming.printable_name`): an ID is one
    line of UTF-8 in every table, never U+FFFD or a raw newline in the submission.
    """
    if isinstance(value, bytes):
        value = value.rstrip(b"\0").decode("utf-8", errors="surrogateescape")
    if isinstance(value, str):
        return printable_name(value.strip())
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value).strip()


def _image_dtype(dtype: object) -> np.dtype:
    kind = np.dtype(dtype)  # type: ignore[call-overload]
    if kind not in IMAGE_DTYPES:
        raise ValueError(f"image dtype must be float32 or float64, got {kind}")
    return kind


def write_band_fits(
    path: str | os.PathLike[str],
    object_id: str | int,
    band: str,
    image: np.ndarray,
    *,
    id_column: str = "ID",
    with_tdim: bool = True,
    header: dict[str, object] | None = None,
    dtype: object = np.float32,
    id_width: int | None = None,
) -> None:
    """Write one object's band image as a one-row BinTable file, atomically.

    Args:
        path: the file to write.
        object_id: a string ID (written ``<w>A``) or an integer (written ``K``).
        band: one of g, r, i, z, y (names the column ``band_<band>``).
        image: the 41×41 image.
        id_column: the ID column's name (``Lens ID``, ``Object ID``, ``ID``).
        with_tdim: add ``TDIM = (41,41)`` (the release's files have it) or write a bare 1681-vector.
        header: extra cards for the BinTable header (e.g. ``BUNIT``, ``ZP``).
        dtype: pixel type, float32 (``1681E``) or float64 (``1681D``, the release's).
        id_width: width of a string ID column (the ID is NUL-padded); default: the ID's length.
    """
    if band not in BANDS:
        raise ValueError(f"unknown band {band!r}")
    pixel_type = _image_dtype(dtype)
    image = np.asarray(image, dtype=pixel_type)
    if image.shape != (STAMP_SIZE, STAMP_SIZE):
        raise ValueError(f"image must be {STAMP_SIZE}x{STAMP_SIZE}, got {image.shape}")
    if isinstance(object_id, (int, np.integer)):
        id_col = fits.Column(name=id_column, format="K", array=np.array([object_id], dtype=np.int64))
    else:
        text = str(object_id)
        width = max(len(text), id_width or 0, 1)
        id_col = fits.Column(name=id_column, format=f"{width}A", array=np.array([text]))
    n = STAMP_SIZE * STAMP_SIZE
    img_col = fits.Column(
        name=f"band_{band}",
        format=f"{n}{IMAGE_DTYPES[pixel_type][0]}",
        dim=f"({STAMP_SIZE},{STAMP_SIZE})" if with_tdim else None,
        array=image[None] if with_tdim else image.reshape(1, n),
    )
    table = fits.BinTableHDU.from_columns([id_col, img_col])
    for key, value in (header or {}).items():
        table.header[key] = value
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp, overwrite=True)


def write_image_fits(
    path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    dtype: object = np.float64,
    header: dict[str, object] | None = None,
) -> None:
    """Write a 41×41 image into the primary HDU (the blind set's form: no ID), atomically.

    Args:
        path: the file to write.
        image: the 41×41 image.
        dtype: pixel type, float64 (``BITPIX = -64``, default) or float32.
        header: extra cards for the primary header.
    """
    image = np.asarray(image, dtype=_image_dtype(dtype))
    if image.shape != (STAMP_SIZE, STAMP_SIZE):
        raise ValueError(f"image must be {STAMP_SIZE}x{STAMP_SIZE}, got {image.shape}")
    hdu = fits.PrimaryHDU(image)
    for key, value in (header or {}).items():
        hdu.header[key] = value
    with atomic_path(path) as tmp:
        hdu.writeto(tmp, overwrite=True)


def _pick_id_column(names: list[str], image_column: str | None) -> str | None:
    for candidate in ID_COLUMNS:
        if candidate in names:
            return candidate
    others = [n for n in names if n != image_column]
    return others[0] if len(others) == 1 else None


def pick_image_column(path: Path, names: list[str], band: str | None) -> str:
    """The image column of a band file's table: ``band_<band>``, or the first ``band_*`` when no band is asked.

    A file named for one band whose table holds another band's column (``_g`` with ``band_r``)
    is refused: using it would silently put the wrong band's pixels into the cutout.

    Args:
        path: the file (for the error message).
        names: the table's column names.
        band: the band the file name says, or ``None``.

    Returns:
        The column name to read.
    """
    image_columns = [n for n in names if n.startswith("band_")]
    if not image_columns:
        raise FitsFormatError.at(path, f"no 'band_<b>' image column (columns: {names})")
    if band is None:
        return image_columns[0]
    wanted = f"band_{band}"
    if wanted not in names:
        raise FitsFormatError.at(path, f"file is for band {band} but its image column is {', '.join(image_columns)}"
                                       f" (no {wanted} column)")
    return wanted


def check_row_count(path: Path, n_rows: int) -> None:
    """A band file's table holds exactly one object (one row); refuse anything else, naming the count."""
    if n_rows < 1:
        raise FitsFormatError.at(path, "table has no rows")
    if n_rows > 1:
        raise FitsFormatError.at(path, f"table has {n_rows} rows; a band file holds one object (one row)")


def read_band_fits_astropy(path: str | os.PathLike[str], band: str | None = None) -> BandRecord:
    """Read one band file with astropy (the reference reader); raise :class:`FitsFormatError`."""
    path = Path(path)
    check_input_file(path, MAX_BAND_FILE_BYTES, FitsFormatError)  # no pipes, devices or 2 GB files (brahmasifier._inputs)
    # astropy reports truncation and header repairs as warnings; collect them here so that a
    # million-file read does not print a million lines, and so that truncation becomes an error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            record = _read_hdul_astropy(path, band)
        except FitsFormatError:
            raise
        except Exception as exc:  # astropy raises many types for truncated/corrupt files
            detail = "".join(f"; {m}" for m in dict.fromkeys(str(w.message) for w in caught if "truncated" in str(w.message))
                             if m not in str(exc))  # each warning once (astropy repeats it per HDU)
            raise FitsFormatError.at(path, f"unreadable FITS ({type(exc).__name__}: {exc}{detail})") from exc
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
    if truncated:
        raise FitsFormatError.at(path, f"truncated file ({truncated[0]})")
    return record


def _read_hdul_astropy(path: Path, band: str | None) -> BandRecord:
    """The band's table (a BinTable with a ``band_<b>`` column) or the one 2-D image; both present is ambiguous.

    A table without any ``band_*`` column (a catalogue written after a valid primary image) is
    not an image and is passed over; a 41×41 image and a ``band_*`` table in one file is refused
    (issue 25: the table's zeros were scored and the image ignored).
    """
    with fits.open(path, memmap=False) as hdul:
        tables = [(k, hdu) for k, hdu in enumerate(hdul) if isinstance(hdu, fits.BinTableHDU)]
        band_tables = [(k, hdu) for k, hdu in tables if any(str(n).lower().startswith("band_") for n in hdu.columns.names)]
        images = [(k, hdu) for k, hdu in enumerate(hdul)
                  if not isinstance(hdu, fits.BinTableHDU) and hdu.header.get("NAXIS", 0) == 2 and hdu.data is not None]
        stamps = [(k, hdu) for k, hdu in images if hdu.data.shape == (STAMP_SIZE, STAMP_SIZE)]
        if band_tables and stamps:
            raise FitsFormatError.at(path, f"holds both a 2-D image (HDU {stamps[0][0]}) and a band table "
                                           f"(HDU {band_tables[0][0]}); which one is the cutout is ambiguous")
        if band_tables or (tables and not images):
            return _record_from_table(path, (band_tables or tables)[0][1], band)
        for _, hdu in images:
            _check_pixel_kind(path, hdu.data.dtype)
            image = np.asarray(hdu.data, dtype=np.float32)
            _check_shape(path, image)
            oid = next((hdu.header[k] for k in ID_COLUMNS if k in hdu.header), None)
            return BandRecord(None if oid is None else id_to_str(oid), image)
    raise FitsFormatError.at(path, "no BinTable or 2-D image HDU found")


def _check_pixel_kind(path: Path, dtype: np.dtype) -> None:
    """Refuse pixels that are not real numbers: complex (the imaginary part would be lost) and logical."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        raise FitsFormatError.at(path, f"image column holds complex numbers ({dtype}); pixels must be real")
    if kind == "b":
        raise FitsFormatError.at(path, "image column holds logical (true/false) values; pixels must be numbers")
    if kind not in "iuf":
        raise FitsFormatError.at(path, f"image column holds {dtype} values; pixels must be numbers")


def _record_from_table(path: Path, hdu: fits.BinTableHDU, band: str | None) -> BandRecord:
    names = list(hdu.columns.names)
    image_column = pick_image_column(path, names, band)
    check_row_count(path, 0 if hdu.data is None else len(hdu.data))
    _check_pixel_kind(path, hdu.data[image_column].dtype)
    image = np.asarray(hdu.data[image_column][0], dtype=np.float32)
    if image.ndim == 1 and image.size == STAMP_SIZE * STAMP_SIZE:
        image = image.reshape(STAMP_SIZE, STAMP_SIZE)
    _check_shape(path, image)
    id_column = _pick_id_column(names, image_column)
    oid = None
    if id_column is not None:
        raw = np.asarray(hdu.data)[id_column]  # text as its raw bytes (astropy's decoding writes U+FFFD)
        oid = id_to_str(raw[0] if raw.dtype.kind == "S" else hdu.data[id_column][0])
    return BandRecord(oid, image)


def _check_shape(path: Path, image: np.ndarray) -> None:
    if image.shape != (STAMP_SIZE, STAMP_SIZE):
        raise FitsFormatError.at(path, f"image has shape {image.shape}, expected ({STAMP_SIZE}, {STAMP_SIZE})")


def write_parameters_fits(path: str | os.PathLike[str], table: pd.DataFrame) -> None:
    """Write a class's ``parameters.fits`` (empty primary + BinTable), atomically.

    Column names are kept as given (the challenge's note spells ``vel disp`` with a space).
    """
    from astropy.table import Table

    hdu = fits.table_to_hdu(Table.from_pandas(table.reset_index(drop=True)))
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)


def read_parameters_fits(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``parameters.fits``; the ID column is returned as string column ``id``."""
    from astropy.table import Table

    path = Path(path)
    try:
        table = Table.read(path, hdu=1)
    except Exception as exc:
        raise FitsFormatError.at(path, f"unreadable parameters table ({type(exc).__name__}: {exc})") from exc
    names = list(table.colnames)
    id_column = next((c for c in ID_COLUMNS if c in names), None)
    if id_column is None:
        raise FitsFormatError.at(path, f"no ID column (looked for {', '.join(ID_COLUMNS)}; found {names})")
    frame = table.to_pandas()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: v.decode() if isinstance(v, bytes) else v)
    frame.insert(0, "id", [id_to_str(v) for v in table[id_column]])
    return frame.drop(columns=[id_column])
