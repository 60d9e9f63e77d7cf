"""Settings of one packing run (``brahmasifier pack`` and :func:`brahmasifier.io.pack_fits`), checked once.

:class:`PackConfig` is what ``pack`` needs: the FITS roots, the store folder, and how to run
(``workers``, ``shard_size``, ``overwrite``, ``progress``). ``brahmasifier pack``'s options are
generated from it (``brahmasifier.commands.pack.SETTINGS``) and ``--config FILE`` sets the
same names; ``pack_fits`` takes one (or its fields, as keywords). Defaults and why:

- ``workers=None``: every usable CPU, at most one per chunk (``1`` packs in this process).
- ``shard_size=16384``: objects per shard, i.e. per parallel task and per resumable unit; a
  worker streams its shard in small batches, so memory does not grow with it (see
  :mod:`brahmasifier.io.pack`).
- ``overwrite=False``: a complete store packed from other inputs is refused, never replaced
  silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from brahmasifier.settings import Problems

__all__ = ["PackConfig"]


@dataclass(frozen=True)
class PackConfig:
    """One packing run; ``workers`` >= 1 or ``None``, ``shard_size`` >= 1 (checked here, once)."""

    roots: tuple[str | os.PathLike[str], ...] = ()
    out: str | os.PathLike[str] = ""
    workers: int | None = None
    shard_size: int = 16384
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        problems = Problems("")
        if not (isinstance(self.shard_size, int) and self.shard_size >= 1):
            problems.add(f"shard_size must be positive, got {self.shard_size}")
        if self.workers is not None and not (isinstance(self.workers, int) and self.workers >= 1):
            problems.add(f"workers must be positive, got {self.workers}")
        problems.check()

    @classmethod
    def of(cls, roots: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], out: str | os.PathLike[str],
           **settings: Any) -> PackConfig:
        """A config from ``pack_fits``'s arguments (one root or several)."""
        many = (roots,) if isinstance(roots, (str, os.PathLike)) else tuple(roots)
        return cls(roots=many, out=out, **settings)

    def to_dict(self) -> dict[str, Any]:
        """Plain settings (roots and out as text)."""
        return {"roots": [str(r) for r in self.roots], "out": str(self.out), "workers": self.workers,
                "shard_size": self.shard_size, "overwrite": self.overwrite, "progress": self.progress}
