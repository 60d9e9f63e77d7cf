"""Deprecated spellings: one-line notes, printed once per process, for names kept one more release."""

from __future__ import annotations

import sys

__all__ = ["REMOVED_IN", "note_deprecated"]

#: The release in which the deprecated spellings stop working.
REMOVED_IN = "0.2"

_noted: set[tuple[str, str]] = set()


def note_deprecated(old: str, new: str, what: str = "option") -> None:
    """Print ``brahmasifier: note: <what> <old> is deprecated; use <new> ...`` on stderr (once per pair)."""
    if (old, new) in _noted:
        return
    _noted.add((old, new))
    print(f"brahmasifier: note: {what} {old} is deprecated; use {new} (the old spelling works until {REMOVED_IN})",
          file=sys.stderr)
