"""Describe a packed store: counts by label x domain, rejects, duplicates, NaNs, size, and its inputs.

Besides the objects it says which non-image files the inputs held (``_manifest.txt``,
``parameters*.fits``, simulator files), which parameter table each class folder used (and which
folders had none), and what each ``_manifest.txt`` check found.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

from brahmasifier.commands._options import ConfigOption, add_config_options, non_negative, option_values
from brahmasifier.settings import Problems

__all__ = ["HELP", "SETTINGS", "InfoConfig", "add_arguments", "run"]

HELP = "summarise a packed store (counts, rejects, duplicates, size)"


@dataclass(frozen=True)
class InfoConfig:
    """``brahmasifier info``'s settings: the store, JSON or text, how many reject reasons (checked once)."""

    store: str = ""
    json: bool = False
    top: int = 5

    def __post_init__(self) -> None:
        problems = Problems("")
        if not (isinstance(self.top, int) and self.top >= 0):
            problems.add(f"top must be 0 or more, got {self.top}")
        problems.check()


#: ``brahmasifier info`` options → InfoConfig fields; ``STORE`` (positional) is the other one.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--json",), "json", {"action": "store_true"}, "print machine-readable JSON instead of text"),
    ConfigOption(("--top",), "top", {"type": non_negative}, "how many reject reasons to list (0 or more)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The store and the output format (the fields of :class:`InfoConfig`)."""
    parser.add_argument("store", metavar="STORE", help="store folder written by `brahmasifier pack`")
    add_config_options(parser, SETTINGS, asdict(InfoConfig()))


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.store``."""
    from brahmasifier.io.parameters import parameters_line
    from brahmasifier.io.reader import stem_id_line
    from brahmasifier.io.summary import summarize_store
    from brahmasifier.pixels import masked_line

    config = InfoConfig(store=args.store, **option_values(args, SETTINGS))
    summary = summarize_store(config.store, top_reasons=config.top)
    if config.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"store {summary['path']}: {summary['n_objects']:,} objects in {summary['n_shards']} shards, "
          f"{summary['size_bytes'] / 2**20:,.1f} MiB on disk")
    print("objects by label x domain:")
    labels = {"1": "lens", "0": "non-lens", "-1": "unknown"}
    for label, by_domain in summary["counts"].items():
        cells = ", ".join(f"{domain} {n:,}" for domain, n in by_domain.items())
        print(f"  {labels.get(label, label):>9}: {cells}")
    print(f"rejected: {summary['n_rejected_objects']:,} objects, {summary['n_stray_files']:,} stray files")
    for reason, n in summary["top_reject_reasons"].items():
        print(f"  {n:>8,}  {reason}")
    print(f"duplicate IDs: {summary['n_duplicate_id']:,} objects; NaN/Inf-affected: {summary['n_with_nan']:,} objects "
          f"({summary['n_nan_pixels']:,} pixels)")
    if summary.get("n_with_masked") is None:
        print("masked pixels: not counted (store packed before they were; repack to count them)")
    else:
        print(masked_line(summary["n_with_masked"], summary["median_masked_fraction"]))
    if summary["n_stem_ids"]:
        print(stem_id_line(summary["n_stem_ids"]))
    line = parameters_line(summary["n_with_parameters"], summary["n_objects"], summary["n_parameter_files"])
    if line:
        print(line)
    _print_inputs(summary)
    return 0


_KIND_NAMES = {"parameters": "parameters.fits", "parameters_updated": "parameters_updated.fits",
               "parameters_other": "other parameters*.fits (not joined)", "manifest": "_manifest.txt",
               "simulation": "simulator side files"}


def _print_inputs(summary: dict[str, Any]) -> None:
    """The inputs' non-image files, parameter tables per folder and manifest checks."""
    known = summary.get("known_files") or {}
    if known:
        print("non-image files: " + ", ".join(f"{n:,} {_KIND_NAMES.get(k, k)}" for k, n in known.items()))
    tables = summary.get("parameter_tables") or []
    print("parameter tables:")
    for entry in tables:
        files = entry["files"]
        used = f"{files[1]} over {files[0]}" if len(files) == 2 else files[0]
        print(f"  {entry['folder']}: {used}")
    for root in summary.get("roots") or []:
        prefix = root.rstrip("/") + "/"
        if not any((t["folder"] + "/").startswith(prefix) or prefix.startswith(t["folder"] + "/") for t in tables):
            print(f"  {root}: none (its objects have no parameters)")
    for check in summary.get("release_manifests") or []:
        note = f"; {check['note']}" if check.get("note") else ""
        print(f"manifest {check['manifest']}: {check['n_listed']:,} files listed, {check['n_missing']:,} missing, "
              f"{check['n_unlisted']:,} band files not listed{note}")
