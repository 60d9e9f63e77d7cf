"""Make survey-like test sets: rotate and mask footprints, misregister bands, offset objects, resample, mask.

Reads a packed store or a FITS tree (either engine's output, ``inject``'s output, the
release) and writes a new store whose index carries what was applied to each object
(``pert_*`` columns: angle per band, offset, fill value, kernel, sub-pixel shift, mask). The
same seed gives the same pixels; an interrupted run resumes when rerun with the same settings.
See docs/survey-pixels.md.
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import add_progress_option
from brahmasifier.survey.transforms import FOOTPRINTS, KERNELS, RESAMPLERS

__all__ = ["HELP", "add_arguments", "run"]

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Input, output, seed and one option per transform."""
    parser.add_argument("data", metavar="DATA", help="a packed store or a FITS tree")
    parser.add_argument("--out", required=True, help="output store folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (object k draws from (seed, k) alone) (default: 0)")
    parser.add_argument("--footprint", choices=FOOTPRINTS, default="none",
                        help="rotated: all bands rotated by one angle, corners outside r = 20.5 px set to --fill; "
                             "masked: the same corners without rotating (default: none)")
    parser.add_argument("--rotation-angle", type=_angle, default=None, metavar="DEG|random",
                        help="footprint rotation in degrees, or random in [0, 360) (default: random)")
    parser.add_argument("--kernel", choices=tuple(KERNELS), default="bilinear",
                        help="interpolation of rotations (default: bilinear)")
    parser.add_argument("--fill", type=float, default=0.0, help="value of pixels outside the footprint (default: 0)")
    parser.add_argument("--misregister-fraction", type=float, default=0.0, metavar="F",
                        help="fraction of objects whose bands get their own rotation (default: 0)")
    parser.add_argument("--misregister-angle", type=float, default=45.0, metavar="DEG",
                        help="each misregistered band's extra rotation ~ U(-DEG, DEG) (default: 45)")
    parser.add_argument("--centre-offset", type=float, default=0.0, metavar="PIX",
                        help="move each object by (dx, dy) ~ U(-PIX, PIX)^2 (default: 0)")
    smooth = parser.add_mutually_exclusive_group()
    smooth.add_argument("--resample", choices=RESAMPLERS, default="none",
                        help="shift every band by a random sub-pixel (a warp: correlated noise) (default: none)")
    smooth.add_argument("--noise-correlation", type=float, default=0.0, metavar="RHO",
                        help="convolve with the 3x3 kernel whose neighbour noise correlation is RHO (default: 0)")
    parser.add_argument("--mask", type=_masks, default=(), metavar="KINDS",
                        help="comma-separated masks: circles (NaN discs), strips (edge strips), chip-gaps (lines)")
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
    config = PerturbConfig(footprint=args.footprint, rotation_angle=args.rotation_angle, kernel=args.kernel, fill=args.fill,
                           misregister_fraction=args.misregister_fraction, misregister_angle=args.misregister_angle,
                           centre_offset=args.centre_offset, resample=args.resample,
                           noise_correlation=args.noise_correlation, mask=args.mask)
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
