"""The runner every simulation shares: our engine, the SLSim engine and the injection call it.

One home for what a simulation run does besides drawing objects:

- **resume and lock**: a run writing ``OUT`` records its settings twice: ``OUT/<chunk
  folder>/settings.json`` when it starts (its chunks live beside it until the end) and the
  ``settings`` of ``OUT/simulation.json`` when it has finished (:data:`MANIFEST`, written last by
  :func:`write_manifest`). :func:`check_resume` is the one rule for a rerun into ``OUT``: the same
  settings resume (or, when finished, return the finished run's manifest, turned back into a
  :class:`SimulationSummary` by :func:`summary_from_manifest`), other settings are refused with a
  one-line error naming the file and the settings that differ (:mod:`brahmasifier._plan`, the
  one plan check). :class:`RunLock` (the package's one lock,
  :mod:`brahmasifier._runlock`) keeps a second live run out (:func:`locked_run`).
- **order**: :func:`blind_numbers`, the positions of the objects in the shuffled blind
  (``test``) layout, ``SeedSequence([seed, 7_357])`` for every engine.
- **checks and writers**: :func:`check_unique_ids`; :func:`write_catalogues` (``parameters.fits``
  per class, or ``truth.csv``, through :class:`~brahmasifier.simulation.writer.DatasetWriter`)
  and :func:`write_preview` (``preview.png``) from the engines' result dicts (``domain``,
  ``label``, ``index``, ``stem``, ``object_id``, ``subtype``, ``row``, optional
  ``extra_columns`` and ``preview``).
- **processes**: :func:`worker_count` (default: the usable CPUs of
  :func:`brahmasifier.hardware.usable_cpus`, at most 8), :func:`process_pool` (fork — it starts in
  milliseconds and shares the imported stack — unless torch, with its threads, is loaded: then
  spawn), :func:`run_jobs` (jobs in a pool, results in job order, queued jobs dropped on an error
  or Ctrl-C) and the simulation's one progress bar, :func:`progress_bar`.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from brahmasifier import __version__
from brahmasifier._atomic import write_text_atomic
from brahmasifier._plan import plan_differences, read_plan, same_plan
from brahmasifier._runlock import RunLock as _RunLock
from brahmasifier.bands import MISSING_VALUE
from brahmasifier.errors import OutputExistsError
from brahmasifier.hardware import usable_cpus
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.truth import LENS_COLUMNS, NONLENS_COLUMNS, SIM_COLUMNS
from brahmasifier.simulation.writer import DatasetWriter

__all__ = [
    "MANIFEST", "MAX_DEFAULT_WORKERS", "PREVIEW", "PREVIEW_PER_CLASS", "RunLock", "SimulationSummary", "blind_numbers",
    "catalogue_row", "check_resume", "check_unique_ids", "locked_run", "process_pool", "progress_bar", "run_jobs",
    "summary_from_manifest", "worker_count", "write_catalogues", "write_manifest", "write_preview",
]

#: Written last by every run: the engine, its settings and what was made.
MANIFEST = "simulation.json"
PREVIEW = "preview.png"
#: Objects per class shown in ``preview.png``.
PREVIEW_PER_CLASS = 4
#: Default worker processes: the usable CPUs, at most this many.
MAX_DEFAULT_WORKERS = 8
_R = TypeVar("_R")


@dataclass
class SimulationSummary:
    """What a simulation run did."""

    out: Path
    layout: str
    seed: int
    n_per_class: int
    domains: tuple[str, ...]
    counts: dict[str, int]  # per class folder name (both layouts), e.g. {"slsim_lenses": 100}
    n_objects: int
    seconds: float
    objects_per_second: float
    workers: int
    skipped: bool = False
    paths: dict[str, Path] = field(default_factory=dict)  # class folders / images, truth, preview, manifest
    resumed: int = 0  # objects kept from an interrupted run (not made, not in objects_per_second)


def summary_from_manifest(out: Path, manifest: dict[str, Any]) -> SimulationSummary:
    """The summary of a finished run (``skipped``: nothing was done now)."""
    s = manifest["settings"]
    assert isinstance(s, dict)
    paths = {k: out / v for k, v in manifest.get("paths", {}).items()}
    return SimulationSummary(out, s["layout"], s["seed"], s["n_per_class"], tuple(s["domains"]), dict(manifest["counts"]),
                             int(manifest["n_objects"]), 0.0, 0.0, 0, True, paths)


def write_manifest(out: Path, settings: dict[str, Any], paths: dict[str, Path], before: dict[str, Any],
                   after: dict[str, Any] | None = None) -> Path:
    """Write ``OUT/simulation.json`` (last: it marks the run finished) and add it to ``paths``.

    Args:
        out: the run's folder.
        settings: the run's settings (what :func:`check_resume` compares).
        paths: the run's outputs by role; recorded relative to ``out``, the manifest's own path added.
        before: what the engine records before ``paths`` (``counts``, ``n_objects``, ``seconds``, ...), in order.
        after: what it records after them (the engine's own entry, a note).
    """
    path = out / MANIFEST
    paths["manifest"] = path
    manifest = {"format": "brahmasifier-simulation", "version": 1, "created_by": f"brahmasifier {__version__}",
                "settings": settings, **before, "paths": {k: str(v.relative_to(out)) for k, v in paths.items()},
                **(after or {})}
    write_text_atomic(path, json.dumps(manifest, indent=2))
    return path


def blind_numbers(seed: int, n: int) -> np.ndarray:
    """Positions ``0..n-1`` of the objects in the shuffled blind layout (every engine: lenses first, then non-lenses)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 7_357])).permutation(n)


def check_unique_ids(out: Path, results: Sequence[dict[str, Any]], seed: int) -> None:
    """Refuse to write catalogues in which two simulated objects share an ID (a bug, never the user's doing)."""
    ids = [str(r["object_id"]) for r in results]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{out}: simulated IDs are not unique; report this with seed={seed}")


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


def worker_count(workers: int | None, jobs: int | None = None) -> int:
    """Processes to run: ``workers`` if given, else the usable CPUs (at most :data:`MAX_DEFAULT_WORKERS`); at most ``jobs``."""
    wanted = max(1, workers or min(usable_cpus(), MAX_DEFAULT_WORKERS))
    return wanted if jobs is None else max(1, min(wanted, jobs))


def process_pool(n_workers: int, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A pool of ``n_workers`` processes: fork (starts in milliseconds, shares the imported stack), spawn once torch is loaded.

    Torch's threads make a forked child unsafe, so a process that has imported torch spawns.
    """
    method = "fork" if "fork" in mp.get_all_start_methods() and "torch" not in sys.modules else "spawn"
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context(method), initializer=initializer)


def run_jobs(function: Callable[..., _R], jobs: Sequence[tuple[Any, ...]], n_workers: int,
             done: Callable[[int, _R], None] | None = None) -> list[_R]:
    """``[function(*job) for job in jobs]``, in ``n_workers`` processes when more than one; results in job order.

    Args:
        function: a module-level function (it is pickled by reference for the workers).
        jobs: its argument tuples.
        n_workers: processes (1: in this process, in order).
        done: called with a job's position and result as each finishes (e.g. to move a progress bar).

    Raises:
        BaseException: what a job raised (the first one seen); the jobs still queued are dropped, not run, as on Ctrl-C.
    """
    results: dict[int, _R] = {}
    if n_workers <= 1:
        for k, job in enumerate(jobs):
            results[k] = function(*job)
            if done is not None:
                done(k, results[k])
        return [results[k] for k in range(len(jobs))]
    pool = process_pool(n_workers)
    try:
        running = {pool.submit(function, *job): k for k, job in enumerate(jobs)}
        while running:
            finished, _ = wait(running, return_when=FIRST_EXCEPTION)
            for future in finished:
                k = running.pop(future)
                results[k] = future.result()  # re-raises a worker's error; finished jobs' files stay
                if done is not None:
                    done(k, results[k])
    except BaseException:  # an error or Ctrl-C: drop the queued jobs instead of running them all
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[k] for k in range(len(jobs))]


def progress_bar(total: int, desc: str, unit: str, enabled: bool, initial: int = 0) -> Any:
    """The simulation's progress bar (every engine's, and the injection's): :func:`brahmasifier._progress.progress_bar`."""
    from brahmasifier._progress import progress_bar as bar

    return bar(total=total, initial=initial, enabled=enabled, desc=desc, unit=unit)


def catalogue_row(result: dict[str, Any], with_all_columns: bool) -> dict[str, Any]:
    """Challenge and ``sim_*`` columns of one object's catalogue row (every column, -999 where absent, if asked)."""
    label = int(result["label"])
    row = result["row"]
    assert isinstance(row, dict)
    columns = ("RA", "Dec", *LENS_COLUMNS, *NONLENS_COLUMNS[:1]) if with_all_columns else (
        ("RA", "Dec", *LENS_COLUMNS) if label == 1 else ("RA", "Dec", *NONLENS_COLUMNS))
    out: dict[str, Any] = {c: float(row.get(c, MISSING_VALUE)) for c in columns}
    if label == 1 and "z_central" in columns:
        out["z_central"] = float(row["zlens"])  # the central object of a lens is its deflector
    out["sim_subtype"] = str(result["subtype"])
    for name in tuple(SIM_COLUMNS)[1:]:  # engines put them in the row under these names
        value = row.get(name, MISSING_VALUE)
        out[name] = float(value)
    out.update(result.get("extra_columns") or {})  # an engine's own columns (injection: host_id, ...), as given
    return out


def write_catalogues(out: Path, layout: str, classes: Sequence[tuple[str, int]],
                     results: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """Write the catalogues of ``results``: ``parameters.fits`` per class (challenge) or ``truth.csv`` (test).

    Args:
        out: the data set's folder.
        layout: ``challenge`` or ``test``.
        classes: the ``(domain, label)`` classes written, in order.
        results: every object's result dict (see the module docstring).

    Returns:
        What was written by role (class folder names, or ``images`` and ``truth``).
    """
    writer = DatasetWriter(out, layout)
    paths: dict[str, Path] = {}
    if layout == "challenge":
        for domain, label in classes:
            mine = sorted((r for r in results if r["domain"] == domain and r["label"] == label), key=lambda r: r["index"])
            rows = [{"id": str(r["object_id"]), **catalogue_row(r, with_all_columns=False)} for r in mine]
            paths[class_folder(domain, label)] = writer.write_class_catalogue(domain, label, [str(r["stem"]) for r in mine], rows)
        return paths
    rows = []
    for r in sorted(results, key=lambda r: r["stem"]):
        # The blind set's files carry no ID: the stem is what a submission uses.
        rows.append({"id": r["stem"], "stem": r["stem"], "label": r["label"], "domain": r["domain"],
                     "catalogue_id": str(r["object_id"]), **catalogue_row(r, with_all_columns=True)})
    paths["images"] = writer.image_folder()
    paths["truth"] = writer.write_truth(rows)
    return paths


def write_preview(path: Path, results: Sequence[dict[str, Any]]) -> Path:
    """A grid of Lupton RGB cutouts (:func:`brahmasifier.display.lupton_grid`): lenses on top, non-lenses below."""
    import matplotlib

    matplotlib.use("Agg")
    from brahmasifier.display import lupton_grid, save_figure

    shown = [r for r in results if r.get("preview") is not None]

    def cell(r: dict[str, Any]) -> tuple[np.ndarray, str]:
        row = r["row"]
        assert isinstance(row, dict)
        rein = float(row.get("Rein", MISSING_VALUE))
        title = f"{r['domain']} lens θE={rein:.2f}″" if r["label"] == 1 else f"{r['domain']} {r['subtype']}"
        return np.asarray(r["preview"], dtype=np.float64), title

    rows = [[cell(r) for r in shown if r["label"] == label] for label in (1, 0)]
    return save_figure(lupton_grid(rows), path, dpi=110)
