"""Shared fixtures: tiny challenge-format data written with the package's own writer.

These images are simple Gaussian blobs (no lenstronomy), enough to exercise I/O, stores,
training loops and prediction plumbing quickly. Tests of physics use the simulator itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch  # noqa: F401  (see below)
import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.fits import write_band_fits, write_parameters_fits
from brahmasifier.io.naming import band_filename, labelled_stem
from brahmasifier.io.release import CLASS_FOLDERS

# Lightning binds a logging StreamHandler to the sys.stderr of the moment it is first imported.
# Imported here, that is the session's stream; imported first inside a test that captures
# stderr (capsys), it would be that test's stream, closed afterwards, and every later
# Lightning log line would print "--- Logging error ---" tracebacks into other tests' stderr.


def blob_image(rng: np.random.Generator, lens: bool) -> np.ndarray:
    """A 5-band toy cutout: a central blob, plus a ring for 'lenses' (so a model can learn it)."""
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    r = np.hypot(x, y)
    image = np.empty((len(BANDS), STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    for b in range(len(BANDS)):
        core = 50.0 * np.exp(-0.5 * (r / 2.5) ** 2)
        ring = 15.0 * np.exp(-0.5 * ((r - 7.0) / 1.2) ** 2) * (b < 2) if lens else 0.0
        image[b] = core + ring + rng.normal(0.0, 1.0, r.shape)
    return image


def write_tiny_challenge_tree(root: Path, n_per_class: int, seed: int = 0) -> pd.DataFrame:
    """Write the four class folders in the **legacy** form; return the truth.

    Flat class folders, ``D1_L0000000_b.fits`` names, float32 images, HSC IDs as integer
    columns: what this package wrote before it followed the published release, kept here so
    that the old form stays covered by every test that uses this tree. The published form has
    its own fixture (``tests/release/``).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for (domain, label), folder in CLASS_FOLDERS.items():
        params = []
        for k in range(n_per_class):
            stem = labelled_stem(domain, label, k, form="legacy")
            object_id = (f"GG-LENS_{rng.uniform(0, 60):.4f}_{rng.uniform(-30, 0):.4f}" if domain == "slsim"
                         else int(rng.integers(10**16, 10**17)))
            image = blob_image(rng, bool(label))
            for b, band in enumerate(BANDS):
                write_band_fits(root / folder / band_filename(stem, band), object_id, band, image[b],
                                id_column="Lens ID" if label else "Object ID")
            rein = float(rng.uniform(0.8, 2.0)) if label else -999.0
            params.append({"Lens ID" if label else "Object ID": str(object_id), "Rein": rein, "zlens": 0.5})
            rows.append({"id": str(object_id), "stem": stem, "label": label, "domain": domain, "Rein": rein})
        write_parameters_fits(root / folder / "parameters.fits", pd.DataFrame(params))
    return pd.DataFrame(rows)


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep ONNX exports (and any other cache) of the test session out of the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("brahmasifier-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAHMASIFIER_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_challenge_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A read-only challenge-layout tree with 6 objects per class (24 objects) and its truth table."""
    root = tmp_path_factory.mktemp("challenge")
    truth = write_tiny_challenge_tree(root, n_per_class=6, seed=1)
    return root, truth
