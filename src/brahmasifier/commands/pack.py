"""Pack challenge FITS folders into a store (shards + index.parquet + rejected.csv).

Each object's five band files are read once, checked (shape, matching IDs, NaN/Inf → 0) and
written into memory-mappable shards; training and prediction then read the store, not the
FITS files. Unreadable objects are listed in rejected.csv with the reason; where a class
folder has a ``_manifest.txt``, files it names that are missing and band files it does not name
are listed there too (and counted in the summary). An interrupted run resumes when rerun with
the same arguments.
"""

from __future__ import annotations

import argparse
import time

from brahmasifier.commands._options import ConfigOption, add_config_options, add_progress_option, option_values

__all__ = ["HELP", "SETTINGS", "add_arguments", "run"]

HELP = "pack challenge FITS folders into a fast cutout store"

#: ``brahmasifier pack`` options → PackConfig fields (checked there, once); defaults shown from PackConfig.
#: ``ROOT`` (positional) and ``--no-progress`` (the shared spelling) are its other two fields.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--out",), "out", {}, "store folder to create", required=True),
    ConfigOption(("--workers",), "workers", {"type": int}, "worker processes (default: all usable CPUs)"),
    ConfigOption(("--shard-size",), "shard_size", {"type": int}, "objects per shard (= per parallel task)"),
    ConfigOption(("--overwrite",), "overwrite", {"action": "store_true"}, "rebuild --out if it already holds a store"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, output and parallelism: the fields of :class:`~brahmasifier.io.pack_config.PackConfig`."""
    from brahmasifier.io.pack_config import PackConfig

    parser.add_argument("roots", nargs="+", metavar="ROOT", help="folder(s) holding *_<band>.fits files (searched recursively)")
    add_config_options(parser, SETTINGS, PackConfig().to_dict())
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Pack, then print a summary."""
    from pathlib import Path

    from brahmasifier.io import pack_fits
    from brahmasifier.io.pack_config import PackConfig
    from brahmasifier.io.parameters import parameters_line
    from brahmasifier.io.reader import stem_id_line
    from brahmasifier.io.store import MANIFEST
    from brahmasifier.pixels import masked_line

    config = PackConfig(roots=tuple(args.roots), progress=args.progress,
                        **option_values(args, SETTINGS))
    manifest_path = Path(config.out) / MANIFEST
    manifest_before = manifest_path.read_bytes() if manifest_path.is_file() and not config.overwrite else None
    started = time.perf_counter()
    store = pack_fits(config)
    seconds = time.perf_counter() - started
    m = store.manifest
    if manifest_before is not None and manifest_path.read_bytes() == manifest_before:
        print(f"{store.path}: already packed from identical inputs ({len(store):,} objects); nothing to do")
        return 0
    n_now = int(m.get("objects_packed_this_run", 0))
    rate = f"{n_now / seconds:,.0f} objects/s" + (f" ({n_now:,} objects read in this run, stored or rejected)"
                                                  if n_now != len(store) else "")
    print(f"packed {len(store):,} objects into {store.path} ({len(m['shards'])} shards)")
    n_file_rows = sum(int(m.get(k, 0)) for k in ("n_stray_files", "n_listed_missing", "n_unlisted"))
    n_stray = int(m.get("n_stray_files", 0))
    print(f"  found {m.get('n_found', len(store)):,}; rejected {m['n_rejected'] - n_file_rows:,} objects"
          f" and {n_stray:,} stray file{'' if n_stray == 1 else 's'} (see {store.path / 'rejected.csv'})")
    if m.get("n_stem_ids"):
        print(f"  {stem_id_line(int(m['n_stem_ids']))}")
    for check in m.get("release_manifests", []):
        note = f"; {check['note']}" if check.get("note") else ""
        print(f"  {check['manifest']}: {check['n_listed']:,} listed, {check['n_missing']:,} missing, "
              f"{check['n_unlisted']:,} band files not listed{note}")
    line = parameters_line(int(m.get("n_with_parameters", 0)), len(store), len(m.get("parameter_files", [])))
    if line:
        print(f"  {line}")
    for problem in m.get("parameter_problems", []):
        print(f"  parameter table {problem['file']}: {problem['reason']}")
    print(f"  duplicate IDs: {m.get('n_duplicate_ids', 0):,} objects; with NaN/Inf pixels: {m.get('n_with_nan', 0):,}")
    if "n_with_masked" in m:
        print(f"  {masked_line(int(m['n_with_masked']), float(m['median_masked_fraction']))}")
    print(f"  {seconds:.1f} s, {rate}")
    return 0
