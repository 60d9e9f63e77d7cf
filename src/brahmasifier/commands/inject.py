"""Paint lensed background sources into real cutouts (hosts) and write a training set in the challenge layout.

For each chosen host (a packed store or a FITS tree of galaxy cutouts: the challenge's non-lens
classes, a survey's LRG cutouts, our own simulated non-lenses), a deflector (SIE + shear) centred
on the host's measured light with θ_E from its redshift and magnitude (Faber–Jackson; from
parameters.fits / --catalog, or a photometric fall-back), a background source (our engine's or
SLSim's population), rendered with lenstronomy and the band's PSF, plus the arc's own Poisson
noise, added to the real pixels. Only arcs with matched-filter S/N >= --min-arc-snr against the
host's measured noise are kept. Every host that received an arc is also written untouched as a
non-lens (--nonlenses paired), so both classes share one host population. Hosts that cannot be
read or may not host are listed in OUT/rejected.csv, hosts whose arcs all failed the cut in
OUT/hosts_unused.csv. Same seed and settings, same bytes, whatever --workers; an interrupted
run resumes when rerun with the same command.
"""

from __future__ import annotations

import argparse

from brahmasifier.commands._options import ConfigOption, add_config_options, add_progress_option, seed_value

__all__ = ["HELP", "SETTINGS", "add_arguments", "run"]

HELP = "paint lensed sources into real host cutouts (lenstronomy) and write lenses + untouched hosts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `brahmasifier inject` (injection settings default to InjectConfig's, checked there)."""
    parser.add_argument("--hosts", required=True, metavar="FITS_ROOT_OR_STORE", nargs="+",
                        help="host cutouts: packed stores and/or FITS trees (several: read as one)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n", type=int, required=True, help="lenses to make (each with its untouched host as a non-lens)")
    parser.add_argument("--seed", type=seed_value, default=0, help="random seed (output depends only on it and the settings)")
    parser.add_argument("--catalog", metavar="CSV", default=None,
                        help="host columns by id: z_central, mag_lens_<b>, center_x, center_y, psf_fwhm_<b>")
    parser.add_argument("--layout", choices=("challenge", "test"), default="challenge", help="output layout")
    parser.add_argument("--domain", choices=("slsim", "hsc"), default=None,
                        help="domain of the output objects (default: the host's, slsim where unknown)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU cores, at most 8)")
    parser.add_argument("--cache-dir", default=None,
                        help="where a FITS tree of hosts is packed (default: inside OUT, removed after)")
    parser.add_argument("--no-preview", action="store_true", help="skip preview.png")
    add_progress_option(parser)
    from brahmasifier.simulation.inject.config import InjectConfig

    group = parser.add_argument_group("injection settings (defaults: brahmasifier.simulation.inject.InjectConfig)")
    add_config_options(group, SETTINGS, InjectConfig().to_dict())  # type: ignore[arg-type]


#: ``brahmasifier inject`` options → InjectConfig fields (checked there, once); defaults shown from InjectConfig.
SETTINGS: list[ConfigOption] = [
    ConfigOption(("--source-engine",), "source_engine", {},
                 "ours: our engine's source population; slsim: SLSim's (extra [slsim])"),
    ConfigOption(("--theta-e",), "theta_e", {}, "relation: θ_E from the host's z and magnitude (Faber-Jackson); "
                 "distribution: log-normal, median 0.74\""),
    ConfigOption(("--min-arc-snr",), "min_arc_snr", {"type": float}, "detectability cut: matched-filter arc S/N in i "
                 "against the host's measured noise"),
    ConfigOption(("--psf",), "psf", {}, "auto: the host's psf_fwhm_<b>/sim_psf_fwhm_<b> where present, else the "
                 "instrument's; instrument: always the instrument's"),
    ConfigOption(("--nonlenses",), "nonlenses", {},
                 "paired: each used host also written untouched as a non-lens; none: lenses only"),
    ConfigOption(("--host-query",), "host_query", {"metavar": "EXPR"}, "pandas query selecting hosts by their columns, "
                 "e.g. \"mag_lens_i < 21\""),
    ConfigOption(("--attempts",), "attempts_per_host", {"type": int},
                 "sources tried per host before it is left unused"),
]


def run(args: argparse.Namespace) -> int:
    """Run the injection and print a summary."""
    from brahmasifier.simulation.inject import InjectConfig, inject_dataset

    given = {o.setting: getattr(args, o.setting) for o in SETTINGS if getattr(args, o.setting, None) is not None}
    config = InjectConfig(**given)
    summary = inject_dataset(args.hosts, args.out, args.n, seed=args.seed, config=config, catalog=args.catalog,
                             layout_name=args.layout, workers=args.workers, progress=args.progress,
                             preview=not args.no_preview, domain=args.domain, cache_dir=args.cache_dir)
    h = summary.hosts
    if summary.skipped:
        print(f"{summary.out}: already complete ({summary.n_lenses} lenses, {summary.n_nonlenses} non-lenses, "
              f"seed {summary.seed}); nothing to do")
        return 0
    print(f"{summary.out}: {summary.n_lenses} lenses + {summary.n_nonlenses} untouched hosts ({summary.layout} layout) in "
          f"{summary.seconds:.1f} s = {summary.objects_per_second:.1f} objects/s")
    print(f"hosts: {h['found']} found, {h['rejected']} rejected (rejected.csv), {h['excluded_by_query']} excluded by "
          f"--host-query, {h['tried']} tried, {h['unused']} without a detectable arc (hosts_unused.csv)")
    if summary.n_lenses < summary.n_requested:
        print(f"note: only {summary.n_lenses} of {summary.n_requested} lenses; add hosts or relax --min-arc-snr")
    return 0
