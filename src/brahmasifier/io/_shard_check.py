"""Is a store shard what its manifest says? Checked from the ``.npy`` header and the file size alone.

``np.load(mmap_mode="r")`` on a damaged shard fails with "mmap length is greater than file
size" or "Object arrays cannot be loaded", naming no file; ``info`` would call such a store
healthy. :func:`check_shard_file` reads only the header (a few hundred bytes) and ``stat``s the
file, so ``info`` checks every shard and every reader checks a shard before mapping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from brahmasifier.errors import StoreError

__all__ = ["check_shard_file"]

#: Public .npy header readers by format version (the store writes 1.0).
_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_REPACK = "rerun `brahmasifier pack --overwrite`"


def check_shard_file(path: Path, expected: tuple[int, ...]) -> None:
    """Raise :class:`StoreError` naming ``path`` unless it is a C-order float32 ``.npy`` of shape ``expected``, complete.

    Args:
        path: the shard file.
        expected: ``(n, bands, size, size)`` from the manifest.
    """
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version not in _NPY_HEADER_READERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = _NPY_HEADER_READERS[version](fh)
            offset = fh.tell()
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: shard missing (the manifest lists {expected[0]} images in it); {_REPACK}") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: not a readable .npy shard ({exc}); {_REPACK}") from None
    if dtype.hasobject:
        raise StoreError(f"{path}: shard holds Python objects (dtype {dtype}), expected float32 images; "
                         f"it is never unpickled; {_REPACK}")
    if tuple(shape) != tuple(expected) or dtype != np.float32 or fortran:
        raise StoreError(f"{path}: shard is {tuple(shape)} {dtype}, the manifest expects {tuple(expected)} float32")
    needed = offset + int(np.prod(expected)) * 4
    if size < needed:
        raise StoreError(f"{path}: shard truncated ({size:,} bytes, its header says {needed:,}); {_REPACK}")
