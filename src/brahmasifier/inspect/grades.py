"""The grade file of one inspector: the list to grade, each grade saved at once, resumable.

One CSV per inspector (:data:`GRADE_COLUMNS`): every object of the list in the order shown,
with ``grade`` (``A`` confident lens, ``B`` likely, ``C`` possible, ``X`` not a lens; empty:
not graded yet), ``note``, ``inspector`` and ``graded_at`` (UTC, ISO 8601). Every change
rewrites the whole file atomically (:func:`brahmasifier._atomic.write_text_atomic`: temporary
file + rename), so a server killed at any moment leaves the file as it was after the last
grade: a crash loses at most the grade being typed. A thousand rows rewrite in about a
millisecond, far below a human's grading pace. Rerunning ``inspect`` with the same ``--out``
resumes: the list comes from the file (its order and calibration objects stay as they were)
and the app opens at the first ungraded object.
"""

from __future__ import annotations

import io
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from brahmasifier._atomic import write_text_atomic
from brahmasifier.errors import InputError

__all__ = ["GRADES", "GRADE_COLUMNS", "GradeBook", "read_grade_file"]

GRADES: tuple[str, ...] = ("A", "B", "C", "X")
GRADE_COLUMNS: tuple[str, ...] = ("position", "id", "stem", "prob", "calibration", "grade", "note", "inspector",
                                  "graded_at")


def read_grade_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A grade file as a table (IDs and text as strings, empty cells as ``""``); refuses other CSVs in one line."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a grade file ({str(exc).splitlines()[0]})") from exc
    missing = [c for c in GRADE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: not a grade file of `brahmasifier inspect` (missing columns: {', '.join(missing)})")
    bad = sorted(set(table["grade"]) - {"", *GRADES})
    if bad:
        raise InputError(f"{path}: unknown grades {bad}; expected one of {', '.join(GRADES)} or empty")
    table["prob"] = pd.to_numeric(table["prob"], errors="coerce")
    table["position"] = pd.to_numeric(table["position"], errors="raise").astype(int)
    return table


class GradeBook:
    """The list and its grades in memory, written through to ``path`` on every change (thread-safe)."""

    def __init__(self, path: str | os.PathLike[str], table: pd.DataFrame, inspector: str) -> None:
        self.path = Path(path)
        self.inspector = inspector
        table = table.copy()
        for column in GRADE_COLUMNS:
            if column not in table.columns:
                table[column] = ""
        table["position"] = range(len(table))
        self.table = table[list(GRADE_COLUMNS)].reset_index(drop=True)
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, path: str | os.PathLike[str], inspector: str) -> GradeBook:
        """The book of an existing grade file."""
        return cls(path, read_grade_file(path), inspector)

    def __len__(self) -> int:
        return len(self.table)

    def first_ungraded(self) -> int:
        """Position of the first object without a grade (``len(self)`` when all are graded)."""
        empty = (self.table["grade"] == "").to_numpy().nonzero()[0]
        return int(empty[0]) if len(empty) else len(self)

    def n_graded(self) -> int:
        """How many objects carry a grade."""
        return int((self.table["grade"] != "").sum())

    def set(self, position: int, grade: str, note: str) -> dict[str, object]:
        """Record ``grade`` (or ``""`` to clear) and ``note`` for ``position``, save at once; the updated row."""
        if not 0 <= position < len(self.table):
            raise IndexError(f"position {position} outside 0..{len(self.table) - 1}")
        if grade not in ("", *GRADES):
            raise ValueError(f"unknown grade {grade!r}")
        with self._lock:
            self.table.loc[position, ["grade", "note", "inspector", "graded_at"]] = [
                grade, note.replace("\r", " ").replace("\n", " "), self.inspector,
                datetime.now(timezone.utc).isoformat(timespec="seconds") if grade or note else ""]
            self.save()
            return dict(self.table.loc[position])

    def save(self) -> None:
        """Rewrite the whole file atomically."""
        buffer = io.StringIO()
        self.table.to_csv(buffer, index=False)
        write_text_atomic(self.path, buffer.getvalue())
