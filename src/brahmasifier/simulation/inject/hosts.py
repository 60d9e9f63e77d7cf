"""Host cutouts for injections: a packed store or FITS roots (packed once), their columns, and who may host.

``--hosts`` is a store (``brahmasifier pack`` output) or a FITS tree in the challenge's layout
(class folders with ``parameters.fits``, or neutral names), or several of them (read as one
store without copying: :func:`brahmasifier.io.store_input.open_or_pack`): a tree is packed first with the
package's packer (:func:`brahmasifier.io.pack.pack_fits`, parallel, resumable), so reading,
the ID taken from the files and the ``parameters.fits`` join are the same as for training
data. Every object found ends up a candidate host or a row of the returned rejects with its
reason: objects the packer could not read (its ``rejected.csv``), labelled lenses (label 1),
hosts with masked (non-finite) pixels beyond ``max_nan_pixels``, repeated IDs (the first is
kept). Hosts left out by ``host_query`` are counted, not listed.

``--catalog CSV`` adds or overrides columns by ID: ``id`` (required), and any of
``z_central``, ``mag_lens_<b>``, ``center_x``, ``center_y`` (arcsec from the stamp centre, x
along columns), ``psf_fwhm_<b>`` (arcsec). Catalogue rows naming no host are counted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError, InputError, InputNotFoundError
from brahmasifier.io.store import CutoutStore
from brahmasifier.io.store_input import open_or_pack
from brahmasifier.ranges import invalid_truth, physical_range

__all__ = ["CATALOG_COLUMNS", "REJECT_COLUMNS", "HostTable", "load_catalog", "open_hosts", "select_hosts"]

#: Columns a ``--catalog`` may give (besides ``id``).
CATALOG_COLUMNS: tuple[str, ...] = ("z_central", *(f"mag_lens_{b}" for b in BANDS), "center_x", "center_y",
                                    *(f"psf_fwhm_{b}" for b in BANDS))
#: Columns of the injection's ``rejected.csv``.
REJECT_COLUMNS: tuple[str, ...] = ("id", "stem", "file", "reason")


@dataclass
class HostTable:
    """Candidate hosts (store rows and columns), the rejected ones, and counts."""

    store: CutoutStore
    candidates: pd.DataFrame  # store index rows that may host, with a ``row`` column (store position)
    rejected: pd.DataFrame  # REJECT_COLUMNS
    n_found: int  # objects found (stored + unreadable)
    n_excluded_by_query: int
    n_catalog_unmatched: int


def open_hosts(hosts: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], cache_dir: Path, workers: int | None,
               progress: bool) -> CutoutStore:
    """The store of ``hosts``: the stores, and the FITS trees packed (resumably) into ``cache_dir``, read as one."""
    return open_or_pack(hosts, cache_dir, what="hosts", workers=workers, progress=progress)


def load_catalog(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A host catalogue CSV (see the module docstring), IDs as strings, known columns as floats."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: host catalogue not found")
    try:
        frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    if "id" not in frame.columns:
        raise InputError(f"{path}: the host catalogue needs an 'id' column; found {', '.join(map(str, frame.columns))}")
    known = [c for c in frame.columns if c in CATALOG_COLUMNS]
    for column in known:
        try:
            frame[column] = pd.to_numeric(frame[column])
        except ValueError:
            raise InputError(f"{path}: column {column!r} must be numeric") from None
    for column in known:
        bad, _ = invalid_truth(frame[column].to_numpy(np.float64), column)
        if bad.any():
            low, high = physical_range(column) or (float("nan"), float("nan"))
            examples = ", ".join(f"{i}: {v:g}" for i, v in zip(frame.loc[bad, "id"].head(3), frame.loc[bad, column].head(3),
                                                               strict=True))
            raise InputError(f"{path}: column {column!r} has {int(bad.sum())} value(s) outside its physical range "
                             f"{low:g}..{high:g} or not finite (e.g. {examples}); fix them or write -999 (unknown)")
    repeated = frame["id"].duplicated()
    if repeated.any():
        raise InputError(f"{path}: IDs repeat in the host catalogue (e.g. {frame.loc[repeated, 'id'].iloc[0]!r})")
    return frame[["id", *known]]


def select_hosts(store: CutoutStore, catalog: pd.DataFrame | None, max_nan_pixels: int, query: str | None) -> HostTable:
    """Candidate hosts of ``store`` and the rejected ones (see the module docstring)."""
    index = store.index.copy()
    index["id"] = index["id"].astype(str)
    index.insert(0, "row", np.arange(len(index), dtype=np.int64))
    unmatched = 0
    if catalog is not None:
        overlay = catalog.set_index("id")
        unmatched = int((~overlay.index.isin(index["id"])).sum())
        for column in overlay.columns:
            values = index["id"].map(overlay[column])
            index[column] = values.where(values.notna(), index[column]) if column in index else values
    reasons = pd.Series("", index=index.index, dtype=object)
    reasons[index["label"].to_numpy() == 1] = "a lens (label 1) cannot host an injection"
    too_masked = (index["n_nan"].to_numpy() > max_nan_pixels) & (reasons == "")
    reasons[too_masked] = pd.Series([f"{n} non-finite (masked) pixels; at most {max_nan_pixels} allowed"
                                     for n in index.loc[too_masked, "n_nan"]], index=index.index[too_masked], dtype=object)
    repeated = index["id"].duplicated(keep="first").to_numpy() & (reasons == "").to_numpy()
    reasons[repeated] = "repeated ID (its first object is used)"
    refused = index[reasons != ""]
    unread = store.rejected
    prefix = np.where(unread["stem"].astype(str) != "", "unreadable: ", "not a band file: ")
    rejected = pd.concat([
        pd.DataFrame({"id": "", "stem": unread["stem"], "file": unread["file"], "reason": prefix + unread["reason"].astype(str)}),
        pd.DataFrame({"id": refused["id"], "stem": refused["stem"], "file": "", "reason": reasons[reasons != ""]}),
    ], ignore_index=True).loc[:, list(REJECT_COLUMNS)]
    candidates = index[reasons == ""]
    n_excluded = 0
    if query:
        try:
            kept = candidates.query(query)
        except Exception as exc:  # pandas raises many kinds for a bad expression
            raise ConfigError(f"--host-query {query!r}: {type(exc).__name__}: {exc}") from None
        n_excluded = len(candidates) - len(kept)
        candidates = kept
    n_found = len(index) + int((unread["stem"].astype(str) != "").sum())
    return HostTable(store, candidates.reset_index(drop=True), rejected, n_found, n_excluded, unmatched)
