"""Simulate data sets in parallel and write them in the release's layout or as a blind test set.

The files themselves are written by :class:`brahmasifier.simulation.writer.DatasetWriter` (the
release's published form, the one writer of every engine)::

    challenge: OUT/slsim_lenses/slsim_lenses/D1_L_00000000_g.fits ... + OUT/slsim_lenses/parameters.fits
               + OUT/slsim_lenses/_manifest.txt; the same for slsim_nonlenses, hsc_lenses, hsc_nonlenses
    test:      OUT/images/object_00000_g.fits ... (objects shuffled, primary-HDU images, no ID)
               + OUT/truth.csv (id = stem, label, domain, catalogue_id, subtype + all parameters, -999)
    both:      OUT/preview.png  OUT/simulation.json

Pixel values are nJy/pixel (``BUNIT='nJy'``, ``ZP=31.4`` in every band file).
SLSim IDs are ``GG-LENS_<ra>_<dec>`` strings, HSC IDs 17-digit digit strings, for both classes.

Besides the challenge columns, ``parameters.fits``/``truth.csv`` carry the ``sim_*`` columns of
:data:`brahmasifier.simulation.truth.SIM_COLUMNS` (simulation truth: subtype, arc S/N,
magnification, image multiplicity, PSF, handy for per-subtype metrics and engine comparisons).
``engine="slsim"`` hands the whole run to :mod:`brahmasifier.simulation.slsim_engine`, which
writes through ``write_object_files`` and the catalogue writers here (both delegate to the
``DatasetWriter``); so does the injection (:mod:`brahmasifier.simulation.inject`), whose results
add ``extra_columns`` (``host_id``, ...) that the catalogue rows carry as given.

Rerunning into a folder whose ``simulation.json`` (written last) records the same settings
skips all work; different settings are refused; a folder without it (an interrupted run)
is regenerated from scratch, which gives the same bytes because every object has its own seed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from brahmasifier import __version__
from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier._outputs import check_free_space, check_output_folder
from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.errors import ConfigError
from brahmasifier.hardware import usable_cpus
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.instrument import NJY_ZERO_POINT, PIXEL_UNIT
from brahmasifier.simulation.population import PopulationConfig
from brahmasifier.simulation.runs import MANIFEST, check_resume
from brahmasifier.simulation.truth import LENS_COLUMNS, NONLENS_COLUMNS, SIM_COLUMNS
from brahmasifier.simulation.writer import FITS_HEADER, LAYOUTS, OWN_ENTRIES, DatasetWriter

if TYPE_CHECKING:
    from brahmasifier.simulation.slsim_engine import SlsimConfig

if TYPE_CHECKING:
    from brahmasifier.simulation.render import Renderer

__all__ = [
    "CHUNK", "EXTRA_COLUMNS", "FITS_HEADER", "LAYOUTS", "MANIFEST", "PREVIEW", "PREVIEW_PER_CLASS",
    "SimulationSummary", "class_folder", "simulate_dataset", "write_preview",
]

ENGINES: tuple[str, ...] = ("ours", "slsim")
PREVIEW = "preview.png"
PREVIEW_PER_CLASS = 4
EXTRA_COLUMNS: tuple[str, ...] = tuple(SIM_COLUMNS)
CHUNK = 8


@dataclass
class SimulationSummary:
    """What :func:`simulate_dataset` did."""

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


@dataclass(frozen=True)
class _Task:
    domain: str
    label: int
    index: int
    number: int  # position in the shuffled test layout (unused for challenge)
    preview: bool


# ----------------------------------------------------------------------------- worker side
_RENDERERS: dict[str, Renderer] = {}


#: Disk use of one simulated object: five float64 band files of the published form (20,160 bytes each).
BYTES_PER_OBJECT = 5 * 20_160

def _renderer(domain: str) -> Renderer:
    """One Renderer per domain per process (lenstronomy objects are built once)."""
    from brahmasifier.simulation.render import Renderer

    if domain not in _RENDERERS:
        _RENDERERS[domain] = Renderer(domain)
    return _RENDERERS[domain]


def _run_chunk(tasks: Sequence[_Task], seed: int, layout: str, out: str, cfg: PopulationConfig) -> list[dict[str, Any]]:
    """Simulate and write a few objects; return their catalogue rows (+ preview images)."""
    from brahmasifier.simulation.generate import make_object

    results = []
    for task in tasks:
        obj = make_object(_renderer(task.domain), task.label, task.index, seed, cfg)
        stem = write_object_files(Path(out), layout, task.domain, task.label, task.index, task.number, obj.object_id, obj.image)
        row = dict(obj.scene.row)
        results.append(
            {
                "domain": task.domain, "label": task.label, "index": task.index, "stem": stem,
                "object_id": obj.object_id, "subtype": obj.subtype, "row": row,
                "preview": obj.image if task.preview else None,
            }
        )
    return results


def write_object_files(out: Path, layout: str, domain: str, label: int, index: int, number: int,
                       object_id: str | int, image: np.ndarray) -> str:
    """Write the five band files of one object in ``layout``; return its stem.

    Args:
        out: the data set's folder.
        layout: ``challenge`` (class folders, named by class index) or ``test`` (``images/``, by position).
        domain: ``slsim`` or ``hsc``.
        label: 1 lens, 0 non-lens.
        index: the object's index within its class.
        number: its position in the shuffled blind set.
        object_id: the catalogue ID.
        image: ``(5, 41, 41)`` pixels in band order.

    Returns:
        The file stem.
    """
    return DatasetWriter(out, layout).write_object(domain, label, index, number, object_id, image)


# ----------------------------------------------------------------------------- main side
def _settings(n_per_class: int, seed: int, domains: tuple[str, ...], layout: str, cfg: PopulationConfig) -> dict[str, object]:
    return {"n_per_class": n_per_class, "seed": seed, "domains": list(domains), "layout": layout,
            "population": asdict(cfg), "bands": list(BANDS), "bunit": PIXEL_UNIT, "zp": NJY_ZERO_POINT}


def _parse_domains(domains: Sequence[str] | str) -> tuple[str, ...]:
    from brahmasifier.bands import CODE_BY_DOMAIN

    if isinstance(domains, str):
        domains = [d.strip() for d in domains.split(",") if d.strip()]
    result = tuple(dict.fromkeys(domains))
    bad = [d for d in result if d not in CODE_BY_DOMAIN]
    if bad or not result:
        raise ConfigError(f"unknown domain(s) {bad or domains!r}; expected a subset of {', '.join(CODE_BY_DOMAIN)}")
    return result


def _catalogue_row(result: dict[str, Any], with_all_columns: bool) -> dict[str, Any]:
    """Challenge columns of one object (lens or non-lens); all columns with -999 if asked."""
    label = int(result["label"])
    row = result["row"]
    assert isinstance(row, dict)
    columns = ("RA", "Dec", *LENS_COLUMNS, *NONLENS_COLUMNS[:1]) if with_all_columns else (
        ("RA", "Dec", *LENS_COLUMNS) if label == 1 else ("RA", "Dec", *NONLENS_COLUMNS))
    out: dict[str, Any] = {c: float(row.get(c, MISSING_VALUE)) for c in columns}
    if label == 1 and "z_central" in columns:
        out["z_central"] = float(row["zlens"])  # the central object of a lens is its deflector
    out["sim_subtype"] = str(result["subtype"])
    for name in EXTRA_COLUMNS[1:]:  # engines put them in the row under these names
        value = row.get(name, MISSING_VALUE)
        out[name] = float(value)
    out.update(result.get("extra_columns") or {})  # an engine's own columns (injection: host_id, ...), as given
    return out


def simulate_dataset(
    out: str | os.PathLike[str],
    n_per_class: int,
    seed: int = 0,
    domains: Sequence[str] | str | None = None,
    layout: str = "challenge",
    workers: int | None = None,
    progress: bool = True,
    preview: bool = True,
    config: PopulationConfig | SlsimConfig | None = None,
    engine: str = "ours",
) -> SimulationSummary:
    """Simulate ``n_per_class`` lenses and non-lenses per domain and write them under ``out``.

    Output bytes depend only on (``n_per_class``, ``seed``, ``domains``, ``layout``, ``config``),
    not on ``workers`` (processes; default: all CPU cores, at most 8). ``engine`` is ``ours``
    (lenstronomy scenes of :mod:`.population`; domains ``slsim`` and ``hsc``, default both) or
    ``slsim`` (SLSim's populations and LSST images, :mod:`.slsim_engine`; domain ``slsim`` only,
    ``config`` a :class:`~brahmasifier.simulation.slsim_engine.config.SlsimConfig`).
    """
    from tqdm import tqdm

    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be positive, got {workers}")  # as pack says; 0 must not mean "some"
    check_output_folder(out, OWN_ENTRIES, "a simulation")
    n_domains = len(domains.split(",") if isinstance(domains, str) else domains) if domains else (1 if engine == "slsim" else 2)
    n_objects = max(int(n_per_class), 0) * 2 * n_domains
    check_free_space(out, n_objects * BYTES_PER_OBJECT, "--out",
                     f"{n_objects:,} objects × {BYTES_PER_OBJECT:,} bytes of band files")
    if engine == "slsim":
        return _simulate_with_slsim(out, n_per_class, seed, domains, layout, workers, progress, preview, config)
    if domains is None:
        domains = ("slsim", "hsc")
    if config is not None and not isinstance(config, PopulationConfig):
        raise ConfigError(f"engine 'ours' takes a PopulationConfig, got {type(config).__name__}")
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if n_per_class < 1:
        raise ConfigError(f"n_per_class must be >= 1, got {n_per_class}")
    domains = _parse_domains(domains)
    cfg = config or PopulationConfig()
    out = Path(out)
    settings = _settings(n_per_class, seed, domains, layout, cfg)
    previous = check_resume(out, settings)
    if previous is not None:
        return _summary_from_manifest(out, previous)
    manifest_path = out / MANIFEST
    start = time.perf_counter()
    classes = [(d, lab) for d in domains for lab in (1, 0)]
    n_total = len(classes) * n_per_class
    numbers = np.random.default_rng(np.random.SeedSequence([seed, 7_357])).permutation(n_total)
    tasks = [
        _Task(d, lab, i, int(numbers[k * n_per_class + i]), preview and i < PREVIEW_PER_CLASS)
        for k, (d, lab) in enumerate(classes)
        for i in range(n_per_class)
    ]
    wanted = max(1, workers or min(usable_cpus(), 8))
    size = max(1, min(CHUNK, -(-n_total // (4 * wanted))))  # ≥4 chunks per worker for balance
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    n_workers = min(wanted, len(chunks))
    results: list[dict[str, Any]] = []
    bar = tqdm(total=n_total, disable=not progress, desc="simulate", unit="obj")
    try:
        if n_workers == 1:
            for chunk in chunks:
                results.extend(_run_chunk(chunk, seed, layout, str(out), cfg))
                bar.update(len(chunk))
        else:
            import multiprocessing as mp

            # fork starts in milliseconds; spawn is the safe choice once torch (threads) is loaded.
            method = "fork" if "fork" in mp.get_all_start_methods() and "torch" not in sys.modules else "spawn"
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context(method)) as pool:
                futures = [pool.submit(_run_chunk, chunk, seed, layout, str(out), cfg) for chunk in chunks]
                for future, chunk in zip(futures, chunks, strict=True):
                    results.extend(future.result())
                    bar.update(len(chunk))
    finally:
        bar.close()
    ids = [str(r["object_id"]) for r in results]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{out}: simulated IDs are not unique; report this with seed={seed}")
    paths = _write_catalogues(out, layout, classes, results)
    if preview:
        paths["preview"] = write_preview(out / PREVIEW, results)
    seconds = time.perf_counter() - start
    counts = {class_folder(d, lab): n_per_class for d, lab in classes}
    summary = SimulationSummary(out, layout, seed, n_per_class, domains, counts, n_total, seconds,
                                n_total / seconds if seconds > 0 else float("inf"), n_workers, False, paths)
    paths["manifest"] = manifest_path
    manifest = {
        "format": "brahmasifier-simulation", "version": 1, "created_by": f"brahmasifier {__version__}",
        "settings": settings, "counts": counts, "n_objects": n_total, "seconds": seconds,
        "paths": {k: str(v.relative_to(out)) for k, v in paths.items()},
    }
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2))
    return summary


def _simulate_with_slsim(out: str | os.PathLike[str], n_per_class: int, seed: int, domains: Sequence[str] | str | None,
                         layout: str, workers: int | None, progress: bool, preview: bool,
                         config: PopulationConfig | SlsimConfig | None) -> SimulationSummary:
    from brahmasifier.simulation.slsim_engine import SlsimConfig, simulate_slsim

    if domains is not None and _parse_domains(domains) != ("slsim",):
        raise ConfigError("engine 'slsim' makes the slsim domain only; use --domains slsim (or leave it out)")
    if config is not None and not isinstance(config, SlsimConfig):
        raise ConfigError(f"engine 'slsim' takes an SlsimConfig, got {type(config).__name__}")
    return simulate_slsim(out, n_per_class, seed=seed, layout_name=layout, workers=workers, progress=progress,
                          preview=preview, config=config)


def _summary_from_manifest(out: Path, manifest: dict[str, Any]) -> SimulationSummary:
    s = manifest["settings"]
    assert isinstance(s, dict)
    paths = {k: out / v for k, v in manifest.get("paths", {}).items()}
    return SimulationSummary(out, s["layout"], s["seed"], s["n_per_class"], tuple(s["domains"]), dict(manifest["counts"]),
                             int(manifest["n_objects"]), 0.0, 0.0, 0, True, paths)


def _write_catalogues(out: Path, layout: str, classes: list[tuple[str, int]],
                      results: list[dict[str, Any]]) -> dict[str, Path]:
    writer = DatasetWriter(out, layout)
    paths: dict[str, Path] = {}
    if layout == "challenge":
        for domain, label in classes:
            mine = sorted((r for r in results if r["domain"] == domain and r["label"] == label), key=lambda r: r["index"])
            rows = [{"id": str(r["object_id"]), **_catalogue_row(r, with_all_columns=False)} for r in mine]
            paths[class_folder(domain, label)] = writer.write_class_catalogue(domain, label, [str(r["stem"]) for r in mine], rows)
        return paths
    rows = []
    for r in sorted(results, key=lambda r: r["stem"]):
        # The blind set's files carry no ID: the stem is what a submission uses.
        rows.append({"id": r["stem"], "stem": r["stem"], "label": r["label"], "domain": r["domain"],
                     "catalogue_id": str(r["object_id"]), **_catalogue_row(r, with_all_columns=True)})
    paths["images"] = writer.image_folder()
    paths["truth"] = writer.write_truth(rows)
    return paths


def write_preview(path: Path, results: list[dict[str, Any]]) -> Path:
    """A grid of Lupton RGB (i, r, g; :func:`brahmasifier.display.lupton_rgb`) cutouts: lenses on top, non-lenses below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from brahmasifier.display import lupton_rgb

    shown = [r for r in results if r["preview"] is not None]
    lenses = [r for r in shown if r["label"] == 1]
    others = [r for r in shown if r["label"] == 0]
    n_cols = max(len(lenses), len(others), 1)
    fig, axes = plt.subplots(2, n_cols, figsize=(1.9 * n_cols, 4.4), squeeze=False)
    for row_axes, group in zip(axes, (lenses, others), strict=True):
        for ax, r in zip(row_axes, group + [None] * (n_cols - len(group)), strict=False):
            ax.set_axis_off()
            if r is None:
                continue
            ax.imshow(lupton_rgb(np.asarray(r["preview"], dtype=np.float64)), origin="lower")
            row = r["row"]
            assert isinstance(row, dict)
            rein = float(row.get("Rein", MISSING_VALUE))
            title = f"{r['domain']} lens θE={rein:.2f}″" if r["label"] == 1 else f"{r['domain']} {r['subtype']}"
            ax.set_title(title, fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
