"""Does new data look like what the model learned? Its statistics side by side with the training data's.

Per band: sky noise σ, neighbour-pixel noise correlation, PSF size proxy, central flux; the
central object's size, the masked-pixel fraction, the normalised-pixel histogram; with a model,
a per-object OOD score (the embedding's Mahalanobis distance). Writes ``OUT/check.json``,
``OUT/check_scores.csv`` (per object) and ``OUT/check.png``, prints a table and the verdict. Example::

    brahmasifier check survey_cutouts/ --model runs/r1 --out check_survey/
    brahmasifier check new_store/ --against training_store/ --out check_vs_store/
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import add_progress_option

__all__ = ["HELP", "add_arguments", "run"]

HELP = "compare data with a model's training data (noise, PSF, masks, embedding): table, check.json, verdict"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier check``."""
    parser.add_argument("data", nargs="+", metavar="DATA", help="FITS folders or packed stores to check")
    parser.add_argument("--model", default=None, metavar="RUN_OR_MODEL",
                        help="the trained model: its card's training-data statistics and embedding (the OOD score)")
    parser.add_argument("--against", default=None, metavar="STORE_OR_FITS",
                        help="compare with this data set's statistics instead of the model card's")
    parser.add_argument("--out", required=True, help="folder for check.json, check_scores.csv and check.png")
    parser.add_argument("--batch-size", type=int, default=256, help="objects per read")
    parser.add_argument("--seed", type=int, default=0, help="seed of the statistics' random sample")
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Check, print the table and the verdict."""
    from brahmasifier._outputs import check_output_files
    from brahmasifier.shift.check import CHECK_FIGURE, CHECK_JSON, CHECK_SCORES, check_data
    from brahmasifier.shift.figure import format_check_table

    check_output_files({"check.json": f"{args.out}/{CHECK_JSON}", "check_scores.csv": f"{args.out}/{CHECK_SCORES}",
                        "check.png": f"{args.out}/{CHECK_FIGURE}"})
    result = check_data(args.data, args.out, model=args.model, against=args.against, batch_size=args.batch_size,
                        seed=args.seed, progress=args.progress)
    print(f"checked {result.n_objects} objects ({result.n_unreadable} unreadable) against {result.reference}")
    print(format_check_table(result))
    print(f"verdict: {result.verdict}")
    print(f"wrote {args.out}/{CHECK_JSON}, {args.out}/{CHECK_SCORES}, {args.out}/{CHECK_FIGURE}")
    return 0
