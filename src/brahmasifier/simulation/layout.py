"""``simulate_dataset``: every engine's entry point, and the run of the per-object engines.

:func:`simulate_dataset` checks what every run shares (engine, workers, output folder, free
space, domains, layout, settings' type) and dispatches through the engine registry
(:mod:`brahmasifier.simulation.engines`): an engine that draws one object at a time (ours, and
any registered with a ``draw``) is run by :func:`simulate_objects`; one that drives its own run
(SLSim's catalogue realisations) gets a :class:`~brahmasifier.simulation.engines.RunRequest`.

Files are written by :class:`brahmasifier.simulation.writer.DatasetWriter` (the release's
published form, the one writer of every engine)::

    challenge: OUT/slsim_lenses/slsim_lenses/D1_L_00000000_g.fits ... + OUT/slsim_lenses/parameters.fits
               + OUT/slsim_lenses/_manifest.txt; the same for slsim_nonlenses, hsc_lenses, hsc_nonlenses
    test:      OUT/images/object_00000_g.fits ... (objects shuffled, primary-HDU images, no ID)
               + OUT/truth.csv (id = stem, label, domain, catalogue_id, subtype + all parameters, -999)
    both:      OUT/preview.png  OUT/simulation.json

Pixel values are nJy/pixel (``BUNIT='nJy'``, ``ZP=31.4`` in every band file). SLSim IDs are
``GG-LENS_<ra>_<dec>`` strings, HSC IDs 17-digit digit strings, for both classes. Besides the
challenge columns, ``parameters.fits``/``truth.csv`` carry the ``sim_*`` columns of
:data:`brahmasifier.simulation.truth.SIM_COLUMNS`. The catalogues, preview, order, pool and
``simulation.json`` are the runner's (:mod:`brahmasifier.simulation.runs`), shared with the SLSim
engine and the injection.

Rerunning into a folder whose ``simulation.json`` (written last) records the same settings
skips all work; different settings are refused; a folder without it (an interrupted run)
is regenerated from scratch, which gives the same bytes because every object has its own seed.
A per-object run holds the package's run lock (:class:`~brahmasifier.simulation.runs.RunLock`,
``OUT/.simulate.lock``, removed when it ends), as the SLSim engine and the injection do: a
second live run into ``OUT`` is refused.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brahmasifier._outputs import check_free_space, check_output_folder
from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError, DependencyNotFoundError
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.engines import RunRequest, SimulationEngine, simulation_engine
from brahmasifier.simulation.instrument import NJY_ZERO_POINT, PIXEL_UNIT
from brahmasifier.simulation.runs import (
    PREVIEW,
    PREVIEW_PER_CLASS,
    RunLock,
    SimulationSummary,
    blind_numbers,
    check_resume,
    check_unique_ids,
    progress_bar,
    run_jobs,
    summary_from_manifest,
    worker_count,
    write_catalogues,
    write_manifest,
    write_preview,
)
from brahmasifier.simulation.writer import LAYOUTS, OWN_ENTRIES, DatasetWriter

__all__ = ["BYTES_PER_OBJECT", "CHUNK", "LAYOUTS", "LOCK_FILE", "simulate_dataset", "simulate_objects"]

#: Objects per task of a per-object engine, at most (fewer when that leaves < 4 tasks per worker).
CHUNK = 8
#: Disk use of one simulated object: five float64 band files of the published form (20,160 bytes each).
BYTES_PER_OBJECT = 5 * 20_160
#: The run lock of a per-object run, in ``OUT`` (hidden: an output-folder check ignores it).
LOCK_FILE = ".simulate.lock"


@dataclass(frozen=True)
class _Task:
    domain: str
    label: int
    index: int
    number: int  # position in the shuffled test layout (unused for challenge)
    preview: bool


def _run_chunk(engine: SimulationEngine, tasks: Sequence[_Task], seed: int, layout: str, out: str,
               config: Any) -> list[dict[str, Any]]:
    """Draw and write a few objects (worker side); return their result dicts (+ preview images)."""
    draw = engine.draw_function()
    writer = DatasetWriter(Path(out), layout)
    results = []
    for task in tasks:
        obj = draw(task.domain, task.label, task.index, seed, config)
        stem = writer.write_object(task.domain, task.label, task.index, task.number, obj.object_id, obj.image)
        results.append({"domain": task.domain, "label": task.label, "index": task.index, "stem": stem,
                        "object_id": obj.object_id, "subtype": obj.subtype, "row": obj.row,
                        "preview": obj.image if task.preview else None})
    return results


def _parse_domains(domains: Sequence[str] | str) -> tuple[str, ...]:
    from brahmasifier.bands import CODE_BY_DOMAIN

    if isinstance(domains, str):
        domains = [d.strip() for d in domains.split(",") if d.strip()]
    result = tuple(dict.fromkeys(domains))
    bad = [d for d in result if d not in CODE_BY_DOMAIN]
    if bad or not result:
        raise ConfigError(f"unknown domain(s) {bad or domains!r}; expected a subset of {', '.join(CODE_BY_DOMAIN)}")
    return result


def simulate_dataset(
    out: str | os.PathLike[str],
    n_per_class: int,
    seed: int = 0,
    domains: Sequence[str] | str | None = None,
    layout: str = "challenge",
    workers: int | None = None,
    progress: bool = True,
    preview: bool = True,
    config: Any = None,
    engine: str = "ours",
) -> SimulationSummary:
    """Simulate ``n_per_class`` lenses and non-lenses per domain with ``engine`` and write them under ``out``.

    Output bytes depend only on (``n_per_class``, ``seed``, ``domains``, ``layout``, ``config``),
    not on ``workers`` (processes; default: all CPU cores, at most 8). ``engine`` names a
    registered engine (:func:`~brahmasifier.simulation.engines.engine_names`): ``ours``
    (lenstronomy scenes of :mod:`.population`; domains ``slsim`` and ``hsc``, default both,
    ``config`` a :class:`~brahmasifier.simulation.population.PopulationConfig`) or ``slsim``
    (SLSim's populations and LSST images, :mod:`.slsim_engine`; domain ``slsim`` only, ``config``
    a :class:`~brahmasifier.simulation.slsim_engine.config.SlsimConfig`).

    Raises:
        ConfigError: an unknown engine, domain or layout, bad counts, settings of another engine's type.
        DependencyNotFoundError: the engine's extra is not installed.
        OutputExistsError: ``out`` holds a simulation with other settings, or another run is writing it.
    """
    spec = simulation_engine(engine)
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be positive, got {workers}")  # as pack says; 0 must not mean "some"
    check_output_folder(out, OWN_ENTRIES, "a simulation")
    n_domains = len(domains.split(",") if isinstance(domains, str) else domains) if domains else len(spec.defaults)
    n_objects = max(int(n_per_class), 0) * 2 * n_domains
    check_free_space(out, n_objects * BYTES_PER_OBJECT, "--out",
                     f"{n_objects:,} objects × {BYTES_PER_OBJECT:,} bytes of band files")
    missing = spec.missing()
    if missing:
        raise DependencyNotFoundError(missing)
    parsed = spec.defaults if domains is None else _parse_domains(domains)
    if not set(parsed) <= set(spec.domains):
        made = f"the {spec.domains[0]} domain only; use --domains {spec.domains[0]} (or leave it out)" if len(
            spec.domains) == 1 else f"the domains {', '.join(spec.domains)} only"
        raise ConfigError(f"engine {engine!r} makes {made}")
    config_class = spec.config_class()
    if config is not None and (config_class is None or not isinstance(config, config_class)):
        wanted = "no settings" if config_class is None else f"a {config_class.__name__}"
        raise ConfigError(f"engine {engine!r} takes {wanted}, got {type(config).__name__}")
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if n_per_class < 1:
        raise ConfigError(f"n_per_class must be >= 1, got {n_per_class}")
    request = RunRequest(Path(out), n_per_class, seed, parsed, layout, workers, progress, preview, config)
    if spec.run is not None:
        return spec.run_function()(request)
    return simulate_objects(spec, request)


def simulate_objects(spec: SimulationEngine, request: RunRequest) -> SimulationSummary:
    """The run of a per-object engine: every object drawn by ``spec.draw`` from its own seed, in processes.

    Args:
        spec: the engine (with a ``draw``).
        request: the checked arguments (``config`` ``None``: the engine's default settings).

    Returns:
        What was done (``skipped`` when ``out`` already holds this simulation).
    """
    out, seed, n_per_class, layout, domains = request.out, request.seed, request.n_per_class, request.layout, request.domains
    config_class = spec.config_class()
    cfg = request.config if request.config is not None or config_class is None else config_class()
    settings = {"n_per_class": n_per_class, "seed": seed, "domains": list(domains), "layout": layout,
                **spec.run_settings(cfg), "bands": list(BANDS), "bunit": PIXEL_UNIT, "zp": NJY_ZERO_POINT}
    previous = check_resume(out, settings)
    if previous is not None:
        return summary_from_manifest(out, previous)
    with RunLock(out / LOCK_FILE):
        return _run(spec, request, cfg, settings)


def _run(spec: SimulationEngine, request: RunRequest, cfg: Any, settings: dict[str, Any]) -> SimulationSummary:
    out, seed, n_per_class, layout, domains = request.out, request.seed, request.n_per_class, request.layout, request.domains
    start = time.perf_counter()
    classes = [(d, lab) for d in domains for lab in (1, 0)]
    n_total = len(classes) * n_per_class
    numbers = blind_numbers(seed, n_total)
    tasks = [
        _Task(d, lab, i, int(numbers[k * n_per_class + i]), request.preview and i < PREVIEW_PER_CLASS)
        for k, (d, lab) in enumerate(classes)
        for i in range(n_per_class)
    ]
    wanted = worker_count(request.workers)
    size = max(1, min(CHUNK, -(-n_total // (4 * wanted))))  # ≥4 chunks per worker for balance
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    n_workers = min(wanted, len(chunks))
    bar = progress_bar(n_total, spec.progress_label or f"simulate ({spec.name})", "obj", request.progress)
    try:
        done = run_jobs(_run_chunk, [(spec, chunk, seed, layout, str(out), cfg) for chunk in chunks], n_workers,
                        lambda k, _: bar.update(len(chunks[k])))
    finally:
        bar.close()
    results = [r for chunk_results in done for r in chunk_results]
    check_unique_ids(out, results, seed)
    paths = write_catalogues(out, layout, classes, results)
    if request.preview:
        paths["preview"] = write_preview(out / PREVIEW, results)
    seconds = time.perf_counter() - start
    counts = {class_folder(d, lab): n_per_class for d, lab in classes}
    summary = SimulationSummary(out, layout, seed, n_per_class, domains, counts, n_total, seconds,
                                n_total / seconds if seconds > 0 else float("inf"), n_workers, False, paths)
    write_manifest(out, settings, paths, {"counts": counts, "n_objects": n_total, "seconds": seconds})
    return summary
