"""Join the challenge's parameter tables to packed objects by ID; one name per parameter.

Every column keeps its values: -999 is the data's own "unknown" and stays -999. An object
without a parameter row, or whose class's table lacks a column (non-lenses have no ``Rein``),
gets a *missing* value instead: NaN in numeric columns, ``None`` (null) in text columns. So
-999 means "the challenge says unknown" and NaN/null means "no value was given for this object".

Names: the store uses one canonical name per parameter. The release's only header seen
(``hsc_lenses/parameters_updated.fits``) writes ``vel_disp``; the data-release note and older
files write ``vel disp``. :data:`PARAMETER_ALIASES` maps every old spelling to the canonical one,
on read; the submission writes both template columns from the canonical value
(:mod:`brahmasifier.inference.submission`).

Tables of one class folder: where ``parameters.fits`` and ``parameters_updated.fits`` lie in the
same folder, the updated table wins for the columns it has, for the IDs it has; the other
columns and IDs come from ``parameters.fits``. An ID with several rows that differ inside one
table is reported (a problem row of ``pack``'s ``rejected.csv`` naming the table); the first row
is used. :func:`describe_parameter_sources` says which files were used (``brahmasifier info`` prints it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from brahmasifier.io.fits import FitsFormatError, read_parameters_fits
from brahmasifier.io.naming import printable_name
from brahmasifier.io.release import PARAMETERS_FILE, UPDATED_PARAMETERS_FILE

__all__ = [
    "PARAMETER_ALIASES",
    "RESERVED_COLUMNS",
    "canonical_parameter_name",
    "describe_parameter_sources",
    "join_parameters",
    "load_parameters",
    "n_with_parameters",
    "parameters_line",
]

log = logging.getLogger(__name__)

#: Index columns a parameter column may not shadow; a clash is renamed ``param_<name>``.
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {"id", "stem", "label", "domain", "n_nan", "duplicate_id", "source", "id_source", "parameters_file"}
)
#: Old spellings of a parameter -> its canonical name in the store.
PARAMETER_ALIASES: dict[str, str] = {"vel disp": "vel_disp"}


def canonical_parameter_name(name: str) -> str:
    """The store's name of a parameter column (``'vel disp'`` -> ``'vel_disp'``; others unchanged).

    Args:
        name: a column name as found in a parameter table or the submission template.

    Returns:
        The canonical name.
    """
    return PARAMETER_ALIASES.get(name, name)


def _canonical_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Rename old spellings; where a table has both spellings, the canonical column is kept."""
    renames = {}
    for old, new in PARAMETER_ALIASES.items():
        if old not in frame.columns:
            continue
        if new in frame.columns:
            differ = frame[old].astype(str) != frame[new].astype(str)
            if differ.any():
                log.warning("%s: '%s' and '%s' differ in %d rows; '%s' is used", path, old, new, int(differ.sum()), new)
            frame = frame.drop(columns=[old])
        else:
            renames[old] = new
    return frame.rename(columns=renames)


def _read_table(path: Path, problems: list[tuple[str, str]]) -> pd.DataFrame:
    frame = _canonical_columns(read_parameters_fits(path), path)
    frame["parameters_file"] = str(path)
    conflict = _conflicting_ids(frame)
    if conflict:
        log.warning("%s: %s", path, conflict)
        problems.append((str(path), conflict))
    return frame.drop_duplicates("id", keep="first")


def _conflicting_ids(frame: pd.DataFrame) -> str:
    """The problem of IDs with several rows that differ (empty if none): which row is right cannot be known."""
    repeated = frame.loc[frame["id"].duplicated(keep=False)]
    if repeated.empty:
        return ""
    distinct = repeated.astype(str).drop_duplicates()
    counts = distinct["id"].value_counts()
    conflicting = sorted(counts.index[counts > 1])
    if not conflicting:
        return ""
    shown = ", ".join(printable_name(str(i)) for i in conflicting[:3]) + (", …" if len(conflicting) > 3 else "")
    return (f"{len(conflicting)} ID{'s' if len(conflicting) != 1 else ''} with conflicting rows ({shown}); "
            "the first row of each is used")


def _overlay(base: pd.DataFrame, updated: pd.DataFrame) -> pd.DataFrame:
    """``base`` with ``updated``'s columns taking over for ``updated``'s IDs (new IDs appended)."""
    merged = base.set_index("id")
    upd = updated.set_index("id")
    merged = merged.reindex(merged.index.append(upd.index.difference(merged.index, sort=False)))
    in_updated = merged.index.isin(upd.index)
    for column in upd.columns:
        values = upd[column].reindex(merged.index)
        merged[column] = values.where(in_updated, merged[column]) if column in merged.columns else values
    new_ids = int((~upd.index.isin(base["id"])).sum())
    if new_ids:
        log.warning("%s: %d IDs are not in %s; their other columns are missing", updated["parameters_file"].iloc[0],
                    new_ids, PARAMETERS_FILE)
    return merged.rename_axis("id").reset_index()


def _groups(files: Sequence[str | os.PathLike[str]]) -> list[list[Path]]:
    """Files in the order given, with each folder's parameters.fits + parameters_updated.fits as one group."""
    paths = [Path(f) for f in files]
    updated_in = {p.parent for p in paths if p.name == UPDATED_PARAMETERS_FILE}
    base_in = {p.parent for p in paths if p.name == PARAMETERS_FILE}
    groups: list[list[Path]] = []
    for path in paths:
        if path.parent in updated_in and path.parent in base_in:
            if path.name == PARAMETERS_FILE:
                groups.append([path, path.parent / UPDATED_PARAMETERS_FILE])
            elif path.name != UPDATED_PARAMETERS_FILE:
                groups.append([path])
        else:
            groups.append([path])
    return groups


def load_parameters(files: Sequence[str | os.PathLike[str]]) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """All rows of all readable ``files``, one row per ID (the first wins), plus ``parameters_file``.

    Tables of different classes have different columns; the union is returned. Column names
    are canonical (:func:`canonical_parameter_name`). A folder's ``parameters_updated.fits``
    overlays its ``parameters.fits`` (module docstring). An unreadable table does not stop
    packing: it is returned in the second value as ``(file, reason)``; if the updated table of
    a pair is unreadable, the base table is used alone.

    Args:
        files: parameter tables, in priority order.

    Returns:
        ``(table, problems)``: the table has a string ``id`` column and ``parameters_file``
        (the file a row's values came from; the updated table where it had the ID).
    """
    frames = []
    problems: list[tuple[str, str]] = []
    for group in _groups(files):
        tables = []
        for path in group:
            try:
                tables.append(_read_table(path, problems))
            except FitsFormatError as exc:
                log.warning("%s", exc)
                problems.append((str(path), exc.reason))
        if len(tables) == 2:
            frames.append(_overlay(tables[0], tables[1]))
        elif tables:
            frames.append(tables[0])
    if not frames:
        return pd.DataFrame({"id": pd.Series([], dtype=str)}), problems
    table = pd.concat(frames, ignore_index=True, sort=False)
    repeated = table["id"].duplicated(keep="first")
    if repeated.any():
        log.warning("%d parameter rows repeat an ID already seen; the first row of each ID is used", int(repeated.sum()))
        table = table.loc[~repeated]
    renames = {c: f"param_{c}" for c in table.columns if c in RESERVED_COLUMNS and c not in ("id", "parameters_file")}
    return table.rename(columns=renames).reset_index(drop=True), problems


def describe_parameter_sources(files: Sequence[str | os.PathLike[str]]) -> list[dict[str, object]]:
    """Which parameter tables are used, per folder, and how (JSON-ready, from the names alone).

    Args:
        files: the tables a scan found (``ScanResult.parameter_files``).

    Returns:
        One entry per group: ``folder``, ``files`` (base names, in priority order) and ``rule``.
    """
    out: list[dict[str, object]] = []
    for group in _groups(files):
        rule = (f"{UPDATED_PARAMETERS_FILE} wins over {PARAMETERS_FILE} for the columns and IDs it has"
                if len(group) == 2 else "used as is")
        out.append({"folder": str(group[0].parent), "files": [p.name for p in group], "rule": rule})
    return out


def join_parameters(index: pd.DataFrame, parameters: pd.DataFrame) -> pd.DataFrame:
    """``index`` with the parameter columns appended, matched on the string ``id``; order kept.

    Args:
        index: the store index (must have ``id``).
        parameters: a table from :func:`load_parameters`.

    Returns:
        The joined index, same rows in the same order.
    """
    if len(parameters.columns) <= 1:
        return index
    clashes = [c for c in parameters.columns if c != "id" and c in index.columns]
    params = parameters.rename(columns={c: f"param_{c}" for c in clashes})
    joined = index.merge(params, on="id", how="left", sort=False, validate="many_to_one")
    if len(joined) != len(index):  # pragma: no cover - guarded by validate + dedup above
        raise RuntimeError("parameter join changed the number of rows")
    return joined


def n_with_parameters(index: pd.DataFrame) -> int:
    """How many objects of a joined index got a parameter row (``parameters_file`` set)."""
    if "parameters_file" not in index.columns:
        return 0
    return int(index["parameters_file"].notna().sum())


def parameters_line(n_with: int, n_objects: int, n_tables: int) -> str:
    """The one summary line (``pack``, ``info``) of how many objects got parameters; loud when none did.

    Returns:
        ``""`` without parameter tables; ``"WARNING: 0 of N objects got parameters ..."`` when
        tables exist but no ID joined (so ``train --regress`` would have no truth); else
        ``"parameters: K of N objects got parameters"``.
    """
    if n_tables == 0:
        return ""
    if n_with == 0 and n_objects:
        return (f"WARNING: 0 of {n_objects:,} objects got parameters: no object ID is in the "
                f"{n_tables} parameter table{'s' if n_tables != 1 else ''} (IDs must match exactly)")
    return f"parameters: {n_with:,} of {n_objects:,} objects got parameters"
