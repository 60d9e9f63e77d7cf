"""Simulate LSST-like lens and non-lens cutouts with lenstronomy (needs ``brahmasifier[sim]``).

Writes the challenge layout (four class folders of ``DX_IYYYYYYY_b.fits`` files with a
``parameters.fits`` each) or a blind test layout (``images/object_NNNNN_b.fits`` + a
``truth.csv`` outside ``images/``), plus ``preview.png`` and ``simulation.json``. Pixel values
are nJy per pixel. The output is identical for a seed whatever ``--workers``. Rerunning
with the same settings into a finished folder does nothing; other settings are refused.
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import add_progress_option

__all__ = ["HELP", "add_arguments", "run"]

HELP = "simulate lens/non-lens cutouts (lenstronomy) in the challenge or a blind-test layout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `brahmasifier simulate`."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-per-class", type=int, required=True, help="objects per class and domain")
    parser.add_argument("--seed", type=int, default=0, help="random seed (output depends only on it and the settings)")
    parser.add_argument("--domains", default="slsim,hsc", help="comma-separated subset of slsim,hsc")
    parser.add_argument("--layout", choices=("challenge", "test"), default="challenge", help="output layout")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU cores, at most 8)")
    parser.add_argument("--no-preview", action="store_true", help="skip preview.png")
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the simulation and print a one-line summary."""
    from brahmasifier.simulation import simulate_dataset

    summary = simulate_dataset(
        args.out, args.n_per_class, seed=args.seed, domains=args.domains, layout=args.layout,
        workers=args.workers, progress=args.progress, preview=not args.no_preview,
    )
    if summary.skipped:
        print(f"{summary.out}: already complete ({summary.n_objects} objects, seed {summary.seed}); nothing to do")
    else:
        print(f"{summary.out}: {summary.n_objects} objects ({summary.layout} layout) in {summary.seconds:.1f} s "
              f"= {summary.objects_per_second:.1f} objects/s with {summary.workers} worker(s)")
    return 0
