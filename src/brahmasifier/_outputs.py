"""Output paths, checked before any work starts: the one place every command asks "can I write these?".

A command that finds out at the end that it cannot write (``--probs`` in a read-only folder,
``--out`` naming an existing folder) has wasted the run and may leave half its outputs (a
``rejected.csv`` without a submission). Two outputs naming one file (``--probs`` equal to
``--out``, ``--out …/rejected.csv`` beside the reject list) would silently overwrite each other.
:func:`check_output_files` refuses all of these up front with one line naming the option and
the path; the folder is probed by creating (and removing) a temporary file, which also catches
read-only file systems and works for root, for whom permission bits do not apply.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from brahmasifier.errors import OutputPathError

__all__ = ["check_output_files", "check_writable_folder"]

PathLike = str | os.PathLike[str]


def check_output_files(outputs: Mapping[str, PathLike | None]) -> None:
    """Refuse outputs that collide, that are folders, or whose folder cannot be written.

    Args:
        outputs: what each output is (``"--out"``, ``"the reject list"``) → the file it will
            be written to; ``None`` entries (an optional output not asked for) are skipped.

    Raises:
        OutputPathError: naming the option(s) and the path.
    """
    seen: dict[Path, str] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        target = Path(path)
        key = Path(os.path.abspath(target)).resolve()
        if key in seen:
            raise OutputPathError(f"{what} and {seen[key]} are the same file ({target}); give each output its own path")
        seen[key] = what
        if target.is_dir():
            raise OutputPathError(f"{what} {target} is an existing folder; give a file name")
        check_writable_folder(target.parent, what)


def check_writable_folder(folder: PathLike, what: str) -> None:
    """Refuse a folder that cannot be created or written (probed with a temporary file).

    A folder that does not exist yet is fine when its nearest existing ancestor is writable
    (the command creates it).

    Args:
        folder: where an output goes.
        what: the option it comes from, for the message.

    Raises:
        OutputPathError: the folder (or the ancestor that would hold it) is not writable or not a folder.
    """
    probe = Path(os.path.abspath(folder))
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputPathError(f"{what}: {probe} is a file, not a folder; cannot write {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".brahmasifier-write-test-", dir=probe)
    except OSError as exc:
        raise OutputPathError(f"{what}: cannot write into {probe} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)
