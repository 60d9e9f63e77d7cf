"""The bookkeeping every resumable simulation run shares: settings checks and the run lock.

A run writing ``OUT`` records its settings twice: ``OUT/<chunk folder>/settings.json`` when it
starts (its chunks live beside it until the end) and the ``settings`` of
``OUT/simulation.json`` when it has finished (:data:`MANIFEST`).
:func:`check_resume` is the one rule for a rerun into ``OUT``: the same settings resume (or,
when finished, return the finished run's manifest), other settings are refused with a one-line
error naming the file and the settings that differ (:mod:`brahmasifier._plan`, the one plan
check). :class:`RunLock` (the package's one lock, :mod:`brahmasifier._runlock`)
keeps a second live run out. Our engine
(:mod:`~brahmasifier.simulation.layout`), the SLSim engine and the injection use both.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brahmasifier._atomic import write_text_atomic
from brahmasifier._plan import plan_differences, read_plan, same_plan
from brahmasifier._runlock import RunLock as _RunLock
from brahmasifier.errors import OutputExistsError

__all__ = ["MANIFEST", "RunLock", "check_resume", "locked_run"]

#: Written last by every run: the engine, its settings and what was made.
MANIFEST = "simulation.json"


def check_resume(out: Path, settings: dict[str, Any], *, folder: Path | None = None,
                 what: str = "simulation") -> dict[str, Any] | None:
    """The finished run's manifest if ``out`` holds this run; ``None`` if it is to be (re)started.

    Args:
        out: the run's output folder.
        settings: the run's settings, JSON-serialisable (compared after a JSON round trip).
        folder: the run's chunk folder (holding ``settings.json`` while unfinished), if any.
        what: the kind of run, for the messages ("simulation", "injection").

    Raises:
        OutputExistsError: ``out`` holds a finished or unfinished run with other settings.
    """
    manifest_path = out / MANIFEST
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if same_plan(previous.get("settings"), settings):
            return dict(previous)
        raise OutputExistsError(f"{out}: already holds a {what} with different settings ({manifest_path}: "
                                f"{plan_differences(previous.get('settings') or {}, settings)}); "
                                "choose another --out or delete the folder")
    if folder is not None:
        settings_path = folder / "settings.json"
        recorded = read_plan(settings_path) if settings_path.is_file() else None
        if settings_path.is_file() and not same_plan(recorded, settings):
            raise OutputExistsError(f"{out}: holds an unfinished {what} with different settings ({settings_path}: "
                                    f"{plan_differences(recorded or {}, settings)}); "
                                    "rerun it with its own settings, or choose another --out")
    return None


@contextlib.contextmanager
def locked_run(folder: Path, settings: dict[str, Any]) -> Iterator[None]:
    """Inside the block this process alone writes the run: ``folder`` exists, is locked, and holds ``settings.json``.

    Args:
        folder: the run's chunk folder (created if absent).
        settings: the run's settings (what :func:`check_resume` compares on a rerun).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with RunLock(folder / "lock"):
        write_text_atomic(folder / "settings.json", json.dumps(settings, indent=2))
        yield


class RunLock(_RunLock):
    """The run lock of a simulation (``OUT/.slsim_chunks/lock``, ``OUT/.inject_chunks/lock``).

    The one lock mechanism of the package (:class:`brahmasifier._runlock.RunLock`, an ``flock``
    the kernel releases when its holder dies); a second live run is refused.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, "{path}: another simulation (PID {pid}) is writing here; wait for it or choose another --out")
