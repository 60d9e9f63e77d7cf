"""Progress bars, one home: :func:`progress_bar` (``tqdm.auto``), switched off by ``--no-progress``.

Every long loop of the package draws its bar through :func:`progress_bar`, so that one switch
(each command's ``--no-progress``, ``progress=False`` in the Python API) turns every bar off
and one choice of bar holds everywhere: ``tqdm.auto`` (a plain text bar on stderr in a
terminal or a log; a widget in a notebook). A bar is drawn whenever it is enabled, whether or
not stderr is a terminal (what every command did before this helper: a log file of a batch job
shows the bar's lines); ``enabled=False`` writes nothing at all. The bar is a ``tqdm`` object:
iterate it, or use it as a context manager and call ``update(n)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["progress_bar"]

T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    enabled: bool = True,
    leave: bool = True,
    initial: int = 0,
    smoothing: float = 0.3,
    dynamic_ncols: bool = False,
) -> Any:
    """A progress bar over ``iterable`` or up to ``total``; silent (no output at all) when ``enabled`` is False.

    Args:
        iterable: what to iterate over (its length is the total when it has one).
        total: the count to reach with ``update(n)`` (or the iterable's length, if it has none).
        desc: the bar's label ("pack", "scoring", ...).
        unit: what is counted ("obj", "lens").
        enabled: False for ``--no-progress``: the bar writes nothing.
        leave: keep the finished bar on screen (False: erase it; for short inner steps).
        initial: the count already done (a resumed run).
        smoothing: tqdm's rate smoothing (0: the average rate; 1: the latest batch's).
        dynamic_ncols: follow the terminal's width as it changes.

    Returns:
        A ``tqdm.auto.tqdm`` bar (an iterator over ``iterable``, a context manager, ``update``, ``close``).
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, initial=initial,
                smoothing=smoothing, dynamic_ncols=dynamic_ncols)
