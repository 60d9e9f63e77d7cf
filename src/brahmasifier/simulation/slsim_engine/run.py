"""Run the SLSim engine: independent catalogue realisations in parallel, resumable, deterministic.

Work is cut into **realisations** ``r = 0, 1, …``: realisation ``r`` draws its own SkyPy
catalogue and SLSim populations from ``SeedSequence([seed, 0x5151, r])`` (SLSim's global
generators, see :mod:`.catalogue`) and its own choices (sky positions, non-lens kinds,
noise seeds) from ``SeedSequence([seed, 0x5152, r])``, and makes the lenses *and* the
non-lenses of class indices ``[r K, (r+1) K)`` (``K = objects_per_realisation``). One
realisation runs start to finish in one process, so the bytes written depend on the seed
and the settings only, never on ``workers``.

Each finished realisation leaves its band files in place and a record
``OUT/.slsim_chunks/chunk-NNNNN.json`` (its catalogue rows), written atomically; a rerun with
the same settings skips finished realisations (different settings are refused). At the end
the catalogues, ``preview.png`` and ``simulation.json`` are written by the runner
(:mod:`brahmasifier.simulation.runs`, the same writers as every engine's) and the records
are removed. The non-lens kinds drawn are those of the registry with an SLSim draw
(:func:`brahmasifier.simulation.nonlens_kinds.kinds_for`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from brahmasifier._atomic import write_text_atomic
from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.engines import RunRequest
from brahmasifier.simulation.instrument import NJY_ZERO_POINT, PIXEL_UNIT
from brahmasifier.simulation.nonlens_kinds import NONLENS_KINDS, kinds_for
from brahmasifier.simulation.runs import (
    PREVIEW,
    PREVIEW_PER_CLASS,
    SimulationSummary,
    blind_numbers,
    check_resume,
    check_unique_ids,
    locked_run,
    progress_bar,
    run_jobs,
    summary_from_manifest,
    worker_count,
    write_catalogues,
    write_manifest,
    write_preview,
)
from brahmasifier.simulation.slsim_engine.config import SlsimConfig
from brahmasifier.simulation.writer import LAYOUTS, DatasetWriter

if TYPE_CHECKING:
    from brahmasifier.simulation.slsim_engine.images import RenderedObject

__all__ = ["CHUNK_FOLDER", "RealisationObject", "realisation_objects", "run_engine", "simulate_slsim"]

CHUNK_FOLDER = ".slsim_chunks"
DOMAIN = "slsim"
_SEED_SLSIM, _SEED_OURS = 0x5151, 0x5152


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("slsim", "lenstronomy", "skypy", "numpy", "astropy")}


def _file_digests(cfg: SlsimConfig) -> dict[str, str]:
    """SHA-256 of the input files a run reads (a resumed run refuses a file changed since)."""
    files = {"skypy_config": cfg.skypy_config, "los_file": cfg.los_file}
    out = {}
    for name, path in files.items():
        if path is not None:
            try:
                out[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError as exc:
                raise ConfigError(f"{name} {path}: cannot be read ({exc.strerror or exc})") from None
    return out


def _settings(n_per_class: int, seed: int, layout_name: str, cfg: SlsimConfig) -> dict[str, object]:
    settings: dict[str, object] = {
        "engine": "slsim", "n_per_class": n_per_class, "seed": seed, "domains": [DOMAIN], "layout": layout_name,
        "slsim": cfg.to_dict(), "bands": list(BANDS), "bunit": PIXEL_UNIT, "zp": NJY_ZERO_POINT}
    digests = _file_digests(cfg)
    if digests:  # only when a file is read, so the settings of runs without one are unchanged
        settings["file_sha256"] = digests
    return settings


class RealisationObject(NamedTuple):
    """One object of a realisation as rendered (:func:`realisation_objects`), before it is written."""

    label: int
    class_index: int  # the object's number within its class
    kind: str
    form: str
    obj: object
    ra: float
    dec: float
    rendered: RenderedObject  # the noisy image and its noiseless parts
    realisation: Any  # slsim_engine.catalogue.Realisation: its population draws and deflector count


def realisation_objects(number: int, start: int, stop: int, seed: int, cfg: SlsimConfig) -> Iterator[RealisationObject]:
    """The lenses, then the non-lenses, of class indices ``[start, stop)`` of realisation ``number``, rendered.

    The one place the engine draws and renders; ``simulate`` writes what it yields, and
    ``experiments/survey_registration_bound.py`` reads the noiseless parts of the same objects.
    """
    from brahmasifier.simulation.population import sky_position
    from brahmasifier.simulation.scene import draw_scene_offset
    from brahmasifier.simulation.slsim_engine.catalogue import Realisation, quiet_slsim, seeded
    from brahmasifier.simulation.slsim_engine.images import render_object

    rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_OURS, number]))
    names = kinds_for("slsim")  # registration order: deflector, false_positive, blue, then any added kind
    mix = np.array([cfg.nonlens_mix.get(k, 0.0) for k in names], dtype=float)
    kinds = [names[k] for k in rng.choice(len(names), size=stop - start, p=mix / mix.sum())]
    with seeded(np.random.SeedSequence([seed, _SEED_SLSIM, number])), quiet_slsim():
        realisation = Realisation(cfg)
        objects = [(1, i, obj, "lens", "lens")
                   for i, obj in zip(range(start, stop), realisation.lenses(stop - start), strict=True)]
        for i, kind in zip(range(start, stop), kinds, strict=True):
            obj, form = NONLENS_KINDS[kind].draws["slsim"](realisation, rng)
            objects.append((0, i, obj, kind, form))
        for label, index, obj, kind, form in objects:
            ra, dec = sky_position(rng, DOMAIN)
            noise_seeds = rng.integers(0, 2**31 - 1, len(BANDS))
            offset = draw_scene_offset(rng, cfg.scene_offset)  # nothing drawn at 0: a centred run keeps its bytes
            rendered = render_object(obj, form, cfg.coadd_years, noise_seeds, offset)
            yield RealisationObject(label, index, kind, form, obj, ra, dec, rendered, realisation)


def _run_realisation(number: int, start: int, stop: int, seed: int, n_per_class: int, layout_name: str, out: str,
                     config: dict[str, object], preview: bool) -> int:
    """Make and write the objects of class indices ``[start, stop)`` from realisation ``number``."""
    from brahmasifier._atomic import atomic_path
    from brahmasifier.simulation.generate import slsim_object_id
    from brahmasifier.simulation.slsim_engine.images import truth_row

    cfg = SlsimConfig(**{**config, "false_positive_sources": tuple(config["false_positive_sources"])})  # type: ignore[arg-type]
    numbers = blind_numbers(seed, 2 * n_per_class)
    writer = DatasetWriter(Path(out), layout_name)
    results: list[dict[str, object]] = []
    previews: dict[str, np.ndarray] = {}
    realisation = None
    for item in realisation_objects(number, start, stop, seed, cfg):
        realisation = item.realisation
        object_id = slsim_object_id(item.ra, item.dec)
        position = int(numbers[(0 if item.label == 1 else n_per_class) + item.class_index])
        stem = writer.write_object(DOMAIN, item.label, item.class_index, position, object_id, item.rendered.image)
        row = {"RA": item.ra, "Dec": item.dec, **truth_row(item.obj, item.form, item.rendered)}
        results.append({"domain": DOMAIN, "label": item.label, "index": item.class_index, "stem": stem,
                        "object_id": object_id, "subtype": item.kind, "row": row})
        if preview and item.class_index < PREVIEW_PER_CLASS:
            previews[f"{item.label}_{item.class_index}"] = item.rendered.image
    folder = Path(out) / CHUNK_FOLDER
    if previews:
        with atomic_path(folder / f"preview-{number:05d}.npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **previews)  # type: ignore[arg-type]
    assert realisation is not None  # start < stop: every realisation makes at least one lens
    record = {"realisation": number, "start": start, "stop": stop, "population_draws": realisation.population_draws,
              "deflectors_in_catalogue": realisation.n_deflectors, "results": results}
    write_text_atomic(folder / f"chunk-{number:05d}.json", json.dumps(record))
    return len(results)


def _load_results(folder: Path, chunks: list[tuple[int, int, int]]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    results, records = [], []
    for number, _, _ in chunks:
        record = json.loads((folder / f"chunk-{number:05d}.json").read_text())
        preview_file = folder / f"preview-{number:05d}.npz"
        previews = dict(np.load(preview_file)) if preview_file.is_file() else {}
        for r in record.pop("results"):
            r["preview"] = previews.get(f"{r['label']}_{r['index']}")
            results.append(r)
        records.append(record)
    return results, records


def simulate_slsim(out: str | os.PathLike[str], n_per_class: int, seed: int = 0, layout_name: str = "challenge",
                   workers: int | None = None, progress: bool = True, preview: bool = True,
                   config: SlsimConfig | None = None) -> SimulationSummary:
    """Simulate ``n_per_class`` SLSim lenses and non-lenses (domain ``slsim``) under ``out``.

    Args:
        out: output folder.
        n_per_class: objects per class.
        seed: the run's seed; output bytes depend only on it and the settings.
        layout_name: ``challenge`` or ``test``.
        workers: processes (default: CPU cores, at most 8).
        progress: show a progress bar.
        preview: write ``preview.png``.
        config: engine settings (default :class:`~brahmasifier.simulation.slsim_engine.config.SlsimConfig`).

    Returns:
        What was done (``skipped`` when ``out`` already holds this simulation).

    Raises:
        OutputExistsError: ``out`` holds a simulation (finished or not) with other settings, or another run is writing it.
        ConfigError: bad arguments.
    """
    if layout_name not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout_name!r}; expected one of {', '.join(LAYOUTS)}")
    if n_per_class < 1:
        raise ConfigError(f"n_per_class must be >= 1, got {n_per_class}")
    cfg = config or SlsimConfig()
    out = Path(out)
    settings = json.loads(json.dumps(_settings(n_per_class, seed, layout_name, cfg)))
    folder = out / CHUNK_FOLDER
    previous = check_resume(out, settings, folder=folder)
    if previous is not None:
        return summary_from_manifest(out, previous)
    with locked_run(folder, settings):
        summary = _run(out, folder, n_per_class, seed, layout_name, workers, progress, preview, cfg, settings)
    folder.rmdir()  # emptied by _run once simulation.json is written
    return summary


def _run(out: Path, folder: Path, n_per_class: int, seed: int, layout_name: str, workers: int | None, progress: bool,
         preview: bool, cfg: SlsimConfig, settings: dict[str, object]) -> SimulationSummary:
    start_time = time.perf_counter()
    size = cfg.objects_per_realisation
    chunks = [(r, lo, min(lo + size, n_per_class)) for r, lo in enumerate(range(0, n_per_class, size))]
    pending = [c for c in chunks if not (folder / f"chunk-{c[0]:05d}.json").is_file()]
    n_workers = worker_count(workers, len(pending) or 1)
    config_dict = cfg.to_dict()
    args = [(r, lo, hi, seed, n_per_class, layout_name, str(out), config_dict, preview) for r, lo, hi in pending]
    resumed = 2 * n_per_class - sum(2 * (hi - lo) for _, lo, hi in pending)
    bar = progress_bar(2 * n_per_class, "simulate (slsim)", "obj", progress, initial=resumed)
    try:
        run_jobs(_run_realisation, args, n_workers, lambda _, made: bar.update(made))
    finally:
        bar.close()
    results, records = _load_results(folder, chunks)
    check_unique_ids(out, results, seed)
    classes = [(DOMAIN, 1), (DOMAIN, 0)]
    paths = write_catalogues(out, layout_name, classes, results)
    if preview:
        paths["preview"] = write_preview(out / PREVIEW, results)
    seconds = time.perf_counter() - start_time
    counts = {class_folder(DOMAIN, lab): n_per_class for _, lab in classes}
    los = f"SLSim LOSPop from {cfg.los_file}" if cfg.los_file else (
        "none: zero external convergence and shear (SLSim's line-of-sight table is not in the slsim sdist; "
        "pass SlsimConfig(los_file=...) to use one)")
    engine = {"name": "slsim", "versions": _versions(), "line_of_sight": los, "realisations": len(chunks),
              "population_draws": sum(int(r["population_draws"]) for r in records),  # type: ignore[call-overload]
              "skypy_config": cfg.skypy_config or "brahmasifier.simulation.slsim_engine.skypy_config (see its docstring)"}
    write_manifest(out, settings, paths, {"counts": counts, "n_objects": 2 * n_per_class, "seconds": seconds,
                                          "resumed_objects": resumed}, {"engine": engine})
    for path in folder.iterdir():  # the records; the lock goes when the run returns, then the folder
        if path.name != "lock":
            path.unlink()
    n_total = 2 * n_per_class
    made = sum(2 * (hi - lo) for _, lo, hi in pending)
    return SimulationSummary(out, layout_name, seed, n_per_class, (DOMAIN,), counts, n_total, seconds,
                             made / seconds if seconds > 0 else float("inf"), n_workers, False, paths, resumed=n_total - made)


def run_engine(request: RunRequest) -> SimulationSummary:
    """The SLSim engine's run in the engine registry (:mod:`brahmasifier.simulation.engines`)."""
    return simulate_slsim(request.out, request.n_per_class, seed=request.seed, layout_name=request.layout,
                          workers=request.workers, progress=request.progress, preview=request.preview,
                          config=request.config)
