"""An input that is a packed store or a FITS tree: "give me a store for this path" (one home).

Training data (``train DATA``, ``--adapt-to``), injection hosts (``inject --hosts``) and the
input of ``perturb`` may each be a store (``brahmasifier pack`` output) or FITS roots in the
challenge's layout. :func:`open_or_pack` opens the store, or packs the roots with the
package's packer (:func:`brahmasifier.io.pack.pack_fits`: parallel, resumable, every object
stored or listed in ``rejected.csv``) into a cache folder and opens that, so reading, the ID
taken from the files and the ``parameters.fits`` join are the same for every command.

Two cache policies, because the callers need both:

- ``reuse_packed=False`` (injection, ``perturb``): :func:`~brahmasifier.io.pack.pack_fits` runs
  every time; it returns a complete cache packed from identical inputs as it is, resumes an
  interrupted one, and refuses one packed from other inputs.
- ``reuse_packed=True`` (training): a complete cache is opened without scanning the roots again
  (``LensDataModule.prepare_data`` runs once per node, and a rescan of 10⁹ cutouts costs as
  much as a directory walk of them); the roots are packed "once, reused on rerun".

An unfinished store folder is a store (:func:`~brahmasifier.io.store.is_store_folder`), so
:func:`~brahmasifier.io.store.open_store` refuses it with "rerun pack" instead of it being
scanned as an empty FITS tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from brahmasifier.errors import InputNotFoundError
from brahmasifier.io.pack import pack_fits
from brahmasifier.io.store import CutoutStore, is_complete_store, is_store_folder, open_store

__all__ = ["is_store_input", "open_or_pack"]

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _as_list(data: Paths) -> list[str | os.PathLike[str]]:
    return [data] if isinstance(data, (str, os.PathLike)) else list(data)


def is_store_input(data: Paths) -> bool:
    """True when ``data`` names one store folder (else: FITS roots to pack); an unfinished store is refused when opened."""
    paths = _as_list(data)
    return len(paths) == 1 and is_store_folder(paths[0])


def open_or_pack(
    data: Paths,
    cache_dir: str | os.PathLike[str],
    *,
    what: str,
    workers: int | None = None,
    progress: bool = True,
    reuse_packed: bool = False,
    note: Callable[[str], None] | None = None,
) -> CutoutStore:
    """A store for ``data``: the store itself, or the FITS roots packed into ``cache_dir`` (see the module docstring).

    Args:
        data: one store folder, or FITS roots (one path or several).
        cache_dir: where FITS roots are packed (a store folder of its own).
        what: what ``data`` is, for the error naming a missing path (``"training data"``, ``"hosts"``).
        workers: the packer's worker processes (``None``: the usable CPUs; ``1``: in this process).
        progress: the packer's progress bar.
        reuse_packed: open a complete ``cache_dir`` without scanning the roots again (training's policy).
        note: called with one line before packing starts (e.g. rank zero's logger).

    Raises:
        ~brahmasifier.errors.InputNotFoundError: a path of ``data`` does not exist.
        ~brahmasifier.errors.StoreError: an unfinished store given as input, or a cache packed from other inputs.
    """
    paths = _as_list(data)
    if is_store_input(paths):
        return open_store(paths[0])
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise InputNotFoundError(f"{what} not found: {', '.join(missing)} (a packed store or a FITS tree)")
    if reuse_packed and is_complete_store(cache_dir):
        return open_store(cache_dir)
    if note is not None:
        once = " (once; reused on rerun)" if reuse_packed else ""
        note(f"packing FITS roots {', '.join(map(str, paths))} into {cache_dir}{once}")
    return pack_fits([Path(p) for p in paths], out=Path(cache_dir), workers=workers, progress=progress)
