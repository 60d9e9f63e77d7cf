"""Reading and writing the challenge's FITS files, and the packed cutout store.

``scan_fits_tree`` finds objects, ``read_object`` reads one, ``pack_fits`` packs a whole tree
into a store that ``open_store`` opens (``open_stores``: several stores read as one).
"""

from brahmasifier.errors import FitsFormatError, StoreError
from brahmasifier.io.fastfits import read_band_fits_fast
from brahmasifier.io.fits import (
    read_band_fits_astropy,
    read_parameters_fits,
    write_band_fits,
    write_image_fits,
    write_parameters_fits,
)
from brahmasifier.io.pack import pack_fits
from brahmasifier.io.reader import ObjectImage, read_object
from brahmasifier.io.scan import ObjectFiles, ScanResult, scan_fits_tree
from brahmasifier.io.store import CutoutStore, StoreUnion, open_store, open_stores

__all__ = [
    "CutoutStore",
    "FitsFormatError",
    "ObjectFiles",
    "ObjectImage",
    "ScanResult",
    "StoreError",
    "StoreUnion",
    "open_store",
    "open_stores",
    "pack_fits",
    "read_band_fits_astropy",
    "read_band_fits_fast",
    "read_object",
    "read_parameters_fits",
    "scan_fits_tree",
    "write_band_fits",
    "write_image_fits",
    "write_parameters_fits",
]
