"""``brahmasifier perturb``: stores and/or FITS trees (packed first) transformed object by object into a new store.

Contract:

- The output is a store (:mod:`brahmasifier.io.store`) with the input's index columns
  (IDs, labels, domains, joined parameters) plus the truth of what was applied to each object
  (:data:`brahmasifier.survey.transforms.TRUTH_COLUMNS`) and, as every store, ``n_nan`` and
  ``n_masked`` recounted on the new pixels (bad pixels are written as NaN in the shards and
  read as 0, so ``circles`` masks are counted). ``manifest.json`` records the settings and
  the input under ``"perturb"``. A FITS tree is packed into ``OUT/.perturb_input`` first
  (the same ``pack``: parameters joined, unreadable objects listed in ``rejected.csv``),
  removed when the run finishes. Several inputs are read as one store
  (:func:`brahmasifier.io.store_input.open_or_pack`: the packed trees first, then the stores;
  nothing copied), and the output's ``source_store`` column says which store each object came from.
- Deterministic per seed: object ``k`` (store row) draws from
  ``numpy.random.default_rng([seed, k])`` alone, so any chunk can be redone and gives the same
  pixels; the result does not depend on the chunk size.
- Resumable and atomic: the objects go in chunks of ``shard_size``; each chunk's shard is
  written atomically, then its truth part (``.perturb_parts/part-NNNNN.parquet``); a rerun with
  the same settings keeps finished chunks (other settings are refused: choose another
  ``--out``); ``manifest.json`` is written last.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier._outputs import check_output_folder
from brahmasifier._progress import progress_bar
from brahmasifier.errors import OutputExistsError
from brahmasifier.io.store import (
    INDEX,
    MANIFEST,
    REJECTED,
    SHARD_DIR,
    CutoutStore,
    ShardWriter,
    finalize_store,
    shard_filename,
)
from brahmasifier.io.store_input import open_or_pack, split_inputs
from brahmasifier.pixels import bad_pixel_mask, invalid_mask
from brahmasifier.survey.transforms import PerturbConfig, perturb_image

__all__ = ["PARTS", "SETTINGS", "perturb_data"]

PARTS = ".perturb_parts"
SETTINGS = ".perturb_settings.json"
_INPUT = ".perturb_input"
_OWN = frozenset({MANIFEST, INDEX, REJECTED, SHARD_DIR})


def perturb_data(data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                 config: PerturbConfig, seed: int, *, shard_size: int = 4096, progress: bool = True) -> CutoutStore:
    """Write ``out``: every object of ``data`` (stores and/or FITS trees) transformed by ``config`` (see module docstring)."""
    paths = [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(p) for p in data]
    out = Path(out)
    check_output_folder(out, _OWN, "a perturbed store")
    if (out / MANIFEST).is_file():
        raise OutputExistsError(f"{out}: already holds a finished store; choose a new --out")
    resolved = [str(p.resolve()) for p in paths]
    settings = {"input": resolved[0] if len(resolved) == 1 else resolved, "seed": int(seed), "shard_size": int(shard_size),
                **config.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / SETTINGS
    if settings_file.is_file():
        before = json.loads(settings_file.read_text())
        if before != settings:
            changed = sorted(k for k in settings if before.get(k) != settings[k])
            raise OutputExistsError(f"{out}: holds an unfinished perturb run with other settings ({', '.join(changed)}); "
                                    "rerun with the same settings to resume, or choose a new --out")
    else:
        write_text_atomic(settings_file, json.dumps(settings, indent=2))
    source = open_or_pack(paths, out / _INPUT, what="perturb input", workers=1, progress=progress)
    n = len(source)
    (out / PARTS).mkdir(exist_ok=True)
    (out / SHARD_DIR).mkdir(exist_ok=True)
    chunks = [(k, start, min(start + shard_size, n)) for k, start in enumerate(range(0, n, shard_size))]
    parts = []
    with progress_bar(total=n, desc="perturb", unit="obj", enabled=progress) as bar:
        for number, start, stop in chunks:
            part = out / PARTS / f"part-{number:05d}.parquet"
            if not (part.is_file() and (out / shard_filename(number)).is_file()):
                _perturb_chunk(source, out, number, start, stop, config, seed, part)
            parts.append(pd.read_parquet(part))
            bar.update(stop - start)
    truth = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    index = source.index.reset_index(drop=True).copy()
    before_nan = index["n_nan"].to_numpy(np.int64) if "n_nan" in index else np.zeros(n, np.int64)
    for column in truth.columns:
        index[column] = truth[column].to_numpy()
    if len(truth):  # bad pixels the input had were stored as 0: keep counting them
        index["n_nan"] = before_nan + truth["n_nan"].to_numpy(np.int64)
        index["n_masked"] = np.minimum(index["n_masked"].to_numpy(np.int64) + before_nan, int(np.prod(source.read([0]).shape)))
    stores, roots = split_inputs(paths)
    extra: dict[str, object] = {"perturb": {**settings, "input_kind": "mixed" if stores and roots else "store" if stores
                                            else "fits"}}
    store = finalize_store(out, [(shard_filename(k), stop - start) for k, start, stop in chunks], index,
                           source.rejected, extra=extra)
    shutil.rmtree(out / PARTS, ignore_errors=True)
    shutil.rmtree(out / _INPUT, ignore_errors=True)
    settings_file.unlink(missing_ok=True)
    return store


def _perturb_chunk(source: CutoutStore, out: Path, number: int, start: int, stop: int, config: PerturbConfig,
                   seed: int, part: Path) -> None:
    rows = []
    with ShardWriter(out, number) as writer:
        for block in range(start, stop, 256):
            rows_here = np.arange(block, min(block + 256, stop))
            images = source.read(rows_here)
            batch = np.empty_like(images)
            for j, row in enumerate(rows_here):
                image, truth = perturb_image(images[j], config, np.random.default_rng([int(seed), int(row)]))
                batch[j] = image
                rows.append(truth)
            bad = bad_pixel_mask(batch)
            invalid = invalid_mask(batch)
            batch[bad] = 0.0  # stored as the packer stores them: counted in n_nan, read as 0 (not counted twice)
            for j in range(len(batch)):
                rows[len(rows) - len(batch) + j].update(
                    n_nan=int(bad[j].sum()), n_masked=int(invalid[j].sum()))
            writer.write(batch)
    with atomic_path(part) as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
