"""What the published challenge release looks like: folders, non-image files, ``_manifest.txt``.

The labelled release as downloaded (facts from other teams' public notebooks and file lists;
see ``docs/architecture.md``)::

    data/slsim_lenses/slsim_lenses/D1_L_00000000_g.fits ...   250,000 band files per class
    data/slsim_lenses/parameters.fits                        one level above the images
    data/slsim_lenses/_manifest.txt                          beside the inner folder
    data/slsim_nonlenses/...                                 (may have no parameters.fits)
    data/hsc_lenses/parameters_updated.fits                  besides parameters.fits
    data/test_dataset/object_00000_g.fits ...                the blind set: one flat folder

A scan recognises the files that are not images by name (:func:`non_image_kind`): the parameter
tables, ``_manifest.txt``, and what our simulator writes beside its data. They are counted, never
reported as stray images.

``_manifest.txt``: its presence and place are verified (a listing of each class folder of the real
release), **its content is not public**. :func:`read_release_manifest` is therefore tolerant: every
token ending in ``.fits`` on a non-comment line is a listed file, compared by base name (so bare
names, relative or absolute paths, and extra columns such as sizes or checksums all work); blank
lines and ``#`` comments are skipped; a manifest that lists no ``.fits`` file checks nothing.
:class:`ManifestTracker` then reports, while the scan walks the tree, the files a manifest names
that are missing and the band files present that it does not name: a checksum-free completeness
check of a 1,000,000-file download, with memory for the names of one manifest at a time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CLASS_FOLDERS",
    "PARAMETERS_FILE",
    "REASON_LISTED_MISSING",
    "REASON_UNLISTED",
    "RELEASE_MANIFEST",
    "SIMULATION_FILES",
    "UPDATED_PARAMETERS_FILE",
    "ManifestCheck",
    "ManifestTracker",
    "ReleaseManifest",
    "class_folder",
    "count_file_rows",
    "is_manifest_reason",
    "non_image_kind",
    "read_release_manifest",
    "write_release_manifest",
]

#: The four class folders of the labelled release, by (domain, label).
CLASS_FOLDERS: dict[tuple[str, int], str] = {
    ("slsim", 1): "slsim_lenses", ("slsim", 0): "slsim_nonlenses",
    ("hsc", 1): "hsc_lenses", ("hsc", 0): "hsc_nonlenses",
}
PARAMETERS_FILE = "parameters.fits"
#: A class's corrected table; where both exist it wins for the columns it has (io/parameters.py).
UPDATED_PARAMETERS_FILE = "parameters_updated.fits"
RELEASE_MANIFEST = "_manifest.txt"
#: What ``brahmasifier simulate`` writes beside its data (not images, not stray).
SIMULATION_FILES: frozenset[str] = frozenset({"simulation.json", "preview.png", "truth.csv"})
_OTHER_PARAMETERS = re.compile(r"^parameters.*\.fits$")

#: Reason categories of the file rows a manifest check adds to ``rejected.csv``.
REASON_LISTED_MISSING = f"listed in {RELEASE_MANIFEST} but missing"
REASON_UNLISTED = f"not listed in {RELEASE_MANIFEST}; packed anyway"


def class_folder(domain: str, label: int) -> str:
    """Folder name of one class, e.g. ``class_folder('hsc', 0) == 'hsc_nonlenses'``.

    Args:
        domain: ``"slsim"`` or ``"hsc"``.
        label: 1 (lenses) or 0 (non-lenses).

    Returns:
        The class folder's name, used for both levels of the release's nesting.
    """
    try:
        return CLASS_FOLDERS[(domain, int(label))]
    except KeyError:
        raise ValueError(f"no class folder for domain {domain!r}, label {label!r}") from None


def non_image_kind(name: str) -> str | None:
    """What a known non-image file is, from its base name; ``None`` for anything else.

    Args:
        name: a file's base name.

    Returns:
        ``"parameters"`` (``parameters.fits``), ``"parameters_updated"``, ``"parameters_other"``
        (another ``parameters*.fits``: recognised, not joined), ``"manifest"`` (``_manifest.txt``),
        ``"simulation"`` (our simulator's side files), or ``None``.
    """
    if name == PARAMETERS_FILE:
        return "parameters"
    if name == UPDATED_PARAMETERS_FILE:
        return "parameters_updated"
    if name == RELEASE_MANIFEST:
        return "manifest"
    if _OTHER_PARAMETERS.match(name):
        return "parameters_other"
    if name in SIMULATION_FILES:
        return "simulation"
    return None


def is_manifest_reason(reason: str) -> bool:
    """True for the reasons of manifest-check rows (they are notes on files, not rejects)."""
    return reason.startswith((REASON_LISTED_MISSING, REASON_UNLISTED))


def count_file_rows(stems: Iterable[str], reasons: Iterable[str]) -> dict[str, int]:
    """Count the file rows (empty stem) of a rejects table: stray files vs manifest findings.

    Args:
        stems: the ``stem`` column of ``rejected.csv``.
        reasons: its ``reason`` column.

    Returns:
        ``n_stray_files`` (incl. unreadable parameter tables), ``n_listed_missing``, ``n_unlisted``.
    """
    counts = {"n_stray_files": 0, "n_listed_missing": 0, "n_unlisted": 0}
    for stem, reason in zip(stems, reasons, strict=True):
        if stem:
            continue
        if reason.startswith(REASON_LISTED_MISSING):
            counts["n_listed_missing"] += 1
        elif reason.startswith(REASON_UNLISTED):
            counts["n_unlisted"] += 1
        else:
            counts["n_stray_files"] += 1
    return counts


# -- _manifest.txt ------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,;|]+")


@dataclass(frozen=True)
class ReleaseManifest:
    """The files a ``_manifest.txt`` lists: ``entries`` maps each base name to its folder part as written.

    The folder part (``""`` for a bare name) is interned, so 250,000 entries under one folder cost
    one string for it: a class's manifest takes ~40 MB while it is checked (only one is held at a
    time, see :class:`ManifestTracker`).
    """

    path: Path
    entries: dict[str, str]
    n_lines: int  # lines that are neither blank nor comments
    n_ignored: int  # of those, lines naming no .fits file

    def written(self, name: str) -> str:
        """A listed file as the manifest wrote it (folder part + base name)."""
        return self.entries[name] + name


def read_release_manifest(path: str | os.PathLike[str]) -> ReleaseManifest:
    """Parse a ``_manifest.txt`` tolerantly (see the module docstring for the rules).

    Args:
        path: the manifest file.

    Returns:
        The listed files by base name.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(path)
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    entries: dict[str, str] = {}
    folders: dict[str, str] = {}
    n_lines = n_ignored = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        n_lines += 1
        found = False
        for token in _SEPARATORS.split(line):
            token = token.strip("'\"")
            if token.lower().endswith(".fits"):
                name = re.split(r"[/\\]", token)[-1]
                folder = token[: len(token) - len(name)]
                entries.setdefault(name, folders.setdefault(folder, folder))
                found = True
        n_ignored += not found
    return ReleaseManifest(path, entries, n_lines, n_ignored)


def write_release_manifest(path: str | os.PathLike[str], names: Iterable[str], *, comment: str | None = None) -> None:
    """Write a manifest our reader accepts: optional ``#`` comment lines, then one name per line.

    Args:
        path: the ``_manifest.txt`` to write (atomically).
        names: the listed files, relative to the manifest's folder.
        comment: text for the leading comment lines.
    """
    from brahmasifier._atomic import write_text_atomic

    lines = [f"# {c}" for c in (comment or "").splitlines() if c]
    write_text_atomic(path, "\n".join([*lines, *names]) + "\n")


@dataclass
class ManifestCheck:
    """Outcome of one manifest's completeness check (JSON-ready through :meth:`as_dict`)."""

    manifest: Path
    n_listed: int
    n_missing: int = 0
    n_unlisted: int = 0
    n_ignored_lines: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """The check as plain JSON types."""
        return {"manifest": str(self.manifest), "n_listed": self.n_listed, "n_missing": self.n_missing,
                "n_unlisted": self.n_unlisted, "n_ignored_lines": self.n_ignored_lines, "note": self.note}


@dataclass
class _Active:
    folder: str  # the manifest's folder, ending in os.sep
    manifest: ReleaseManifest
    remaining: set[str]
    check: ManifestCheck


@dataclass
class ManifestTracker:
    """Check manifests while a scan walks a tree; each folder is visited once with all its file names."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (stem "", file, reason) for rejected.csv
    checks: list[ManifestCheck] = field(default_factory=list)
    _active: list[_Active] = field(default_factory=list)

    def visit(self, folder: Path, band_names: Iterable[str], other_names: Iterable[str]) -> None:
        """Take one folder's band files and other files (a manifest there starts a new check).

        Folders must come in depth-first order (a subtree's folders one after the other), as the
        scan walks them: a manifest's check then ends as soon as a folder outside its subtree
        comes, and its names are let go.
        """
        here = str(folder) + os.sep
        done = [a for a in self._active if not here.startswith(a.folder)]
        if done:
            self._end(done)
        others = list(other_names)
        if RELEASE_MANIFEST in others:
            self._start(folder / RELEASE_MANIFEST)
        watching = [a for a in self._active if here.startswith(a.folder)]
        if not watching:
            return
        bands = list(band_names)
        for active in watching:
            names = active.manifest.entries
            for name in bands:
                if name in active.remaining:
                    active.remaining.discard(name)
                elif name not in names:
                    active.check.n_unlisted += 1
                    self.rows.append(("", str(folder / name), f"{REASON_UNLISTED} ({active.manifest.path})"))
            for name in others:
                active.remaining.discard(name)

    def _start(self, path: Path) -> None:
        try:
            manifest = read_release_manifest(path)
        except OSError as exc:
            self.checks.append(ManifestCheck(path, 0, note=f"unreadable ({exc.strerror or exc}); not checked"))
            return
        check = ManifestCheck(path, len(manifest.entries), n_ignored_lines=manifest.n_ignored)
        self.checks.append(check)
        if not manifest.entries:
            check.note = "lists no .fits file; not checked"
            return
        self._active.append(_Active(str(path.parent) + os.sep, manifest, set(manifest.entries), check))

    def finish(self) -> None:
        """Report every listed file that no visited folder held (call once, after the walk)."""
        self._end(list(self._active))

    def _end(self, checks: list[_Active]) -> None:
        for active in checks:
            active.check.n_missing = len(active.remaining)
            base = active.manifest.path.parent
            for name in sorted(active.remaining):
                written = active.manifest.written(name)
                where = Path(written) if os.path.isabs(written) else base / written
                self.rows.append(("", str(where), f"{REASON_LISTED_MISSING} ({active.manifest.path})"))
            self._active.remove(active)
