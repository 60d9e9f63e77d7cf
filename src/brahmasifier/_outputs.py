"""Output paths, checked before any work starts: the one place every command asks "can I write these?".

A command that finds out at the end that it cannot write (``--probs`` in a read-only folder,
``--out`` naming an existing folder) has wasted the run and may leave half its outputs (a
``rejected.csv`` without a submission). Two outputs naming one file (``--probs`` equal to
``--out``, ``--out …/rejected.csv`` beside the reject list) would silently overwrite each other.
:func:`check_output_files` refuses all of these up front with one line naming the option and
the path; the folder is probed by creating (and removing) a temporary file, which also catches
read-only file systems and works for root, for whom permission bits do not apply.
:func:`check_output_folder` is the same for commands that write a folder (``pack``, ``train``,
``simulate``): it refuses a folder that holds anything but that command's own entries, so a
mistyped ``--out`` never mixes results into an unrelated folder. :func:`check_outside_inputs`
refuses an output that is an input or lies inside an input folder or store. :func:`check_free_space` refuses
a run whose estimated output (``pack``: 33.6 kB of float32 pixels per object; ``predict``: its
CSVs and parts) does not fit on the output's file system, before the first byte is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from brahmasifier.errors import OutputExistsError, OutputPathError

__all__ = ["check_free_space", "check_output_files", "check_output_folder", "check_outside_inputs", "check_writable_folder"]

#: Room kept free beyond an estimate (file-system metadata, logs, the estimate's error).
FREE_SPACE_MARGIN = 1.10

PathLike = str | os.PathLike[str]


def check_outside_inputs(outputs: Mapping[str, PathLike | None], inputs: Iterable[PathLike]) -> None:
    """Refuse an output that is an input or lies inside an input folder or store (issue 25).

    ``--out`` naming a band file or ``--probs`` naming a store's ``index.parquet`` overwrote it;
    an output inside a FITS tree is read back as input by the next run. Links are resolved, so
    a link into an input is caught too. (``pack`` is the one exception, by design: its store
    may sit inside a root, which the scan then skips; it never holds input files.)

    Raises:
        OutputPathError: naming the option, the output and the input.
    """
    roots = [(str(p), Path(os.path.abspath(p)).resolve()) for p in inputs]
    for what, path in outputs.items():
        if path is None:
            continue
        target = Path(os.path.abspath(path)).resolve()
        for given, root in roots:
            if target == root:
                raise OutputPathError(f"{what} {path} is the input {given}; it would be overwritten: give another path")
            if root in target.parents:
                raise OutputPathError(f"{what} {path} is inside the input {given}; write outputs outside the input "
                                      "folders and stores (inputs would be overwritten or read back as input)")


def check_output_files(outputs: Mapping[str, PathLike | None], inputs: Iterable[PathLike] = ()) -> None:
    """Refuse outputs that collide, that are folders, that are or lie inside an input, or whose folder cannot be written.

    Args:
        outputs: what each output is (``"--out"``, ``"the reject list"``) → the file it will
            be written to; ``None`` entries (an optional output not asked for) are skipped.
        inputs: the command's input files, folders and stores (:func:`check_outside_inputs`).

    Raises:
        OutputPathError: naming the option(s) and the path.
    """
    check_outside_inputs(outputs, inputs)
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


def check_output_folder(out: PathLike, own_entries: Collection[str], kind: str, what: str = "--out") -> None:
    """Refuse an output folder that is a file, holds entries another program put there, or cannot be written.

    An empty or missing folder is fine, and so is one holding only ``own_entries`` (what the
    command writes there: a partial or earlier run it resumes or checks itself). Hidden entries
    (``.``-names: temporary files of atomic writes, resume state) are ignored.

    Args:
        out: the output folder.
        own_entries: names the command itself writes directly in ``out``.
        kind: what such a folder is, for the message (``"a store"``, ``"a training run"``).
        what: the option naming it.

    Raises:
        OutputExistsError: the folder holds other things (the message lists a few).
        OutputPathError: ``out`` is a file, or the folder cannot be written.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{what} {folder}: exists and is not a folder")
    if folder.is_dir():
        foreign = sorted(e.name for e in os.scandir(folder) if e.name not in own_entries and not e.name.startswith("."))
        if foreign:
            raise OutputExistsError(f"{folder}: folder is not empty and is not {kind} (found {', '.join(foreign[:5])}"
                                    f"{', …' if len(foreign) > 5 else ''}); choose an empty or new {what}")
    check_writable_folder(folder, what)


def check_free_space(folder: PathLike, needed_bytes: int, what: str, detail: str) -> None:
    """Refuse a run that would fill the file system holding ``folder`` (estimate × 1.1 must fit).

    Args:
        folder: where the output goes (need not exist yet).
        needed_bytes: the estimate of what the run writes there.
        what: the option naming the output, for the message.
        detail: how the estimate was made (``"2,000 objects × 33,620 bytes"``).

    Raises:
        OutputPathError: the estimate does not fit in the free space.
    """
    probe = Path(os.path.abspath(folder))
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed_bytes * FREE_SPACE_MARGIN > free:
        raise OutputPathError(f"{what}: not enough free space on {probe}: this run writes about {_size(needed_bytes)} "
                              f"({detail}) and {_size(free)} are free; free some space or choose another {what}")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover - the loop returns
