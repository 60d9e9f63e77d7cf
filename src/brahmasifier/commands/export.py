"""Export a trained model to ONNX (opset >= 17, dynamic batch axis).

The graph takes raw float32 ``image`` (batch, 5, 41, 41) and returns ``logit`` (batch,):
normalisation and resize are inside, exactly as in PyTorch. ``--tta`` bakes the views in.
"""

from __future__ import annotations

import argparse
import sys

from brahmasifier.commands._options import ConfigOption, add_config_options, option_values
from brahmasifier.inference.config import TTA_ELEMENTS

__all__ = ["HELP", "SETTINGS", "VERIFY_TOLERANCE", "add_arguments", "run"]

#: Largest logit difference between ONNX Runtime and PyTorch accepted by the check.
VERIFY_TOLERANCE: float = 1e-3

HELP = "export a trained model to ONNX (raw images in, logits out)"


#: ``brahmasifier export`` options → ExportConfig fields (checked there, once); defaults shown from ExportConfig.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--model",), "model", {"metavar": "RUN_OR_MODEL"},
                 "the trained model: run dir, model folder or model.json", required=True),
    ConfigOption(("--out",), "out", {}, "ONNX file to write", required=True),
    ConfigOption(("--tta",), "tta", {"choices": tuple(TTA_ELEMENTS)},
                 "bake these test-time views into the graph (mean logit)"),
    ConfigOption(("--opset",), "opset", {"type": int}, "ONNX opset (>= 17)"),
    ConfigOption(("--no-verify",), "verify", {"action": "store_false"}, "skip the ONNX Runtime vs PyTorch comparison"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier export``: the fields of :class:`~brahmasifier.inference.export_config.ExportConfig`."""
    from brahmasifier.inference.export_config import ExportConfig

    add_config_options(parser, SETTINGS, ExportConfig().to_dict())


def run(args: argparse.Namespace) -> int:
    """Export, then check ONNX Runtime reproduces PyTorch on random inputs."""
    from brahmasifier._outputs import check_output_files
    from brahmasifier.inference.export_config import ExportConfig
    from brahmasifier.inference.onnx import export_onnx, verify_onnx
    from brahmasifier.models import load_model
    from brahmasifier.models.card import resolve_model_dir

    config = ExportConfig(**option_values(args, SETTINGS))
    check_output_files({"--out": config.out}, inputs=[resolve_model_dir(config.model)])
    model, card = load_model(config.model)
    path = export_onnx(model, config.out, tta=config.tta, opset=config.opset)
    message = f"wrote {path} ({card.architecture}, TTA {config.tta}, opset {config.opset})"
    if card.regression is not None:
        message += ("\nnote: the graph holds the lens logit only; this model's lens parameters are predicted with PyTorch "
                    "(brahmasifier predict does so)")
    if config.verify:
        diff = verify_onnx(model, path, tta=config.tta)
        message += f"; max |ONNX - PyTorch| logit difference {diff:.2e}"
        if not diff <= VERIFY_TOLERANCE:
            print(f"{message}\nerror: ONNX Runtime disagrees with PyTorch by more than {VERIFY_TOLERANCE:g}",
                  file=sys.stderr)
            return 1
    print(message)
    return 0
