"""Run an injection over many hosts: in chunks, in parallel, resumable, deterministic per seed.

Order: the candidate hosts (:mod:`.hosts`) are shuffled by ``SeedSequence([seed, 0x1A1])``
and cut into chunks of ``hosts_per_chunk``; host ``k`` of that order draws everything from
``SeedSequence([seed, 0x1A2, k])`` (SLSim's global generators: per chunk, see :mod:`~brahmasifier.simulation.inject.sources`).
The lenses kept are the first ``n`` successful hosts in that order, so the output depends on
the seed and the settings only: chunks run ahead in parallel and the ones past the ``n``-th
success are discarded, whatever ``workers`` is.

A finished chunk leaves ``OUT/.inject_chunks/chunk-NNNNN.npy`` (its injected images) and
``chunk-NNNNN.json`` (truth rows, or each failed host's reason), written atomically; a rerun
with the same settings resumes from them, other settings are refused, a second live run is
refused (:class:`~brahmasifier.simulation.runs.RunLock`). At the end the band
files, catalogues, ``preview.png`` and ``simulation.json`` are written through
:mod:`brahmasifier.simulation.runs` (the runner's writers, every engine's), then ``rejected.csv``
(hosts that could not be read or may not host, with the reason) and ``hosts_unused.csv``
(hosts tried before the last kept one whose injections all failed the cut, with the reason),
and the chunk folder is removed. A FITS tree given as hosts is packed into
``OUT/.inject_chunks/hosts/`` (removed at the end) unless ``cache_dir`` is given.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path, write_text_atomic
from brahmasifier._outputs import check_outside_inputs
from brahmasifier.bands import BANDS, CODE_BY_DOMAIN
from brahmasifier.errors import ConfigError
from brahmasifier.simulation.inject.config import InjectConfig
from brahmasifier.simulation.inject.hosts import HostTable, load_catalog, open_hosts, select_hosts
from brahmasifier.simulation.inject.output import InjectionSummary, write_outputs
from brahmasifier.simulation.instrument import NJY_ZERO_POINT, PIXEL_UNIT
from brahmasifier.simulation.runs import RunLock, check_resume, locked_run, process_pool, progress_bar, worker_count
from brahmasifier.simulation.writer import LAYOUTS

__all__ = ["CHUNK_FOLDER", "HOST_COLUMNS", "inject_dataset"]

CHUNK_FOLDER = ".inject_chunks"
_SEED_ORDER, _SEED_HOST, _SEED_SLSIM = 0x1A1, 0x1A2, 0x1A6
#: Host columns handed to the injection (others stay in the store).
HOST_COLUMNS: tuple[str, ...] = ("RA", "Dec", "z_central", "sim_subtype", *(f"mag_lens_{b}" for b in BANDS),
                                 "center_x", "center_y", *(f"psf_fwhm_{b}" for b in BANDS),
                                 *(f"sim_psf_fwhm_{b}" for b in BANDS))


# ----------------------------------------------------------------------------- worker side
_CACHE: dict[str, tuple[object, Any]] = {}


def _cached(name: str, key: object, make: Callable[[], Any]) -> Any:
    """One object per process and key (store, renderer, SLSim catalogue): built once, reused by later chunks."""
    if name not in _CACHE or _CACHE[name][0] != key:
        _CACHE[name] = (key, make())
    return _CACHE[name][1]


def _run_chunk(number: int, store_paths: tuple[str, ...], hosts: list[dict[str, Any]], seed: int, config: dict[str, object],
               folder: str) -> int:
    """Inject into the hosts of chunk ``number``; write its record; return how many succeeded."""
    from brahmasifier.io.store import open_stores
    from brahmasifier.simulation.inject.paint import Host, inject_into_host
    from brahmasifier.simulation.inject.sources import OurSources, SlsimSources
    from brahmasifier.simulation.render import Renderer

    cfg = InjectConfig.from_dict(config)
    store = _cached("store", store_paths, lambda: open_stores(store_paths))  # one store, or several read as one
    renderer = _cached("renderer", "slsim", lambda: Renderer("slsim"))
    context: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if cfg.source_engine == "slsim":
        from brahmasifier.simulation.slsim_engine.catalogue import quiet_slsim, seeded

        catalogue = number // cfg.chunks_per_catalogue
        sources: Any = _cached("slsim", (seed, catalogue, cfg.slsim_catalogue_deg2),
                               lambda: SlsimSources(seed, catalogue, cfg.slsim_catalogue_deg2))
        stack = contextlib.ExitStack()
        stack.enter_context(seeded(np.random.SeedSequence([seed, _SEED_SLSIM, number])))
        stack.enter_context(quiet_slsim())
        context = stack
    else:
        sources = OurSources()
    images = store.read([h["row"] for h in hosts]) if hosts else np.empty((0, len(BANDS), 41, 41), np.float32)
    kept: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    with context:
        for h, image in zip(hosts, images, strict=True):
            rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_HOST, int(h["position"])]))
            result = inject_into_host(Host(h["id"], h["stem"], h["domain"], image, h["params"]), renderer, sources, rng, cfg)
            record = {"position": h["position"], "id": h["id"], "stem": h["stem"], "row_in_store": h["row"],
                      "domain": h["domain"], "subtype": h["params"].get("sim_subtype")}
            if isinstance(result, str):
                records.append({**record, "ok": False, "reason": result})
            else:
                records.append({**record, "ok": True, "attempts": result.attempts, "truth": result.row})
                kept.append(result.image)
    with atomic_path(Path(folder) / f"chunk-{number:05d}.npy") as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(kept, dtype=np.float32).reshape(-1, len(BANDS), *images.shape[-2:]))
    write_text_atomic(Path(folder) / f"chunk-{number:05d}.json", json.dumps({"chunk": number, "hosts": records}))
    return sum(r["ok"] for r in records)


# ----------------------------------------------------------------------------- main side
def _host_dicts(table: HostTable, order: np.ndarray, domain: str | None) -> list[dict[str, Any]]:
    """The candidates in injection order, as small picklable dicts."""
    frame = table.candidates
    columns = [c for c in HOST_COLUMNS if c in frame.columns]
    out = []
    for position, k in enumerate(order):
        row = frame.iloc[int(k)]
        params = {c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in columns if not pd.isna(row[c])}
        host_domain = domain or (str(row["domain"]) if str(row["domain"]) in CODE_BY_DOMAIN else "slsim")
        out.append({"position": position, "row": int(row["row"]), "id": str(row["id"]), "stem": str(row["stem"]),
                    "domain": host_domain, "params": params})
    return out


def _settings(hosts: list[Path], catalog: Path | None, n: int, seed: int, layout_name: str, domain: str | None,
              cfg: InjectConfig) -> dict[str, object]:
    import hashlib

    digest = hashlib.sha256(catalog.read_bytes()).hexdigest() if catalog is not None else None
    resolved = [str(h.resolve()) for h in hosts]
    return {"engine": "inject", "hosts": resolved[0] if len(resolved) == 1 else resolved,
            "catalog": None if catalog is None else str(catalog.resolve()), "catalog_sha256": digest, "n": n, "seed": seed,
            "layout": layout_name, "domain": domain, "inject": cfg.to_dict(), "bands": list(BANDS), "bunit": PIXEL_UNIT,
            "zp": NJY_ZERO_POINT}


def inject_dataset(hosts: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], n: int,
                   seed: int = 0, config: InjectConfig | None = None, catalog: str | os.PathLike[str] | None = None,
                   layout_name: str = "challenge", workers: int | None = None, progress: bool = True,
                   preview: bool = True, domain: str | None = None,
                   cache_dir: str | os.PathLike[str] | None = None) -> InjectionSummary:
    """Inject ``n`` lensed sources into hosts and write them (and, by default, the untouched hosts) under ``out``.

    Args:
        hosts: packed stores and/or FITS trees of host cutouts (several: read as one, nothing copied).
        out: output folder (challenge layout, or the blind ``test`` layout).
        n: lenses to make (fewer if the hosts run out; the summary says so).
        seed: the run's seed; the output depends only on it and the settings.
        config: injection settings (default :class:`~brahmasifier.simulation.inject.config.InjectConfig`).
        catalog: optional host catalogue CSV (see :mod:`.hosts`).
        layout_name: ``challenge`` or ``test``.
        workers: processes (default: CPU cores, at most 8).
        progress: show progress bars.
        preview: write ``preview.png``.
        domain: domain of every output object (default: the host's, ``slsim`` where unknown).
        cache_dir: where a FITS tree of hosts is packed (default ``OUT/.inject_chunks/hosts``, removed at the end).

    Returns:
        What was done (``skipped`` when ``out`` already holds this injection).

    Raises:
        OutputExistsError: ``out`` holds a data set with other settings, or another run is writing it.
        ConfigError: bad arguments.
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if layout_name not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout_name!r}; expected one of {', '.join(LAYOUTS)}")
    if domain is not None and domain not in CODE_BY_DOMAIN:
        raise ConfigError(f"unknown domain {domain!r}; expected one of {', '.join(CODE_BY_DOMAIN)}")
    cfg = config or InjectConfig()
    if cfg.source_engine == "slsim":
        from brahmasifier.errors import DependencyNotFoundError
        from brahmasifier.simulation.slsim_engine import available

        if available() is not None:
            raise DependencyNotFoundError(str(available()))
    out = Path(out)
    host_paths = [Path(hosts)] if isinstance(hosts, (str, os.PathLike)) else [Path(h) for h in hosts]
    catalog_path = Path(catalog) if catalog is not None else None
    check_outside_inputs({"--out": out}, [*host_paths, *([catalog_path] if catalog_path else [])])
    catalog_frame = load_catalog(catalog_path) if catalog_path is not None else None
    settings = json.loads(json.dumps(_settings(host_paths, catalog_path, n, seed, layout_name, domain, cfg)))
    folder = out / CHUNK_FOLDER
    previous = check_resume(out, settings, folder=folder, what="data set")
    if previous is not None:
        if folder.is_dir():  # a finished run killed before it removed its chunks: remove them now (under the lock)
            with RunLock(folder / "lock"):
                pass
            shutil.rmtree(folder)
        return InjectionSummary.from_manifest(out, previous)
    with locked_run(folder, settings):
        started = time.perf_counter()
        store = open_hosts(host_paths, Path(cache_dir) if cache_dir else folder / "hosts", workers, progress)
        table = select_hosts(store, catalog_frame, cfg.max_nan_pixels, cfg.host_query)
        order = np.random.default_rng(np.random.SeedSequence([seed, _SEED_ORDER])).permutation(len(table.candidates))
        host_list = _host_dicts(table, order, domain)
        chunks = [host_list[i : i + cfg.hosts_per_chunk] for i in range(0, len(host_list), cfg.hosts_per_chunk)]
        resumed = _run_chunks(folder, chunks, tuple(map(str, store.paths)), seed, cfg, n, workers, progress)
        summary = write_outputs(out, folder, table, chunks, n, seed, layout_name, cfg, settings, preview,
                                time.perf_counter() - started, resumed)
    shutil.rmtree(folder, ignore_errors=True)
    return summary


def _run_chunks(folder: Path, chunks: list[list[dict[str, Any]]], store_paths: tuple[str, ...], seed: int, cfg: InjectConfig,
                n: int, workers: int | None, progress: bool) -> int:
    """Run chunks in order until the first ``n`` successes are known; returns the number of chunks found done."""
    def done(c: int) -> int | None:
        path = folder / f"chunk-{c:05d}.json"
        return sum(h["ok"] for h in json.loads(path.read_text())["hosts"]) if path.is_file() else None

    found = {c: done(c) for c in range(len(chunks))}
    successes: dict[int, int] = {c: k for c, k in found.items() if k is not None}
    resumed = len(successes)

    def prefix() -> tuple[int, int]:
        """Successes over the contiguous finished chunks, and the first unfinished chunk."""
        total, c = 0, 0
        while c in successes:
            total += successes[c]
            c += 1
        return total, c

    wanted = worker_count(workers)
    config = cfg.to_dict()
    bar = progress_bar(n, "inject", "lens", progress, initial=min(prefix()[0], n))
    try:
        if wanted == 1:
            for c in range(len(chunks)):
                if prefix()[0] >= n:
                    break
                if c not in successes:
                    successes[c] = _run_chunk(c, store_paths, chunks[c], seed, config, str(folder))
                bar.n = min(prefix()[0], n)
                bar.refresh()
            return resumed
        with process_pool(wanted, initializer=_one_thread) as pool:
            running: dict[Future[int], int] = {}
            queue: Iterator[int] = (c for c in range(len(chunks)) if c not in successes)
            try:
                while True:
                    total, first_open = prefix()
                    ahead = sum(successes.get(c, 0) for c in successes if c >= first_open)
                    if total >= n:
                        break
                    while len(running) < 2 * wanted and total + ahead + _expected(successes, chunks, running) < n + 1:
                        upcoming = next(queue, None)
                        if upcoming is None:
                            break
                        future = pool.submit(_run_chunk, upcoming, store_paths, chunks[upcoming], seed, config, str(folder))
                        running[future] = upcoming
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for ended in finished:
                        successes[running.pop(ended)] = ended.result()  # re-raises a worker's error
                    bar.n = min(prefix()[0], n)
                    bar.refresh()
            except BaseException:  # an error or Ctrl-C: drop queued chunks instead of running them
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            for pending in running:
                pending.cancel()
    finally:
        bar.close()
    return resumed


def _one_thread() -> None:
    """A pool worker computes on one thread: the pool already runs one process per core.

    The sky estimator (:mod:`brahmasifier.sky`) runs on torch, whose default of one thread
    per core in every worker oversubscribed the cores: 2 workers on 2 cores injected 300 objects
    in 30.6 s against 20.1 s with one thread each (``benchmarks/bench_inject.py --n 150``).
    """
    import torch

    torch.set_num_threads(1)


def _expected(successes: dict[int, int], chunks: list[list[dict[str, Any]]], running: dict[Future[int], int]) -> float:
    """Successes expected from the running chunks at the success rate seen so far (1 per host before any is known)."""
    tried = sum(len(chunks[c]) for c in successes)
    rate = sum(successes.values()) / tried if tried else 1.0
    return math.fsum(rate * len(chunks[c]) for c in running.values())
