"""Export a trained model to ONNX (opset >= 17, dynamic batch axis).

The graph takes raw float32 ``image`` (batch, 5, 41, 41) and returns ``logit`` (batch,):
normalisation and resize are inside, exactly as in PyTorch. ``--tta`` bakes the views in.
"""

from __future__ import annotations

import argparse
import sys

from brahmasifier.inference.config import TTA_ELEMENTS

__all__ = ["HELP", "VERIFY_TOLERANCE", "add_arguments", "run"]

#: Largest logit difference between ONNX Runtime and PyTorch accepted by the check.
VERIFY_TOLERANCE: float = 1e-3

HELP = "export a trained model to ONNX (raw images in, logits out)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier export``."""
    parser.add_argument("--model", required=True, metavar="RUN_OR_MODEL",
                        help="the trained model: run dir, model folder or model.json")
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument("--tta", choices=tuple(TTA_ELEMENTS), default="none",
                        help="bake these test-time views into the graph (mean logit)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the ONNX Runtime vs PyTorch comparison")


def run(args: argparse.Namespace) -> int:
    """Export, then check ONNX Runtime reproduces PyTorch on random inputs."""
    from brahmasifier._outputs import check_output_files
    from brahmasifier.inference.onnx import export_onnx, verify_onnx
    from brahmasifier.models import load_model
    from brahmasifier.models.card import resolve_model_dir

    check_output_files({"--out": args.out}, inputs=[resolve_model_dir(args.model)])
    model, card = load_model(args.model)
    path = export_onnx(model, args.out, tta=args.tta, opset=args.opset)
    message = f"wrote {path} ({card.architecture}, TTA {args.tta}, opset {args.opset})"
    if card.regression is not None:
        message += ("\nnote: the graph holds the lens logit only; this model's lens parameters are predicted with PyTorch "
                    "(brahmasifier predict does so)")
    if args.verify:
        diff = verify_onnx(model, path, tta=args.tta)
        message += f"; max |ONNX - PyTorch| logit difference {diff:.2e}"
        if not diff <= VERIFY_TOLERANCE:
            print(f"{message}\nerror: ONNX Runtime disagrees with PyTorch by more than {VERIFY_TOLERANCE:g}",
                  file=sys.stderr)
            return 1
    print(message)
    return 0
