"""Input files, checked before they are opened: only regular files, and a size cap where one applies.

A named pipe called ``object_00003_g.fits`` blocks ``open()`` until a writer comes (``pack``
hung forever); a band file linked to ``/dev/zero`` or a valid header padded to a 2 GB sparse
file is read without end or into memory. Every reader of a user's input file asks
:func:`check_input_file` first: it calls ``stat`` on the path (which never blocks, also not on a
pipe), refuses anything but a regular file (after following links) with the file type named,
and refuses a file larger than ``max_bytes``.

Band files: :data:`MAX_BAND_FILE_BYTES` is 4 MiB. A challenge band file is one 41×41 image in
one or two HDUs: 14–20 kB (published form ``24A`` + ``1681D``: 20,160 bytes); even a float64
image with a large catalogue table after it stays far below. The fast reader also checks the
file against the size its own headers give (:mod:`brahmasifier.io.fastfits`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from brahmasifier.errors import InputError

__all__ = ["MAX_BAND_FILE_BYTES", "check_input_file", "file_kind", "input_problem"]

#: The largest band file read (see module docstring).
MAX_BAND_FILE_BYTES = 4 << 20

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def file_kind(mode: int) -> str:
    """What a ``stat`` mode is, in words (``"a named pipe"``, ``"a regular file"``)."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else "not a file")


def input_problem(path: str | os.PathLike[str], max_bytes: int | None = None) -> tuple[str, int]:
    """``(reason, size)``: the reason is empty when ``path`` may be read (see module docstring)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read file ({exc.strerror or exc})", 0
    if not stat.S_ISREG(st.st_mode):
        link = " (a link to it)" if Path(path).is_symlink() else ""
        return f"is {file_kind(st.st_mode)}{link}, not a regular file; not read", 0
    if max_bytes is not None and st.st_size > max_bytes:
        return f"is {st.st_size:,} bytes, more than the {max_bytes:,} bytes a band file may have; not read", st.st_size
    return "", st.st_size


def check_input_file(path: str | os.PathLike[str], max_bytes: int | None = None,
                     error: type[InputError] = InputError) -> int:
    """Refuse ``path`` unless it is a regular file (links followed) of at most ``max_bytes``; returns its size.

    Raises:
        InputError: (or ``error``) ``"<path>: is a named pipe, not a regular file; not read"``.
    """
    reason, size = input_problem(path, max_bytes)
    if reason:
        at = getattr(error, "at", None)
        raise at(path, reason) if at is not None else error(f"{path}: {reason}")
    return size
