"""Tiny hostile inputs for the battery: blind and labelled band files, a random-weight model, CLI runners.

Every case of issue 16 is built from these few helpers on a handful of objects, so each test
runs the real command line on data it wrote itself in well under a second of I/O.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.fits import write_band_fits, write_image_fits
from brahmasifier.io.naming import band_filename, blind_stem

TINY_MODEL = {"widths": [8, 16], "depths": [1, 1]}


def image(seed: int) -> np.ndarray:
    """A 5-band cutout: a Gaussian blob on noise (float64, nJy-like levels)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    core = 50.0 * np.exp(-0.5 * (np.hypot(x, y) / 2.5) ** 2)
    return np.stack([core + rng.normal(0.0, 1.0, core.shape) for _ in BANDS])


def write_blind(folder: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` blind-set objects ``object_NNNNN_<b>.fits`` (primary-HDU images, no ID); returns the stems."""
    stems = []
    for k in range(n):
        stem = blind_stem(k)
        pixels = image(seed * 1000 + k)
        for b, band in enumerate(BANDS):
            write_image_fits(folder / band_filename(stem, band), pixels[b])
        stems.append(stem)
    return stems


def write_blind_object(folder: Path, stem: str, pixels: np.ndarray, names: Sequence[str] | None = None) -> None:
    """One blind object under ``stem`` (or under the given five file names, in band order)."""
    for b, band in enumerate(BANDS):
        name = names[b] if names is not None else band_filename(stem, band)
        write_image_fits(folder / name, pixels[b])


def write_labelled(folder: Path, stem: str, object_id: str, pixels: np.ndarray, **kwargs: object) -> None:
    """One labelled object (one-row BinTables with an ID column), as the release has them."""
    for b, band in enumerate(BANDS):
        write_band_fits(folder / band_filename(stem, band), object_id, band, pixels[b], dtype=np.float64, **kwargs)


def saved_model(folder: Path, seed: int = 3, **card: object) -> Path:
    """A run-like folder with a tiny random-weight compact model in ``folder/model``."""
    import torch

    from brahmasifier.models import ModelCard, build_model, save_model

    model_card = ModelCard(architecture="compact", model_kwargs=dict(TINY_MODEL), **card)  # type: ignore[arg-type]
    torch.manual_seed(seed)
    save_model(build_model(model_card), model_card, folder / "model")
    return folder


@dataclass
class Ran:
    """What a command printed and returned."""

    rc: int
    out: str
    err: str


def cli(*args: object) -> Ran:
    """Run ``brahmasifier ARGS`` in this process (fast: no interpreter start-up), capturing its output."""
    from brahmasifier.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            rc = int(exc.code or 0)
    return Ran(rc, out.getvalue(), err.getvalue())


def one_line_error(ran: Ran, *words: str) -> None:
    """Assert that a command failed with the CLI's one-line user error (exit 2, no traceback) naming ``words``."""
    assert ran.rc == 2, ran.err
    assert "Traceback" not in ran.err and len(ran.err.strip().splitlines()) <= 2, ran.err
    for word in words:
        assert word in ran.err, ran.err


def cli_process(*args: object, timeout: float = 300, env: dict[str, str] | None = None) -> Ran:
    """Run ``python -m brahmasifier ARGS`` in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "brahmasifier", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return Ran(done.returncode, done.stdout, done.stderr)


def predict(data: Path | Sequence[Path], model: Path, out: Path, *extra: object) -> Ran:
    """``brahmasifier predict`` with the small, deterministic settings the battery uses."""
    paths = [data] if isinstance(data, Path) else list(data)
    return cli("predict", "--model", model, "--data", *paths, "--out", out / "submission.csv", "--probs",
               out / "probs.csv", "--workers", "0", "--no-progress", "--onnx" if "--no-onnx" not in extra else "--no-onnx",
               *[e for e in extra if e != "--no-onnx"])


def read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV with every cell as text (IDs stay exact); raises if the file is not valid UTF-8."""
    path.read_bytes().decode("utf-8")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def accounted_stems(out: Path) -> set[str]:
    """Every stem that a prediction's outputs account for: scored (probs.csv) or rejected (rejected.csv)."""
    probs = read_csv_text(out / "probs.csv")
    rejected = read_csv_text(out / "rejected.csv")
    scored = {s for cell in probs["stem"] for s in cell.split(";")}
    return scored | set(rejected.loc[rejected["stem"] != "", "stem"])


def labelled_store(path: Path, n: int, seed: int = 0) -> Path:
    """A learnable store written from arrays: lenses have a ring in g and r (half of the objects)."""
    from brahmasifier.io.store import write_store

    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    ring = 15.0 * np.exp(-0.5 * ((np.hypot(x, y) - 7.0) / 1.2) ** 2)
    images = np.stack([image(seed * 1000 + k) + ring * (np.arange(len(BANDS)) < 2)[:, None, None] * (k % 2)
                       for k in range(n)]).astype(np.float32)
    index = pd.DataFrame({"id": [f"obj{k}" for k in range(n)], "stem": [f"D1_L_{k:08d}" for k in range(n)],
                          "label": [k % 2 for k in range(n)], "domain": ["slsim" if k % 4 < 2 else "hsc" for k in range(n)],
                          "n_nan": 0})
    write_store(path, images, index)
    return path
