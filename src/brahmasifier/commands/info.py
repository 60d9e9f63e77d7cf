"""Describe a packed store: counts by label x domain, rejects, duplicates, NaNs, size."""

from __future__ import annotations

import argparse
import json

__all__ = ["HELP", "add_arguments", "run"]

HELP = "summarise a packed store (counts, rejects, duplicates, size)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The store and the output format."""
    parser.add_argument("store", metavar="STORE", help="store folder written by `brahmasifier pack`")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    parser.add_argument("--top", type=int, default=5, help="how many reject reasons to list")


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.store``."""
    from brahmasifier.io.summary import summarize_store

    summary = summarize_store(args.store, top_reasons=args.top)
    if args.json:
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
    return 0
