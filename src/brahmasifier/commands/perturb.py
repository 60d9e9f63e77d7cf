"""Make survey-like test sets: rotate and mask footprints, misregister bands, offset objects, resample, mask.

Reads packed stores and/or FITS trees (either engine's output, ``inject``'s output, the
release; several are read as one) and writes a new store whose index carries what was applied to each object
(``pert_*`` columns: angle per band, offset, fill value, kernel, sub-pixel shift, mask). The
same seed gives the same pixels; an interrupted run resumes when rerun with the same settings.
See docs/survey-pixels.md.
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import ConfigOption, add_config_options, add_progress_option, option_values
from brahmasifier.survey.transforms import FOOTPRINTS, KERNELS, RESAMPLERS

__all__ = ["HELP", "SETTINGS", "add_arguments", "run"]

HELP = "transform a store or FITS tree like survey pixels (rotated/masked footprints, misregistered bands, offsets)"


def _angle(text: str) -> float | None:
    if text == "random":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rotation angle must be degrees or 'random', got {text!r}") from None


def _masks(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


#: ``brahmasifier perturb`` options → PerturbConfig fields (checked there, once); defaults from PerturbConfig.
#: ``--resample`` and ``--noise-correlation`` are one mutually exclusive pair (``_SMOOTHING``).
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--footprint",), "footprint", {"choices": FOOTPRINTS},
                 "rotated: all bands rotated by one angle, corners outside r = 20.5 px set to --fill; "
                 "masked: the same corners without rotating"),
    ConfigOption(("--rotation-angle",), "rotation_angle", {"type": _angle, "metavar": "DEG|random"},
                 "footprint rotation in degrees, or random in [0, 360) (default: random)"),
    ConfigOption(("--kernel",), "kernel", {"choices": tuple(KERNELS)}, "interpolation of rotations"),
    ConfigOption(("--fill",), "fill", {"type": float}, "value of pixels outside the footprint (default: 0)"),
    ConfigOption(("--misregister-fraction",), "misregister_fraction", {"type": float, "metavar": "F"},
                 "fraction of objects whose bands get their own rotation (default: 0)"),
    ConfigOption(("--misregister-angle",), "misregister_angle", {"type": float, "metavar": "DEG"},
                 "each misregistered band's extra rotation ~ U(-DEG, DEG) (default: 45)"),
    ConfigOption(("--misregister-groups",), "misregister_groups", {"metavar": "GROUPS"},
                 "bands turned together, e.g. gy,riz (g and y by one angle, r, i, z by another; "
                 "default: each band its own)"),
    ConfigOption(("--centre-offset",), "centre_offset", {"type": float, "metavar": "PIX"},
                 "move each object by (dx, dy) ~ U(-PIX, PIX)^2 (default: 0)"),
    ConfigOption(("--resample",), "resample", {"choices": RESAMPLERS},
                 "shift every band by a random sub-pixel (a warp: correlated noise)"),
    ConfigOption(("--noise-correlation",), "noise_correlation", {"type": float, "metavar": "RHO"},
                 "convolve with the 3x3 kernel whose neighbour noise correlation is RHO (default: 0)"),
    ConfigOption(("--mask",), "mask", {"type": _masks, "metavar": "KINDS"},
                 "comma-separated masks: circles (NaN discs), strips (edge strips), chip-gaps (lines)"),
]
_SMOOTHING = ("resample", "noise_correlation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Input, output, seed, then one option per PerturbConfig setting (generated from :data:`SETTINGS`)."""
    from brahmasifier.survey.transforms import PerturbConfig

    parser.add_argument("data", metavar="DATA", nargs="+",
                        help="packed stores and/or FITS trees (several: read as one, nothing copied)")
    parser.add_argument("--out", required=True, help="output store folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (object k draws from (seed, k) alone)")
    defaults = PerturbConfig().to_dict()
    smooth = parser.add_mutually_exclusive_group()
    for option in SETTINGS:
        add_config_options(smooth if option.setting in _SMOOTHING else parser, [option], defaults)  # type: ignore[arg-type]
    parser.add_argument("--shard-size", type=int, default=4096, help="objects per shard and resumable chunk")
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    """Transform, then print a summary."""
    from brahmasifier.errors import ConfigError
    from brahmasifier.pixels import masked_line, masked_summary
    from brahmasifier.survey.run import perturb_data
    from brahmasifier.survey.transforms import PerturbConfig

    if args.shard_size < 1:
        raise ConfigError(f"--shard-size must be positive, got {args.shard_size}")
    config = PerturbConfig(**option_values(args, SETTINGS))
    store = perturb_data(args.data, args.out, config, args.seed, shard_size=args.shard_size, progress=args.progress)
    index = store.index
    per_object = len(store.bands) * store.stamp_size**2
    summary = masked_summary(index["n_masked"].to_numpy() / per_object) if "n_masked" in index else None
    print(f"perturbed {len(store):,} objects into {store.path}")
    if "pert_misregistered" in index:
        print(f"  misregistered: {int(index['pert_misregistered'].sum()):,} objects")
    if summary is not None:
        print(f"  {masked_line(int(summary['n_with_masked']), float(summary['median_masked_fraction']))}")
    print("  truth per object: pert_* columns of the store index (brahmasifier info; pandas.read_parquet(index.parquet))")
    return 0
