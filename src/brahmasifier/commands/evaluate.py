r"""Score predictions against labels and write one self-contained report.html.

Low-FPR metrics with bootstrap intervals, calibration, completeness vs lens parameters,
figures and a cutout gallery. Example::

    brahmasifier evaluate --probs preds/probs.csv --labels blind/truth.csv --out report/ \
        --images store/ --model runs/r1 --bootstrap 200
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import ConfigOption, add_config_options, add_progress_option, non_negative, option_values

__all__ = ["HELP", "SETTINGS", "add_arguments", "run"]

HELP = "evaluate predictions: metrics.json, figures, gallery and report.html"

#: ``brahmasifier evaluate`` setting options → EvaluateConfig fields (checked there, once); defaults from EvaluateConfig.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--threshold",), "threshold", {"type": float},
                 "decision threshold on prob (default: the model card's, else 0.5)"),
    ConfigOption(("--temperature",), "temperature", {"type": float},
                 "temperature for the before/after calibration plot (default: the model card's)"),
    ConfigOption(("--prevalence",), "prevalence", {"type": float}, "lens fraction at which purity is predicted"),
    ConfigOption(("--bootstrap",), "bootstrap", {"type": int}, "bootstrap resamples for the 68%% intervals (0: none)"),
    ConfigOption(("--seed",), "seed", {"type": int}, "seed of the bootstrap"),
    ConfigOption(("--gallery-size",), "gallery_size", {"type": non_negative}, "cutouts per gallery section"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier evaluate``: inputs and output, then EvaluateConfig's settings."""
    from brahmasifier.evaluation.config import EvaluateConfig

    parser.add_argument("--probs", required=True, help="probs.csv written by `brahmasifier predict` (id, prob[, logit, stem])")
    parser.add_argument("--labels", required=True, help="truth CSV (id,label[,domain,Rein,mag_src_i,...]) or a packed store")
    parser.add_argument("--out", required=True, help="report folder (metrics.json, PNGs, report.html)")
    parser.add_argument("--images", default=None, help="packed store or FITS folder with the cutouts, for the gallery")
    parser.add_argument("--model", default=None, metavar="RUN_OR_MODEL",
                        help="the trained model: run dir, model folder or model.json (its threshold and temperature)")
    add_config_options(parser, SETTINGS, EvaluateConfig().to_dict())
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and print the metrics table."""
    from brahmasifier.evaluation.config import EvaluateConfig
    from brahmasifier.evaluation.report import METRICS_FILE, REPORT_FILE, evaluate
    from brahmasifier.evaluation.tables import format_table

    config = EvaluateConfig(**option_values(args, SETTINGS))
    result = evaluate(
        args.probs, args.labels, args.out, images=args.images, threshold=config.threshold,
        prevalence=config.prevalence, n_bootstrap=config.bootstrap, seed=config.seed, progress=args.progress,
        temperature=config.temperature, model=args.model, n_gallery=config.gallery_size,
    )
    j = result["join"]
    print(f"matched {j['n_matched']} of {j['n_predictions']} predictions "
          f"({j['n_unmatched_predictions']} without a label, {j['n_unmatched_labels']} labels without a prediction)")
    if j.get("n_duplicate_label_rows"):
        print(f"note: {j['n_duplicate_label_rows']} repeated label rows (same object, same label) were used once")
    print(format_table(result))
    if result.get("parameters"):
        from brahmasifier.evaluation.parameters import format_parameter_table

        print(format_parameter_table(result["parameters"]))
    print(f"wrote {args.out}/{METRICS_FILE} and {args.out}/{REPORT_FILE}")
    return 0
