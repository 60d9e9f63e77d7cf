"""Score FITS trees or packed stores with one or more trained models and write the challenge submission.

Several --runs form an ensemble: each model's TTA views are averaged in logit space, each
model's logit is divided by its card's temperature, the models are averaged in logit space,
then sigmoid. Work is saved in parts under OUT.parts/, so rerunning an interrupted command
resumes it. Objects that cannot be read are listed in rejected.csv next to --out.
"""

from __future__ import annotations

import argparse
import sys

HELP = "score cutouts with a model ensemble (TTA) and write submission.csv (+ probabilities)"


def _threshold(text: str) -> str | float:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be 'auto' or a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be in [0, 1], got {value}")
    return value


def _devices(text: str) -> int | str:
    return text if text == "auto" else int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier predict``."""
    parser.add_argument("--runs", nargs="+", required=True, metavar="RUN_OR_MODEL",
                        help="run dirs, model folders or model.json files (several = ensemble)")
    parser.add_argument("--data", nargs="+", required=True, metavar="FITS_ROOT_OR_STORE",
                        help="FITS folders (either naming convention) and/or packed stores")
    parser.add_argument("--out", required=True, help="submission CSV to write")
    parser.add_argument("--probs", default=None, help="per-object probabilities (.csv, or .parquet)")
    parser.add_argument("--tta", choices=("none", "flips", "d4"), default="flips",
                        help="test-time views: none, flips (identity + h/v flips), d4 (8 views)")
    parser.add_argument("--threshold", type=_threshold, default="auto",
                        help="probability threshold for preds=1, or 'auto' (from the model cards)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None, help="data-loading worker processes (0: read on a background thread); default: 0 on CPUs with < 8 cores, 1 per 8 cores above, half the CPUs (<= 8) with a GPU")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--devices", type=_devices, default=1,
                        help="devices (processes) per node; more than 1 runs DDP")
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                        help="auto picks what measured fastest on the device")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--onnx", dest="onnx", action="store_true", default=None,
                        help="score with ONNX Runtime (CPU); None: whichever measured faster (ONNX on CPUs)")
    engine.add_argument("--no-onnx", dest="onnx", action="store_false", default=argparse.SUPPRESS,
                        help="score with PyTorch")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--channels-last", dest="channels_last", action="store_true", default=None,
                        help="PyTorch path: channels_last memory format; None: on for CPUs, where it measured faster")
    layout.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=argparse.SUPPRESS)
    parser.add_argument("--part-size", type=int, default=8192, help="objects per resumable part file")
    parser.add_argument("--max-parts", type=int, default=None,
                        help="stop after scoring this many new parts per process (time-limited jobs); rerun to continue")
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="discard parts of an earlier run")
    parser.add_argument("--keep-parts", action="store_true", help="keep OUT.parts/ after the merge")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the prediction and print what was scored and rejected."""
    from brahmasifier.inference.predictor import predict

    summary = predict(
        args.runs, args.data, args.out, probs_out=args.probs, tta=args.tta, threshold=args.threshold,
        batch_size=args.batch_size, workers=args.workers, device=args.device, devices=args.devices,
        num_nodes=args.num_nodes, precision=args.precision, onnx=args.onnx, channels_last=args.channels_last,
        progress=args.progress, resume=args.resume, part_size=args.part_size, max_parts=args.max_parts,
        keep_parts=args.keep_parts,
    )  # fmt: skip
    if summary.rank != 0:
        return 0  # a DDP worker process: rank 0 merges and reports
    print(summary.describe(), file=sys.stdout)
    return 0
