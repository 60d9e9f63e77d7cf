"""Train a lens classifier on a packed store or FITS roots.

Writes a run directory with checkpoints, logs, metrics.json, val_predictions.csv and the
exported model (RUN/model/).

Settings come from (later wins): built-in defaults, --config FILE (YAML with the same names,
underscores, e.g. `batch_size: 256`; presets in configs/), the run's own config.yaml when
--resume, and the options given here. Rerun with --resume to continue a killed run.
Multi-GPU / multi-node: --devices N --strategy ddp [--num-nodes M], or launch under torchrun/SLURM.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from brahmasifier.commands._options import (
    ConfigOption,
    DeprecatedAlias,
    add_config_options,
    add_progress_option,
    given_settings,
)

__all__ = ["HELP", "OPTIONS", "add_arguments", "run", "settings_from_args"]

HELP = "train a lens classifier, optionally with lens parameters (Lightning; checkpoints, resume, DDP), and export it"


def _limit(text: str) -> float | int:
    """A batch limit: an int (batches) or a float in (0, 1] (fraction)."""
    value = float(text)
    return int(value) if value.is_integer() and value > 1 else value


def _json_dict(text: str) -> dict[str, Any]:
    """A JSON object (``--model-kwargs``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"widths\": [16, 32, 64, 128]}'")
    return value


#: ``brahmasifier train`` options → TrainConfig fields; defaults are shown from TrainConfig.
OPTIONS: list[ConfigOption] = [
    ConfigOption(("--data",), "data", {"nargs": "+", "metavar": "STORE_OR_FITS_ROOT"},
                 "packed stores (several: read as one, nothing copied) and/or FITS roots (packed into --cache-dir first)"),
    ConfigOption(("--out",), "out", {"metavar": "RUN_DIR"}, "run directory to create (or resume)"),
    ConfigOption(("--arch", "--model"), "arch", {},
                 "architecture: 'compact', a preset (compact_small, vit224, vit_tiny_p4) or any timm model name "
                 "(--model: old spelling)"),
    ConfigOption(("--model-kwargs",), "model_kwargs", {"type": _json_dict, "metavar": "JSON"},
                 "extra architecture arguments as JSON"),
    ConfigOption(("--normalization",), "normalization", {"choices": ["asinh_mad", "per_image", "none"]},
                 "normalisation inside the model (default: asinh_mad)"),
    ConfigOption(("--colour-residuals",), "colour_residuals", {"metavar": "BAND"},
                 "asinh_mad: add one channel per other band, that band minus BAND (e.g. i) scaled to the same core "
                 "flux: a one-colour deflector cancels, a blue arc stays (off by default; configs/slsim_2core.yaml "
                 "sets i)"),
    ConfigOption(("--band-mapping",), "band_mapping", {"metavar": "ORDER"},
                 "bands fed to the stem in order: grizy (default) or irgzy (i<-R, r<-G, g<-B for pretrained RGB stems)"),
    ConfigOption(("--pretrained-file",), "pretrained_file", {"metavar": "PATH"},
                 "local timm weights (.safetensors/.pth) of the 3-channel model; stem adapted to 5 bands"),
    ConfigOption(("--init-from",), "init_from", {"metavar": "RUN_OR_MODEL"},
                 "fine-tune from a trained model: one of our run dirs, model folders or .ckpt files"),
    ConfigOption(("--input-size",), "input_size", {"type": int},
                 "model input size (resize inside the model); default: 41, or the ViT's size"),
    ConfigOption(("--epochs",), "epochs", {"type": int}, "maximum epochs"),
    ConfigOption(("--batch-size",), "batch_size", {"type": int}, "batch size per device"),
    ConfigOption(("--lr",), "lr", {"type": float},
                 "AdamW learning rate (default: per architecture: compact 2e-3, timm 1e-4 pretrained / 1e-3 scratch)"),
    ConfigOption(("--weight-decay",), "weight_decay", {"type": float}, "AdamW weight decay"),
    ConfigOption(("--warmup-epochs",), "warmup_epochs", {"type": float}, "linear lr warm-up (epochs) before cosine annealing"),
    ConfigOption(("--augment",), "augment", {"action": argparse.BooleanOptionalAction},
                 "random D4 (flips + 90° rotations) augmentation"),
    ConfigOption(("--aug-flux",), "aug_flux", {"type": float, "metavar": "MAG"},
                 "survey augmentation: flux scaling by up to ±MAG magnitudes (noise kept at its level when dimming; 0: off; "
                 "not with --targets)"),
    ConfigOption(("--aug-seeing",), "aug_seeing", {"type": float, "metavar": "ARCSEC"},
                 "survey augmentation: extra Gaussian seeing per band, FWHM up to ARCSEC (noise restored; 0: off)"),
    ConfigOption(("--aug-shift",), "aug_shift", {"type": float, "metavar": "PIXELS"},
                 "survey augmentation: sub-pixel shifts up to ±PIXELS (Fourier; 0: off; with --targets srcx/srcy move too)"),
    ConfigOption(("--aug-sky",), "aug_sky", {"type": float, "metavar": "SIGMA"},
                 "survey augmentation: sky offsets and gradients up to ±SIGMA sky noise per band (0: off)"),
    ConfigOption(("--aug-noise",), "aug_noise", {"type": float, "metavar": "FRACTION"},
                 "survey augmentation: sky noise raised by up to FRACTION (0.5: up to 1.5x) by adding noise (0: off)"),
    ConfigOption(("--aug-rotate",), "aug_rotate", {"type": float, "metavar": "DEGREES"},
                 "survey augmentation: bilinear rotation by up to ±DEGREES (180: any angle), the footprint outside "
                 "r = 20.5 px masked, as the blind set's (0: off; with --targets positions and angles turn too)"),
    ConfigOption(("--aug-mask",), "aug_mask", {"type": float, "metavar": "N"},
                 "survey augmentation: up to N random masks (discs in one band, edge strips, chip gaps) set invalid "
                 "(NaN) (0: off)"),
    ConfigOption(("--aug-correlated-noise",), "aug_correlated_noise", {"type": float, "metavar": "RHO"},
                 "survey augmentation: resampling-like smoothing with noise neighbours correlated by U(RHO/2, RHO) "
                 "(LSST coadds 0.09-0.19), noise kept at its level (0: off)"),
    ConfigOption(("--aug-misregister",), "aug_misregister", {"type": float, "metavar": "DEGREES"},
                 "survey augmentation: each band rotated by its own angle up to ±DEGREES (and shifted up to "
                 "±DEGREES/20 px), footprint outside r = 20.5 px masked (0: off)"),
    ConfigOption(("--aug-misregister-negatives",), "aug_misregister_negatives", {"type": float, "metavar": "DEGREES"},
                 "survey augmentation: as --aug-misregister, on non-lenses only: misregistered bands as a hard "
                 "negative (0: off)"),
    ConfigOption(("--aug-resample-bands",), "aug_resample_bands", {"type": float, "metavar": "DEGREES"},
                 "survey augmentation: each band rotated by its own angle up to ±DEGREES and straight back "
                 "(bilinear, then bicubic): aligned bands resampled as --register-bands leaves them (0: off)"),
    ConfigOption(("--aug-repair-bands",), "aug_repair_bands", {"type": float, "metavar": "DEGREES"},
                 "survey augmentation: each band rotated by its own angle up to ±DEGREES (footprint outside r = 20.5 px "
                 "masked), then put back as predict --register-bands would, with the angles it estimates (0: off)"),
    ConfigOption(("--aug-probability",), "aug_probability", {"type": float},
                 "probability that each survey augmentation that is on is applied to a sample"),
    ConfigOption(("--targets",), "targets", {"metavar": "NAMES"},
                 "also learn lens parameters with calibrated uncertainties (a multi-task model): 'default' (every "
                 "challenge parameter) or comma-separated names, e.g. Rein,zlens,vel_disp (default: classification only)"),
    ConfigOption(("--regress",), "targets", {"action": "store_const", "const": "default"},
                 "the same as --targets default"),
    ConfigOption(("--regression-weight",), "regression_weight", {"type": float},
                 "weight of the parameters' masked beta-NLL next to the BCE"),
    ConfigOption(("--regression-beta",), "regression_beta", {"type": float},
                 "beta of the beta-NLL (0: plain Gaussian NLL; 0.5 kept classification as good in the baseline)"),
    ConfigOption(("--regression-hidden",), "regression_hidden", {"type": int}, "hidden width of the regression head"),
    ConfigOption(("--adapt-to",), "adapt_to", {"nargs": "+", "metavar": "STORE_OR_FITS_ROOT"},
                 "unsupervised domain adaptation (DANN) towards this unlabelled data: stores and/or FITS roots; any labels "
                 "in it are ignored (docs/data-shift.md)"),
    ConfigOption(("--adapt-weight",), "adapt_weight", {"type": float},
                 "DANN weight: the gradient-reversal factor rises as weight x (2/(1+exp(-10p))-1) over training progress p"),
    ConfigOption(("--seed",), "seed", {"type": int}, "seed of the split, model init and augmentation"),
    ConfigOption(("--val-fraction",), "val_fraction", {"type": float}, "validation fraction, stratified by label x domain"),
    ConfigOption(("--precision",), "precision", {},
                 "auto (bf16-mixed on GPUs with bf16, else 16-mixed; bf16-mixed on CPUs with bf16 units, else 32-true), "
                 "or any Lightning precision"),
    ConfigOption(("--channels-last",), "channels_last", {"action": argparse.BooleanOptionalAction},
                 "channels_last memory format"),
    ConfigOption(("--accelerator",), "accelerator", {}, "auto, cpu, gpu..."),
    ConfigOption(("--devices",), "devices", {}, "devices per node (auto, N, or a list like 0,1)"),
    ConfigOption(("--strategy",), "strategy", {}, "auto, ddp, ..."),
    ConfigOption(("--num-nodes",), "num_nodes", {"type": int}, "number of nodes"),
    ConfigOption(("--workers",), "workers", {"type": int}, "DataLoader worker processes per rank"),
    ConfigOption(("--threads",), "threads", {"type": int}, "torch CPU threads per process"),
    ConfigOption(("--patience",), "patience", {"type": int}, "early-stopping patience in epochs on val AUC (0: off)"),
    ConfigOption(("--top-k",), "top_k", {"type": int}, "best checkpoints kept (by val AUC)"),
    ConfigOption(("--max-time",), "max_time", {"metavar": "DD:HH:MM:SS"}, "stop after this wall time"),
    ConfigOption(("--checkpoint-every-steps",), "checkpoint_every_steps", {"type": int},
                 "write last.ckpt every N steps (mid-epoch safety)"),
    ConfigOption(("--limit-train-batches",), "limit_train_batches", {"type": _limit},
                 "batches (int) or fraction per epoch (tests/smoke runs)"),
    ConfigOption(("--limit-val-batches",), "limit_val_batches", {"type": _limit}, "validation batches (int) or fraction"),
    ConfigOption(("--cache-dir",), "cache_dir", {"metavar": "DIR"}, "where FITS roots are packed (default: RUN_DIR/store)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """All TrainConfig settings as options (given ones override --config and a resumed run's config)."""
    from brahmasifier.training.config import TrainConfig  # light: dataclass + yaml

    parser.add_argument("--config", metavar="FILE", help="YAML file of settings (see configs/)")
    parser.add_argument("--resume", action="store_true", default=argparse.SUPPRESS,
                        help="continue RUN_DIR from checkpoints/last.ckpt (settings from RUN_DIR/config.yaml unless given)")
    add_config_options(parser, OPTIONS, TrainConfig().to_dict())
    graded = parser.add_argument_group("grades back into training (`brahmasifier inspect`)")
    graded.add_argument("--extra-labels", metavar="GRADES", default=argparse.SUPPRESS,
                        help="grade file or merged grades: A/B train as lenses, X as non-lenses (with --init-from: fine-tune)")
    graded.add_argument("--extra-images", metavar="DATA", default=argparse.SUPPRESS,
                        help="store or FITS folder holding the graded candidates (needed with --extra-labels)")
    graded.add_argument("--extra-c", choices=("leave-out", "lens", "non-lens"), default=argparse.SUPPRESS,
                        help="what grade C (possible) trains as (default: left out)")
    add_progress_option(parser, default=argparse.SUPPRESS)
    parser.add_argument("--progress", dest="progress", action=DeprecatedAlias, nargs=0, const=True,
                        default=argparse.SUPPRESS, deprecated={"--progress": "nothing (progress bars are on by default)"},
                        help=argparse.SUPPRESS)


def settings_from_args(args: argparse.Namespace) -> Any:
    """The TrainConfig for parsed arguments: defaults < --config < RUN/config.yaml (resume) < options."""
    from pathlib import Path

    from brahmasifier.training.config import merge_settings, read_config_file

    given = given_settings(args, exclude=("config", "extra_labels", "extra_images", "extra_c"))
    layers: list[dict[str, Any]] = []
    if getattr(args, "config", None):
        layers.append(read_config_file(args.config))
    out = given.get("out") or (layers[0].get("out") if layers else None)
    if given.get("resume") and out and (Path(out) / "config.yaml").is_file():
        saved = read_config_file(Path(out) / "config.yaml")
        layers.append(saved)
    if given.get("patience") == 0:
        given["patience"] = None
    return merge_settings(*layers, given)


def _graded_store(args: argparse.Namespace, out: str, data: list[str]) -> str:
    """``--extra-labels``: the graded candidates as one store beside the run folder (``OUT_graded``); its path.

    The ``--data`` store's objects, if given, come first in it (training reads one store).
    """
    from pathlib import Path

    from brahmasifier.errors import ConfigError
    from brahmasifier.inspect.retrain import graded_store
    from brahmasifier.io.store import is_store_folder

    if not getattr(args, "extra_images", None):
        raise ConfigError("--extra-labels needs --extra-images DATA (the store or FITS folder the candidates came from)")
    if len(data) > 1 or (data and not is_store_folder(data[0])):
        raise ConfigError("--extra-labels trains on one store: give --data as a packed store (`brahmasifier pack`), "
                          "or no --data to fine-tune on the graded candidates alone")
    c_label = {"leave-out": None, "lens": 1, "non-lens": 0}[getattr(args, "extra_c", "leave-out")]
    run_dir = Path(out)
    store, counts = graded_store(args.extra_labels, args.extra_images, run_dir.with_name(run_dir.name + "_graded"),
                                 c_label=c_label, base=data[0] if data else None)
    print(f"graded candidates from {args.extra_labels}: {counts['lens']} lenses, {counts['non-lens']} non-lenses "
          f"-> {store} (added to --data)")
    return str(store)


def run(args: argparse.Namespace) -> int:
    """Train and print the summary."""
    from brahmasifier.errors import ConfigError
    from brahmasifier.training import train

    config = settings_from_args(args)
    if getattr(args, "extra_labels", None):
        if not config.out:
            raise ConfigError("--out RUN_DIR is required")
        config.data = [_graded_store(args, config.out, config.data)]
    result = train(config)  # checks out and data (TrainConfig.check_complete)
    if result.model_dir is not None:
        m = result.metrics
        print(f"run:        {result.run_dir}")
        print(f"epochs:     {result.epochs_completed} ({result.global_step} steps)")
        print(f"val AUC:    {m['val_auc']:.4f}  " + "  ".join(f"{d}: {v:.4f}" for d, v in m.get("val_auc_by_domain", {}).items()))
        print(f"threshold:  {m['threshold']:.4f} -> accuracy {m['val_accuracy']:.4f}, precision {m['val_precision']:.4f}, "
              f"recall {m['val_recall']:.4f}")
        print(f"temperature {m['temperature']:.3f}")
        print(f"model:      {result.model_dir}")
    return 0
