"""The end of an injection run: the kept lenses (and untouched hosts) written by :mod:`~brahmasifier.simulation.runs`.

Which hosts are kept is decided from the chunk records alone (the first ``n`` successes in
injection order), then the images are streamed chunk by chunk: an injected lens gets the ID
``INJ<seed>-<host ID>``, the host's untouched copy (``nonlenses="paired"``) keeps the host's
own ID. Besides the challenge and ``sim_*`` columns both carry ``host_id``, the measured
deflector centre ``sim_lens_x``/``sim_lens_y`` (lenses; ``-999`` for the copies), where the
host's redshift and magnitudes came from (``sim_host_z_origin``, ``sim_host_mag_origin``) and
the host's measured sky noise per band (``sim_sky_sigma_<b>``, pixel units).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.inject.config import InjectConfig
from brahmasifier.simulation.inject.hosts import REJECT_COLUMNS, HostTable
from brahmasifier.simulation.instrument import LSST_1YR
from brahmasifier.simulation.runs import (
    MANIFEST,
    PREVIEW,
    PREVIEW_PER_CLASS,
    blind_numbers,
    write_catalogues,
    write_manifest,
    write_preview,
)
from brahmasifier.simulation.writer import DatasetWriter

__all__ = ["EXTRA_COLUMNS", "REJECTED_FILE", "UNUSED_FILE", "InjectionSummary", "lens_id", "write_outputs"]

REJECTED_FILE = "rejected.csv"
UNUSED_FILE = "hosts_unused.csv"
#: Columns the injection writes besides the challenge's and ``SIM_COLUMNS``.
EXTRA_COLUMNS: tuple[str, ...] = ("host_id", "sim_lens_x", "sim_lens_y", "sim_host_z_origin", "sim_host_mag_origin",
                                  *(f"sim_sky_sigma_{b}" for b in BANDS))


@dataclass
class InjectionSummary:
    """What :func:`~brahmasifier.simulation.inject.inject_dataset` did."""

    out: Path
    layout: str
    seed: int
    n_requested: int
    n_lenses: int
    n_nonlenses: int
    counts: dict[str, int]  # per class folder name
    hosts: dict[str, int]  # found, rejected, candidates, excluded_by_query, tried, unused
    seconds: float
    objects_per_second: float
    skipped: bool = False
    resumed_chunks: int = 0
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def n_objects(self) -> int:
        """Objects written (lenses and non-lenses)."""
        return self.n_lenses + self.n_nonlenses

    @classmethod
    def from_manifest(cls, out: Path, manifest: dict[str, Any]) -> InjectionSummary:
        """The summary of a finished run (``skipped``: nothing was done now)."""
        s = manifest["settings"]
        return cls(out, s["layout"], s["seed"], s["n"], int(manifest["n_lenses"]), int(manifest["n_nonlenses"]),
                   dict(manifest["counts"]), dict(manifest["hosts"]), 0.0, 0.0, True, 0,
                   {k: out / v for k, v in manifest.get("paths", {}).items()})


def lens_id(seed: int, host_id: str) -> str:
    """ID of the lens injected into host ``host_id`` by a run of ``seed``."""
    return f"INJ{seed}-{host_id}"


def _records(folder: Path, n_chunks: int) -> list[list[dict[str, Any]]]:
    out = []
    for c in range(n_chunks):
        path = folder / f"chunk-{c:05d}.json"
        if not path.is_file():
            break
        out.append(json.loads(path.read_text())["hosts"])
    return out


def _extra(truth: dict[str, Any], host_id: str, lens: bool) -> dict[str, Any]:
    return {"host_id": host_id, "sim_lens_x": truth["sim_lens_x"] if lens else MISSING_VALUE,
            "sim_lens_y": truth["sim_lens_y"] if lens else MISSING_VALUE,
            **{c: truth[c] for c in EXTRA_COLUMNS[3:]}}


def _copy_row(truth: dict[str, Any]) -> dict[str, Any]:
    """Catalogue row of a host's untouched copy: its position, redshift, magnitudes and PSF as used for its lens."""
    keep = ("RA", "Dec", *(f"mag_lens_{b}" for b in BANDS), *(f"sim_psf_fwhm_{b}" for b in BANDS))
    return {**{k: truth[k] for k in keep}, "z_central": truth["zlens"]}


def write_outputs(out: Path, folder: Path, table: HostTable, chunks: list[list[dict[str, Any]]], n: int, seed: int,
                  layout_name: str, cfg: InjectConfig, settings: dict[str, object], preview: bool, seconds: float,
                  resumed: int) -> InjectionSummary:
    """Write the kept objects, catalogues, rejects, unused hosts, preview and ``simulation.json``."""
    records = _records(folder, len(chunks))
    kept: list[tuple[int, int, dict[str, Any]]] = []  # (chunk, position among its successes, record)
    unused: list[dict[str, Any]] = []
    tried = 0
    for c, hosts in enumerate(records):
        k = 0
        for record in hosts:
            if len(kept) >= n:
                break
            tried += 1
            if record["ok"]:
                kept.append((c, k, record))
                k += 1
            else:
                unused.append({"id": record["id"], "stem": record["stem"], "reason": record["reason"]})
    paired = cfg.nonlenses == "paired"
    n_out = len(kept) * (2 if paired else 1)
    numbers = blind_numbers(seed, max(n_out, 1))
    writer = DatasetWriter(out, layout_name)
    counters: dict[tuple[str, int], int] = {}
    results: list[dict[str, Any]] = []
    by_chunk: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for c, k, record in kept:
        by_chunk.setdefault(c, []).append((k, record))
    position = 0
    for c in sorted(by_chunk):
        images = np.load(folder / f"chunk-{c:05d}.npy")
        members = by_chunk[c]
        host_images = table.store.read([r["row_in_store"] for _, r in members]) if paired else None
        for j, (k, record) in enumerate(members):
            truth, domain, host = record["truth"], record["domain"], str(record["id"])
            outputs = [(1, lens_id(seed, host), images[k], dict(truth), "lens")]
            if paired:
                assert host_images is not None
                outputs.append((0, host, host_images[j], _copy_row(truth), record.get("subtype") or "host"))
            for label, object_id, image, row, subtype in outputs:
                index = counters.get((domain, label), 0)
                counters[(domain, label)] = index + 1
                stem = writer.write_object(domain, label, index, int(numbers[position]), object_id, image)
                position += 1
                results.append({"domain": domain, "label": label, "index": index, "stem": stem, "object_id": object_id,
                                "subtype": subtype, "row": row, "extra_columns": _extra(truth, host, label == 1),
                                "preview": image if preview and index < PREVIEW_PER_CLASS else None})
    classes = sorted(counters, key=lambda dl: (dl[0], -dl[1]))
    paths = write_catalogues(out, layout_name, classes, results) if results else {}
    if preview and results:
        paths["preview"] = write_preview(out / PREVIEW, results)
    with atomic_path(out / REJECTED_FILE) as tmp:
        table.rejected.loc[:, list(REJECT_COLUMNS)].to_csv(tmp, index=False)
    with atomic_path(out / UNUSED_FILE) as tmp:
        pd.DataFrame(unused, columns=["id", "stem", "reason"]).to_csv(tmp, index=False)
    paths.update({"rejected": out / REJECTED_FILE, "hosts_unused": out / UNUSED_FILE, "manifest": out / MANIFEST})
    counts = {class_folder(d, lab): v for (d, lab), v in sorted(counters.items())}
    host_counts = {"found": table.n_found, "rejected": len(table.rejected), "candidates": len(table.candidates),
             "excluded_by_query": table.n_excluded_by_query, "catalog_rows_unmatched": table.n_catalog_unmatched,
             "tried": tried, "unused": len(unused)}
    n_lenses = len(kept)
    noise = {b: {"total_exposure_s": LSST_1YR[b].total_exposure_time, "njy_per_electron": LSST_1YR[b].poisson_njy_per_count}
             for b in BANDS}
    engine = {"name": "inject", "source_engine": cfg.source_engine, "arc_noise": (
        "Poisson noise of the arc alone, in electrons of the LSST 1-year coadd (lenstronomy's settings): "
        "electrons = flux[nJy] / njy_per_electron, njy_per_electron = (nJy per e-/s) / total exposure"),
        "arc_noise_per_band": noise, "ids": "lens: INJ<seed>-<host ID>; untouched host copy: the host's ID"}
    write_manifest(out, settings, paths,
                   {"counts": counts, "n_objects": n_out, "n_lenses": n_lenses, "n_nonlenses": n_out - n_lenses,
                    "hosts": host_counts, "acceptance": n_lenses / tried if tried else None, "seconds": seconds},
                   {"engine": engine,
                    "note": None if n_lenses >= n else f"only {n_lenses} of {n} lenses: the {tried} candidate hosts ran out"})
    return InjectionSummary(out, layout_name, seed, n, n_lenses, n_out - n_lenses, counts, host_counts, seconds,
                            n_out / seconds if seconds > 0 else float("inf"), False, resumed, paths)
