"""A tiny copy of the challenge release in its published form, written with the package's writers.

What it holds (every point of ``docs/architecture.md``'s "the release as published")::

    data/slsim_lenses/slsim_lenses/D1_L_0000000k_b.fits   Lens ID strings (24A; one longer, widened)
    data/slsim_lenses/parameters.fits                      canonical vel_disp
    data/slsim_lenses/_manifest.txt                        "slsim_lenses/<file> <size>" + comments
    data/slsim_nonlenses/slsim_nonlenses/...               Object ID strings; NO parameters.fits;
    data/slsim_nonlenses/_manifest.txt                     CRLF lines, bare names
    data/hsc_lenses/hsc_lenses/...                         GG-LENS_ IDs (22A)
    data/hsc_lenses/parameters.fits                        old spelling "vel disp"
    data/hsc_lenses/parameters_updated.fits                vel_disp, Rein for 3 of 4 IDs + a new column
    data/hsc_lenses/_manifest.txt
    data/hsc_nonlenses/hsc_nonlenses/...                   digit-string IDs with leading zeros (22A)
    data/hsc_nonlenses/parameters.fits + _manifest.txt
    data/test_dataset/object_0000k_b.fits                  blind set: float64 primary-HDU images, no ID
    blind_truth.csv                                        outside data/

Band images are float64 (``1681D`` + TDIM), written by ``DatasetWriter`` (the simulator's writer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io._fastwrite import write_image_fits_fast
from brahmasifier.io.fits import write_parameters_fits
from brahmasifier.io.naming import band_filename, blind_stem
from brahmasifier.io.release import write_release_manifest
from brahmasifier.simulation.writer import DatasetWriter

N_PER_CLASS = 4
N_BLIND = 6
IDS: dict[tuple[str, int], list[str]] = {
    ("slsim", 1): ["GG-LENS_61.123456_-33.654321", "GG-LENS_1.5_-2.5", "GG-LENS_12.25_-40.0", "GG-LENS_7.0_-7.0"],
    ("slsim", 0): ["GG-NL_52.1_-30.2", "GG-NL_52.2_-30.3", "GG-NL_52.3_-30.4", "GG-NL_52.4_-30.5"],
    ("hsc", 1): ["GG-LENS_-0.2455_0.0251", "GG-LENS_-0.2455_0.0252", "GG-LENS_-1.0_1.0", "GG-LENS_-2.0_2.0"],
    ("hsc", 0): ["0036411448540270969", "00123", "42", "0000000000000000000007"],
}


def blob(rng: np.random.Generator, lens: bool) -> np.ndarray:
    """A 5-band toy cutout (float64): a central blob, plus a ring for lenses."""
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    r = np.hypot(x, y)
    ring = 15.0 * np.exp(-0.5 * ((r - 7.0) / 1.2) ** 2) if lens else 0.0
    return np.stack([50.0 * np.exp(-0.5 * (r / 2.5) ** 2) + ring + rng.normal(0, 1, r.shape) for _ in BANDS])


@dataclass
class PublishedRelease:
    """Where the tiny release is and what it should read as."""

    root: Path  # the folder holding data/ (and the blind truth)
    truth: pd.DataFrame  # labelled objects: id, stem, label, domain, folder
    parameters: pd.DataFrame  # expected joined parameters by id: vel_disp, Rein, zlens, zsrc, z_central
    blind: pd.DataFrame  # blind objects: stem, label
    images: dict[str, np.ndarray]  # stem -> the (5, 41, 41) float64 image written


def write_published_release(root: Path, seed: int = 0) -> PublishedRelease:
    """Write the tree described in the module docstring under ``root``."""
    rng = np.random.default_rng(seed)
    data = root / "data"
    writer = DatasetWriter(data, "challenge")
    truth, images = [], {}
    for (domain, label), ids in IDS.items():
        stems = []
        for index, object_id in enumerate(ids):
            image = blob(rng, bool(label))
            stem = writer.write_object(domain, label, index, index, object_id, image)
            stems.append(stem)
            images[stem] = image
            truth.append({"id": object_id, "stem": stem, "label": label, "domain": domain})
        folder = writer.image_folder(domain, label)
        names = [band_filename(s, b) for s in stems for b in BANDS]
        if (domain, label) == ("slsim", 1):  # paths relative to the manifest, a size column, comments
            lines = [f"{folder.name}/{n} {(folder / n).stat().st_size}" for n in names]
            write_release_manifest(folder.parent / "_manifest.txt", ["", *lines], comment="files of slsim_lenses\nname size")
        elif (domain, label) == ("slsim", 0):  # bare names, Windows line ends
            (folder.parent / "_manifest.txt").write_bytes(("\r\n".join(names) + "\r\n").encode())
        else:
            write_release_manifest(folder.parent / "_manifest.txt", names)
    truth_frame = pd.DataFrame(truth)

    lens_s, lens_h, non_h = IDS[("slsim", 1)], IDS[("hsc", 1)], IDS[("hsc", 0)]
    write_parameters_fits(data / "slsim_lenses" / "parameters.fits", pd.DataFrame(
        {"Lens ID": lens_s, "vel_disp": [200.0, 210.0, 220.0, -999.0], "Rein": [1.0, 1.1, 1.2, 1.3], "zlens": [0.3] * 4}))
    write_parameters_fits(data / "hsc_lenses" / "parameters.fits", pd.DataFrame(
        {"Lens ID": lens_h, "vel disp": [100.0, 101.0, 102.0, 103.0], "Rein": [0.5, 0.6, 0.7, 0.8], "zlens": [0.4] * 4}))
    write_parameters_fits(data / "hsc_lenses" / "parameters_updated.fits", pd.DataFrame(
        {"Lens ID": lens_h[:3], "vel_disp": [300.0, 301.0, 302.0], "Rein": [1.5, 1.6, 1.7], "zsrc": [1.1, 1.2, 1.3]}))
    write_parameters_fits(data / "hsc_nonlenses" / "parameters.fits", pd.DataFrame(
        {"Object ID": non_h, "z_central": [0.1, 0.2, 0.3, 0.4], "mag_lens_g": [20.0, 21.0, 22.0, 23.0]}))
    nan = float("nan")
    expected = pd.DataFrame({
        "id": lens_s + IDS[("slsim", 0)] + lens_h + non_h,
        "vel_disp": [200.0, 210.0, 220.0, -999.0] + [nan] * 4 + [300.0, 301.0, 302.0, 103.0] + [nan] * 4,
        "Rein": [1.0, 1.1, 1.2, 1.3] + [nan] * 4 + [1.5, 1.6, 1.7, 0.8] + [nan] * 4,
        "zlens": [0.3] * 4 + [nan] * 4 + [0.4] * 4 + [nan] * 4,
        "zsrc": [nan] * 8 + [1.1, 1.2, 1.3, nan] + [nan] * 4,
        "z_central": [nan] * 12 + [0.1, 0.2, 0.3, 0.4],
    })

    blind_rows = []
    for number in range(N_BLIND):
        label = number % 2
        image = blob(rng, bool(label))
        stem = blind_stem(number)
        for b, band in enumerate(BANDS):
            write_image_fits_fast(data / "test_dataset" / band_filename(stem, band), image[b])
        images[stem] = image
        blind_rows.append({"id": stem, "stem": stem, "label": label, "domain": "slsim"})
    blind = pd.DataFrame(blind_rows)
    blind.to_csv(root / "blind_truth.csv", index=False)
    return PublishedRelease(root, truth_frame, expected, blind, images)
