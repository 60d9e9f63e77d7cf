"""An input that is packed stores and/or FITS trees: "give me a store for these paths" (one home).

Training data (``train DATA``, ``--adapt-to``), injection hosts (``inject --hosts``) and the
input of ``perturb`` may each be stores (``brahmasifier pack`` output), FITS roots in the
challenge's layout, or both. :func:`open_or_pack` packs the FITS roots (all of them together,
so IDs and stems are checked across them) with the package's packer
(:func:`brahmasifier.io.pack.pack_fits`: parallel, resumable, every object stored or listed in
``rejected.csv``) into a cache folder, so reading, the ID taken from the files and the
``parameters.fits`` join are the same for every command; it returns one store: the store
itself, or several read as one without copying (:class:`~brahmasifier.io.store.StoreUnion`:
the packed cache first, then the stores in the order given — the order ``predict`` reads a
mix in). :func:`store_paths` says which store folders that will be, without packing.

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
from brahmasifier.io.store import CutoutStore, is_complete_store, is_store_folder, open_store, open_stores

__all__ = ["is_store_input", "open_or_pack", "split_inputs", "store_paths"]

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _as_list(data: Paths) -> list[str | os.PathLike[str]]:
    return [data] if isinstance(data, (str, os.PathLike)) else list(data)


def split_inputs(data: Paths) -> tuple[list[Path], list[Path]]:
    """``data`` as (store folders, FITS roots), each in the order given; an unfinished store counts as a store."""
    paths = [Path(p) for p in _as_list(data)]
    return [p for p in paths if is_store_folder(p)], [p for p in paths if not is_store_folder(p)]


def is_store_input(data: Paths) -> bool:
    """True when ``data`` names only store folders, one or several (nothing to pack); an unfinished one is refused when opened."""
    stores, roots = split_inputs(data)
    return bool(stores) and not roots


def store_paths(data: Paths, cache_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The store folders :func:`open_or_pack` reads for ``data``: ``cache_dir`` first if there are FITS roots, then the stores.

    Raises:
        ~brahmasifier.errors.InputNotFoundError: FITS roots given but no ``cache_dir`` to pack them into.
    """
    stores, roots = split_inputs(data)
    if roots and cache_dir is None:
        raise InputNotFoundError(f"{', '.join(map(str, roots))}: not a packed store; give a cache folder to pack FITS roots into")
    return ([Path(cache_dir)] if roots and cache_dir is not None else []) + stores


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
    """One store for ``data``: its stores and its FITS roots packed into ``cache_dir``, read as one (see the module docstring).

    Args:
        data: store folders and/or FITS roots (one path or several).
        cache_dir: where FITS roots are packed (a store folder of its own).
        what: what ``data`` is, for the error naming a missing path (``"training data"``, ``"hosts"``).
        workers: the packer's worker processes (``None``: the usable CPUs; ``1``: in this process).
        progress: the packer's progress bar.
        reuse_packed: open a complete ``cache_dir`` without scanning the roots again (training's policy).
        note: called with one line before packing starts (e.g. rank zero's logger).

    Raises:
        ~brahmasifier.errors.InputNotFoundError: a path of ``data`` does not exist.
        ~brahmasifier.errors.StoreError: an unfinished store given as input, a cache packed from other inputs, or
            stores that cannot be read as one (other bands or stamp size, the same store twice).
    """
    stores, roots = split_inputs(data)
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise InputNotFoundError(f"{what} not found: {', '.join(missing)} (a packed store or a FITS tree)")
    opened = [open_store(p) for p in stores]  # refuse an unfinished store before packing anything
    if not roots:
        return open_stores(opened)
    if reuse_packed and is_complete_store(cache_dir):
        packed = open_store(cache_dir)
    else:
        if note is not None:
            once = " (once; reused on rerun)" if reuse_packed else ""
            note(f"packing FITS roots {', '.join(map(str, roots))} into {cache_dir}{once}")
        packed = pack_fits(roots, out=Path(cache_dir), workers=workers, progress=progress)
    return open_stores([packed, *opened])
