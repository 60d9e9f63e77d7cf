"""Find the challenge's objects in folder trees: group band files into five-band objects.

An object is the set of band files ``<stem>_<b>.fits`` (``b`` in g,r,i,z,y; band letter and
``.fits``/``.fit`` extension in any case) that share a stem **and a folder**; ``root`` records
which of the given roots it was found under. So the same stem in two folders (or under two
roots) is two objects. Any nesting is walked, so the release's ``<class>/<class>/*.fits`` and a
flat folder read alike. Incomplete objects (a band missing) and stray files (neither a band file
nor a known non-image file, see :mod:`brahmasifier.io.release`) are listed in
``ScanResult.rejected`` with a reason, never silently dropped; so are objects with two files for
one band (``_g.fits`` and ``_G.fits``) and objects whose file names are not valid UTF-8 or hold
a control character (a newline): their rows name them with backslash escapes
(:func:`~brahmasifier.io.naming.printable_name`), so every output table stays valid one-line
UTF-8. A ``_manifest.txt``
adds rows for the files it names that are missing and the band files it does not name. Known
non-image files are counted in ``ScanResult.known_files``. Hidden entries (names starting with
``.``: files and folders, e.g. the temporary files of an interrupted atomic write) are skipped
and each listed as a rejected file row saying so (issue 25: a dot-prefixed band file was a
silent loss); only this package's own resume folders (``.slsim_chunks``, ``.inject_chunks``) are
skipped without a row. Compressed FITS (``.fits.gz``, ``.fits.fz``, ...) is not read; its row
says so and how to decompress it.

The walk uses ``os.scandir`` and does not ``stat`` files, so it stays fast on 10^6 files. A found
object holds its folder (one shared ``Path`` per folder) and its stem, not five paths: ~0.2 kB per
object instead of ~2.8 kB, so a listing of 10^7 objects fits in a few GB.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError, InputError, InputNotFoundError
from brahmasifier.io.naming import band_filename, name_problem, parse_band_filename, printable_name
from brahmasifier.io.parameters import describe_parameter_sources
from brahmasifier.io.release import PARAMETERS_FILE, ManifestCheck, ManifestTracker, non_image_kind

__all__ = [
    "COMPRESSED_SUFFIXES", "PARAMETERS_FILE", "REASON_HIDDEN", "REASON_HIDDEN_FOLDER", "REASON_UNRECOGNISED",
    "ObjectFiles", "ScanResult", "StandardBandFiles", "object_stamp", "scan_fits_tree",
]

REASON_UNRECOGNISED = "unrecognised file name"
REASON_HIDDEN = "hidden name (starts with '.'): skipped; rename it without the dot to include it"
REASON_HIDDEN_FOLDER = "hidden folder (name starts with '.'): not entered; rename it without the dot to include it"
#: Hidden names this package itself writes (resume state of a simulation run, write probes): skipped without a row.
_OWN_HIDDEN = (".slsim_chunks", ".inject_chunks", ".brahmasifier-")
#: Compressed FITS: the extension → what to do (these are not read; a clear reason instead of "unrecognised").
COMPRESSED_SUFFIXES: dict[str, str] = {
    ".gz": "gunzip", ".fz": "funpack", ".bz2": "bunzip2", ".xz": "unxz", ".zst": "unzstd", ".z": "uncompress"}
#: Known non-image kinds whose files are parameter tables to join (see io/parameters.py).
_JOINED_KINDS = frozenset({"parameters", "parameters_updated"})


class StandardBandFiles(Mapping[str, Path]):
    """``{band: folder / "<stem>_<band>.fits"}`` for all bands, built on access.

    What the scan stores per object instead of five ``Path`` objects (see module docstring).
    """

    __slots__ = ("folder", "stem")

    def __init__(self, folder: Path, stem: str) -> None:
        self.folder = folder
        self.stem = stem

    def __getitem__(self, band: str) -> Path:
        if band not in BANDS:
            raise KeyError(band)
        return self.folder / band_filename(self.stem, band)

    def __iter__(self) -> Iterator[str]:
        return iter(BANDS)

    def __len__(self) -> int:
        return len(BANDS)

    def __repr__(self) -> str:
        return f"StandardBandFiles({str(self.folder)!r}, {self.stem!r})"


@dataclass(frozen=True, slots=True)
class ObjectFiles:
    """The five band files of one object, with what the file names say about it."""

    stem: str
    label: int  # 1 lens, 0 non-lens, -1 unknown (neutral names)
    domain: str  # "slsim", "hsc" or "unknown"
    files: Mapping[str, Path]  # band -> path, all of BANDS (a StandardBandFiles from the scan)
    root: Path  # the scanned root this object was found under


def object_stamp(obj: ObjectFiles) -> str:
    """What identifies an object's inputs between runs: each band file's path, size and modification time.

    The one definition of "these files changed" for resumable work: ``pack`` repacks a chunk
    and ``predict`` rescores a part whose objects' stamps differ from when it was written.
    A file replaced by a copy with the same size and time (``cp -p`` of equal-sized data) is
    not noticed; anything written anew is.

    Args:
        obj: the object.

    Returns:
        One ``path|size|mtime_ns`` line per band (``path|missing`` for a file gone).
    """
    files = obj.files
    if isinstance(files, StandardBandFiles):  # build the strings directly: Path objects cost half the time
        base = os.path.join(str(files.folder), files.stem)
        paths = [f"{base}_{band}.fits" for band in BANDS]
    else:
        paths = [str(files[band]) for band in BANDS]
    fields = []
    for path in paths:
        try:
            st = os.stat(path)
            fields.append(f"{path}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            fields.append(f"{path}|missing")
    return "\n".join(fields)


@dataclass
class ScanResult:
    """What :func:`scan_fits_tree` found.

    ``objects`` are complete five-band objects, sorted by (root order, folder, stem).
    ``rejected`` has one row per incomplete object (``stem`` set) and per stray file or
    manifest finding (``stem`` empty), columns ``stem, file, reason``. ``parameter_files`` are
    the tables to join (``parameters.fits`` and ``parameters_updated.fits``), ``known_files``
    every recognised non-image file by kind (:func:`brahmasifier.io.release.non_image_kind`).
    """

    objects: list[ObjectFiles]
    rejected: pd.DataFrame
    parameter_files: list[Path] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    known_files: dict[str, list[Path]] = field(default_factory=dict)
    manifest_checks: list[ManifestCheck] = field(default_factory=list)

    @property
    def n_incomplete(self) -> int:
        """Objects found with a band missing (rejected rows that name a stem)."""
        return int((self.rejected["stem"] != "").sum())

    @property
    def n_found(self) -> int:
        """All objects found: complete ones plus incomplete ones."""
        return len(self.objects) + self.n_incomplete

    def input_report(self) -> dict[str, object]:
        """What besides images the inputs held, JSON-ready (a store's manifest keeps it for ``info``).

        Returns:
            ``known_files`` (count by kind), ``parameter_tables`` (which tables are used, per
            folder, and how) and ``release_manifests`` (each ``_manifest.txt`` check).
        """
        return {
            "known_files": {kind: len(paths) for kind, paths in sorted(self.known_files.items())},
            "parameter_tables": describe_parameter_sources(self.parameter_files),
            "release_manifests": [check.as_dict() for check in self.manifest_checks],
        }


def scan_fits_tree(
    roots: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> ScanResult:
    """Walk ``roots`` (a folder or several) recursively and group band files into objects.

    Folders in ``exclude`` are not entered (the packer excludes its own output folder).

    Raises ``FileNotFoundError`` for a root that does not exist, ``NotADirectoryError`` for a
    root that is a file, and ``ValueError`` for a root without any band file or
    parameter table (an empty folder is almost always a wrong path).
    """
    root_list = [Path(roots)] if isinstance(roots, (str, os.PathLike)) else [Path(r) for r in roots]
    if not root_list:
        raise ConfigError("no input folders given")
    objects: list[ObjectFiles] = []
    rejected: list[tuple[str, str, str]] = []
    parameter_files: list[Path] = []
    known_files: dict[str, list[Path]] = {}
    tracker = ManifestTracker()
    seen_dirs: set[str] = {os.path.realpath(p) for p in exclude}
    kept_roots: list[Path] = []
    for root in root_list:
        if not root.exists():
            raise InputNotFoundError(f"{root}: input folder does not exist")
        if not root.is_dir():
            raise NotADirectoryError(f"{root}: input is not a folder")
        real = os.path.realpath(root)
        if real in seen_dirs:
            continue  # the same root given twice (or nested in an earlier one): scan it once
        kept_roots.append(root)
        n_band_files = 0
        n_before = len(parameter_files)
        for folder, band_files, others, hidden in _walk(root, seen_dirs):
            n_band_files += sum(len(v) for v in band_files.values())
            tracker.visit(folder, (n for _, found in band_files.values() for names in found.values() for n in names), others)
            rejected.extend(("", printable_name(str(folder / name)), REASON_HIDDEN_FOLDER if is_dir else REASON_HIDDEN)
                            for name, is_dir in hidden)
            for name in others:
                kind = non_image_kind(name)
                if kind is None:
                    rejected.append(("", printable_name(str(folder / name)), _unrecognised_reason(name)))
                    continue
                known_files.setdefault(kind, []).append(folder / name)
                if kind in _JOINED_KINDS:
                    parameter_files.append(folder / name)
            for stem in sorted(band_files):
                (label, domain), found = band_files[stem]
                problem = _object_problem(stem, found)
                if problem is not None:
                    first = folder / found[next(iter(found))][0]
                    rejected.append((printable_name(stem), printable_name(str(first)), problem))
                    continue
                standard = all(found[b][0] == band_filename(stem, b) for b in BANDS)
                files = StandardBandFiles(folder, stem) if standard else {b: folder / found[b][0] for b in BANDS}
                objects.append(ObjectFiles(stem=stem, label=label, domain=domain, files=files, root=root))
        if n_band_files == 0 and len(parameter_files) == n_before:
            raise InputError(f"{root}: no challenge band files (<stem>_<band>.fits) or {PARAMETERS_FILE} found")
    tracker.finish()
    frame = pd.DataFrame(rejected + tracker.rows, columns=["stem", "file", "reason"])
    return ScanResult(objects=objects, rejected=frame, parameter_files=parameter_files, roots=kept_roots,
                      known_files=known_files, manifest_checks=tracker.checks)


_StemFiles = tuple[tuple[int, str], dict[str, list[str]]]  # ((label, domain), {band: file names})


def _unrecognised_reason(name: str) -> str:
    """Why a file is not an object's band file: compressed FITS named as such, else "unrecognised file name"."""
    base, dot, suffix = name.rpartition(".")
    tool = COMPRESSED_SUFFIXES.get(f".{suffix.lower()}") if dot else None
    if tool is not None and parse_band_filename(base) is not None:
        return f"compressed FITS (.{suffix}) is not read; decompress it first ({tool} {name})"
    return REASON_UNRECOGNISED


def _object_problem(stem: str, found: dict[str, list[str]]) -> str | None:
    """Why the band files of ``stem`` in one folder do not make an object (``None`` if they do)."""
    for names in found.values():
        for name in names:
            problem = name_problem(name)
            if problem is not None:
                return problem
    doubled = [b for b in BANDS if len(found.get(b, ())) > 1]
    if doubled:
        band = doubled[0]
        return f"two files for band {band} ({', '.join(found[band])}); keep one"
    missing = [b for b in BANDS if b not in found]
    if missing:
        return f"missing band(s) {','.join(missing)}"
    return None


def _walk(root: Path, seen_dirs: set[str]) -> Iterator[tuple[Path, dict[str, _StemFiles], list[str], list[tuple[str, bool]]]]:
    """Depth-first, name-sorted walk: (folder, {stem: ((label, domain), {band: names})}, other names, hidden).

    Hidden entries are ``(name, is a folder)``.

    ``seen_dirs`` (real paths) stops symlink loops and double scans of nested roots.
    """
    stack = [root]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        band_files: dict[str, _StemFiles] = {}
        others: list[str] = []
        hidden: list[tuple[str, bool]] = []
        subdirs: list[Path] = []
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise OSError(f"{folder}: cannot list folder ({exc.strerror or exc})") from exc
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                if not name.startswith(_OWN_HIDDEN):
                    hidden.append((name, entry.is_dir()))
                continue
            if entry.is_dir():
                subdirs.append(Path(entry.path))
                continue
            parsed = parse_band_filename(name)
            if parsed is None:
                others.append(name)
                continue
            band_files.setdefault(parsed.stem, ((parsed.label, parsed.domain), {}))[1].setdefault(parsed.band, []).append(name)
        yield folder, band_files, others, hidden
        stack.extend(reversed(subdirs))  # pop order = name order
