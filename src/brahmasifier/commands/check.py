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

from brahmasifier.commands._options import ConfigOption, add_config_options, add_progress_option, option_values

__all__ = ["HELP", "SETTINGS", "add_arguments", "run"]

HELP = "compare data with a model's training data (noise, PSF, masks, embedding): table, check.json, verdict"

#: ``brahmasifier check`` options → CheckConfig fields (checked there, once); defaults shown from CheckConfig.
#: ``DATA`` (positional) and ``--no-progress`` (the shared spelling) are its other two fields.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--model",), "model", {"metavar": "RUN_OR_MODEL"},
                 "the trained model: its card's training-data statistics and embedding (the OOD score)"),
    ConfigOption(("--against",), "against", {"metavar": "STORE_OR_FITS"},
                 "compare with this data set's statistics instead of the model card's"),
    ConfigOption(("--out",), "out", {}, "folder for check.json, check_scores.csv and check.png", required=True),
    ConfigOption(("--batch-size",), "batch_size", {"type": int}, "objects per read"),
    ConfigOption(("--seed",), "seed", {"type": int}, "seed of the statistics' random sample"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier check``: the fields of :class:`~brahmasifier.shift.config.CheckConfig`."""
    from brahmasifier.shift.config import CheckConfig

    parser.add_argument("data", nargs="+", metavar="DATA", help="FITS folders or packed stores to check")
    add_config_options(parser, SETTINGS, CheckConfig().to_dict())
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Check, print the table and the verdict."""
    from brahmasifier._outputs import check_output_files
    from brahmasifier.shift.check import CHECK_FIGURE, CHECK_JSON, CHECK_SCORES, check_data
    from brahmasifier.shift.config import CheckConfig
    from brahmasifier.shift.figure import format_check_table

    config = CheckConfig(data=tuple(args.data), progress=args.progress,
                         **option_values(args, SETTINGS))
    out = config.out
    check_output_files({"check.json": f"{out}/{CHECK_JSON}", "check_scores.csv": f"{out}/{CHECK_SCORES}",
                        "check.png": f"{out}/{CHECK_FIGURE}"})
    result = check_data(list(args.data), out, model=config.model, against=config.against, batch_size=config.batch_size,
                        seed=config.seed, progress=config.progress)
    print(f"checked {result.n_objects} objects ({result.n_unreadable} unreadable) against {result.reference}")
    print(format_check_table(result))
    print(f"verdict: {result.verdict}")
    print(f"registration: {result.registration_line()}")
    print(f"wrote {out}/{CHECK_JSON}, {out}/{CHECK_SCORES}, {out}/{CHECK_FIGURE}")
    return 0
