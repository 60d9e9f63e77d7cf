"""Run the whole pipeline on simulated data, end to end.

Simulate a labelled training set and a blind test set, pack, train the default model,
predict the blind set with test-time augmentation, write the challenge submission and
evaluate it against the held-back truth.
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import add_progress_option

__all__ = ["HELP", "add_arguments", "run"]

HELP = "end-to-end demo on simulated data: simulate → pack → train → predict → evaluate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Demo options."""
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (about 2 minutes; used by the tests)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every stage")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from brahmasifier.demo import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, workers=args.workers, progress=args.progress)
    return 0
