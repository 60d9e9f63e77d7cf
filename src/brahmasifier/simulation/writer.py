"""How simulated objects are written: the challenge release's published form, for every engine.

An engine makes images and truth rows; this module alone decides file names, folders, FITS
layout and catalogues, so every engine's output reads like the release (``docs/architecture.md``).

``challenge`` layout (the labelled release)::

    OUT/slsim_lenses/slsim_lenses/D1_L_00000000_g.fits ...  one-row BinTable: "Lens ID" (string,
    OUT/slsim_lenses/parameters.fits                         >= 24A) + band_g (1681D, TDIM (41,41))
    OUT/slsim_lenses/_manifest.txt                          the band files, one per line
    OUT/slsim_nonlenses/ (Object ID, >= 23A)  OUT/hsc_lenses/ OUT/hsc_nonlenses/ (>= 22A; D2_...)

``test`` layout (the blind set)::

    OUT/images/object_00000_g.fits ...   41×41 float64 image in the primary HDU, no ID column
    OUT/truth.csv                        outside the data folder: id (= stem), stem, label, domain, ...

IDs are written as strings (HSC's integer IDs as their decimal digits); the string width is the
release's per class (24/23/22/22) or the ID's length if longer. Band files carry ``BUNIT='nJy'``
and ``ZP=31.4``. Parameter columns are written under their canonical names (``vel_disp``, see
:mod:`brahmasifier.io.parameters`). Files are written with the byte-identical fast writer
(:mod:`brahmasifier.io._fastwrite`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import BANDS
from brahmasifier.io._fastwrite import write_band_fits_fast, write_image_fits_fast
from brahmasifier.io.fits import write_parameters_fits
from brahmasifier.io.naming import band_filename, blind_stem, labelled_stem
from brahmasifier.io.parameters import canonical_parameter_name
from brahmasifier.io.release import (
    CLASS_FOLDERS,
    PARAMETERS_FILE,
    RELEASE_MANIFEST,
    SIMULATION_FILES,
    class_folder,
    write_release_manifest,
)
from brahmasifier.simulation.instrument import NJY_ZERO_POINT, PIXEL_UNIT

__all__ = [
    "BLIND_FOLDER", "FITS_HEADER", "LAYOUTS", "OWN_ENTRIES", "RELEASE_ID_WIDTHS", "TRUTH_FILE", "DatasetWriter", "id_column",
]

LAYOUTS: tuple[str, ...] = ("challenge", "test")
FITS_HEADER: dict[str, object] = {"BUNIT": PIXEL_UNIT, "ZP": NJY_ZERO_POINT}
#: ID column widths of the real release's band files (``hdul.info()`` of one file per class).
RELEASE_ID_WIDTHS: dict[tuple[str, int], int] = {("slsim", 1): 24, ("slsim", 0): 23, ("hsc", 1): 22, ("hsc", 0): 22}
BLIND_FOLDER = "images"
#: Everything a simulation writes directly in its output folder (any other entry there is not ours).
OWN_ENTRIES: frozenset[str] = frozenset(CLASS_FOLDERS.values()) | {BLIND_FOLDER} | SIMULATION_FILES
TRUTH_FILE = "truth.csv"


def id_column(label: int) -> str:
    """The release's ID column name: ``Lens ID`` for lenses, ``Object ID`` for non-lenses."""
    return "Lens ID" if label == 1 else "Object ID"


@dataclass(frozen=True)
class DatasetWriter:
    """Writes one simulated data set under ``out`` in ``layout`` (cheap to pickle into workers)."""

    out: Path
    layout: str = "challenge"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}")

    def image_folder(self, domain: str = "", label: int = 0) -> Path:
        """Where the band files of a class (challenge layout) or of the blind set (test layout) go."""
        if self.layout == "test":
            return self.out / BLIND_FOLDER
        name = class_folder(domain, label)
        return self.out / name / name

    def stem(self, domain: str, label: int, index: int, number: int) -> str:
        """File stem of an object: ``D1_L_00000042`` (by class index) or ``object_00042`` (by blind-set position)."""
        return labelled_stem(domain, label, index) if self.layout == "challenge" else blind_stem(number)

    def write_object(self, domain: str, label: int, index: int, number: int, object_id: str | int, image: np.ndarray) -> str:
        """Write the five band files of one object; return its stem.

        Args:
            domain: ``"slsim"`` or ``"hsc"``.
            label: 1 lens, 0 non-lens.
            index: the object's index within its class (names labelled files).
            number: its position in the shuffled blind set (names blind files).
            object_id: the catalogue ID (written as a string).
            image: float array ``(5, 41, 41)`` in band order.

        Returns:
            The stem the files were written under.
        """
        stem = self.stem(domain, label, index, number)
        folder = self.image_folder(domain, label)
        for b, band in enumerate(BANDS):
            path = folder / band_filename(stem, band)
            if self.layout == "test":
                write_image_fits_fast(path, image[b], dtype=np.float64, header=FITS_HEADER)
            else:
                write_band_fits_fast(path, str(object_id), band, image[b], id_column=id_column(label), header=FITS_HEADER,
                                     dtype=np.float64, id_width=RELEASE_ID_WIDTHS[(domain, label)])
        return stem

    def write_class_catalogue(self, domain: str, label: int, stems: Sequence[str], rows: Sequence[Mapping[str, object]]) -> Path:
        """Write a class's ``parameters.fits`` (one row per object, ``id`` first) and ``_manifest.txt``.

        Args:
            domain: the class's domain.
            label: the class's label.
            stems: the class's objects, in catalogue order.
            rows: their catalogue rows; ``id`` holds the object ID, other keys are parameter columns.

        Returns:
            The class folder (the outer one, holding the tables).
        """
        name = class_folder(domain, label)
        folder = self.out / name
        table = pd.DataFrame([{canonical_parameter_name(k): v for k, v in row.items()} for row in rows])
        table = table.rename(columns={"id": id_column(label)})
        table[id_column(label)] = table[id_column(label)].astype(str)
        write_parameters_fits(folder / PARAMETERS_FILE, table)
        names = [f"{name}/{band_filename(stem, band)}" for stem in stems for band in BANDS]
        write_release_manifest(folder / RELEASE_MANIFEST, names, comment=f"{len(names)} band files of {len(stems)} objects "
                               f"({name}), written by brahmasifier simulate")
        return folder

    def write_truth(self, rows: Sequence[Mapping[str, object]]) -> Path:
        """Write the blind set's ``truth.csv`` beside (not inside) the image folder; columns canonical."""
        frame = pd.DataFrame([{canonical_parameter_name(k): v for k, v in row.items()} for row in rows])
        path = self.out / TRUTH_FILE
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        return path
