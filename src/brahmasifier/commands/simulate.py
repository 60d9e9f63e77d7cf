"""Simulate LSST-like lens and non-lens cutouts in the challenge or a blind-test layout.

Two engines: ``ours`` (default; lenstronomy scenes of our own populations, domains slsim and
hsc, extra ``brahmasifier[sim]``) and ``slsim`` (SLSim's populations and LSST image
simulation, domain slsim only, extra ``brahmasifier[slsim]``). Both write the release's
published layout (four — or, for slsim, two — nested class folders ``<class>/<class>/`` of
``DX_I_YYYYYYYY_b.fits`` files, string IDs, float64 images, with ``parameters.fits`` and
``_manifest.txt`` one level up) or a blind test layout (primary-HDU images
``images/object_NNNNN_b.fits`` without IDs + a ``truth.csv`` outside ``images/``), plus
``preview.png`` and ``simulation.json``. Pixel values
are nJy per pixel. The output is identical for a seed whatever ``--workers``. Rerunning
with the same settings into a finished folder does nothing, an interrupted slsim run resumes
from its finished realisations; other settings are refused. ``--engine`` offers every engine of
the registry (:mod:`brahmasifier.simulation.engines`); ``--nonlens-mix`` names kinds of the
non-lens registry (:mod:`brahmasifier.simulation.nonlens_kinds`) the engine draws.

--config FILE (YAML) gives these options by name (``n_per_class: 100``) and two sections the
options do not cover: ``population:`` (our engine's PopulationConfig fields, e.g.
``min_arc_snr: 30``, ``lens_population: {slsim: bright, hsc: bright}``) and ``slsim:`` (the
other SlsimConfig fields, e.g. ``catalogue_area_deg2: 0.5``).
"""

from __future__ import annotations

import argparse
from typing import Any

from brahmasifier.commands._options import add_progress_option, seed_value

__all__ = ["HELP", "add_arguments", "run"]

HELP = "simulate lens/non-lens cutouts (our engine or SLSim) in the challenge or a blind-test layout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `brahmasifier simulate`."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-per-class", type=int, required=True, help="objects per class and domain")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="random seed, 0 to 2^32-1 (output depends only on it and the settings)")
    from brahmasifier.simulation.engines import engine_names  # the registry alone: no simulation code

    parser.add_argument("--engine", choices=engine_names(), default="ours", help="simulation engine")
    parser.add_argument("--domains", default=None,
                        help="comma-separated subset of slsim,hsc (default: both for ours, slsim for slsim)")
    parser.add_argument("--layout", choices=("challenge", "test"), default="challenge", help="output layout")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU cores, at most 8)")
    parser.add_argument("--no-preview", action="store_true", help="skip preview.png")
    slsim = parser.add_argument_group("slsim engine")
    slsim.add_argument("--coadd-years", type=float, default=1.0, help="LSST coadd depth in years")
    slsim.add_argument("--sampling", choices=("population", "random"), default="population",
                       help="lens selection: LensPop.draw_population (cross-section weighted) or select_lens_at_random")
    slsim.add_argument("--nonlens-mix", default=None,
                       help="non-lens fractions, e.g. deflector=0.4,false_positive=0.4,blue=0.2 (default: thirds; "
                            "with --engine ours: the mix of every domain made, default: each domain's own)")
    slsim.add_argument("--no-match-brightness", action="store_true",
                       help="lone blue galaxies drawn at random, not matched in i to lens deflectors")
    slsim.add_argument("--los-file", default=None, help="SLSim line-of-sight HDF5 table (default: none, zero kappa/shear)")
    slsim.add_argument("--skypy-config", default=None, metavar="FILE",
                       help="SkyPy YAML of the galaxy catalogues, e.g. SLSim's own data/SkyPy/lsst-like_triple_SF.yml "
                            "(SLSim's repository, tag v0.1.1) (default: ours)")
    slsim.add_argument("--scene-offset", type=float, default=0.0, metavar="PIX",
                       help="shift each scene by a uniform random offset up to ±PIX pixels per axis, recorded as "
                            "sim_offset_x/y (default: 0, centred; both engines)")
    slsim.add_argument("--epl-gamma", default=None, metavar="MEAN[,SD]",
                       help="power-law slope of the EPL deflectors, fixed or Gaussian (default: 2, i.e. SIE; "
                            "also our engine)")
    slsim.add_argument("--kappa-ext", type=float, default=0.0, metavar="SIGMA",
                       help="our engine: external convergence N(0, SIGMA) per lens, recorded as sim_kappa_ext "
                            "(default: 0, none; the slsim engine takes --los-file)")
    add_progress_option(parser)
    parser.set_defaults(population=None, slsim=None)  # --config FILE sections (PopulationConfig, SlsimConfig)


#: SlsimConfig fields the options above set (a ``slsim:`` section of --config may not: give the option's key).
_SLSIM_OPTION_FIELDS = ("coadd_years", "sampling", "los_file", "match_blue_brightness", "skypy_config", "scene_offset",
                        "nonlens_mix", "gamma_pl")


def _section(args: argparse.Namespace, name: str) -> tuple[dict[str, object], str]:
    """A --config section (empty when absent) and its name for messages."""
    from brahmasifier.errors import ConfigError

    section = getattr(args, name, None)
    where = f"{args.config}: {name}" if getattr(args, "config", None) else "simulate options"
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(section).__name__}")
    return dict(section or {}), where


def _slsim_config(args: argparse.Namespace) -> Any:
    """The :class:`SlsimConfig` of the command line's slsim options."""
    from brahmasifier.errors import ConfigError
    from brahmasifier.simulation.nonlens_kinds import parse_mix
    from brahmasifier.simulation.slsim_engine import SlsimConfig

    section, where = _section(args, "slsim")
    covered = sorted(set(section) & set(_SLSIM_OPTION_FIELDS))
    if covered:
        raise ConfigError(f"{where}: {', '.join(covered)} are options of simulate: give them as top-level keys "
                          "(e.g. coadd_years: 5, no_match_brightness: true)")
    kwargs: dict[str, object] = {"coadd_years": args.coadd_years, "sampling": args.sampling, "los_file": args.los_file,
                                 "match_blue_brightness": not args.no_match_brightness, "skypy_config": args.skypy_config,
                                 "scene_offset": args.scene_offset}
    if args.nonlens_mix:
        kwargs["nonlens_mix"] = parse_mix(args.nonlens_mix)
    if args.epl_gamma:
        values = _epl_gamma(args.epl_gamma)
        kwargs["gamma_pl"] = values[0] if len(values) == 1 else {"mean": values[0], "std_dev": values[1]}
    from brahmasifier.settings import dataclass_from_settings

    return dataclass_from_settings(SlsimConfig, {**section, **kwargs}, where)


def _population_config(args: argparse.Namespace) -> Any:
    """Our engine's :class:`PopulationConfig`: the --config file's ``population:`` section, then the options.

    ``--nonlens-mix`` becomes the mix of every domain, ``--epl-gamma`` and ``--kappa-ext`` the lenses' mass
    options, ``--scene-offset`` the scene offset, each over the section's value; ``None`` when nothing is
    given (the defaults).
    """
    section, where = _section(args, "population")
    if args.epl_gamma:
        values = _epl_gamma(args.epl_gamma)
        section["epl_gamma"] = (values[0], values[1] if len(values) == 2 else 0.0)
    if args.kappa_ext:
        section["kappa_ext_sigma"] = args.kappa_ext
    if args.scene_offset:
        section["scene_offset"] = args.scene_offset
    if "epl_gamma" in section or "kappa_ext_sigma" in section:
        from brahmasifier.simulation.lens_systems import check_mass_options

        check_mass_options(section.get("epl_gamma"), section.get("kappa_ext_sigma", 0.0))  # type: ignore[arg-type]
    if args.nonlens_mix:
        from brahmasifier.simulation.nonlens_kinds import parse_mix
        from brahmasifier.simulation.population import NONLENS_MIX

        mix = parse_mix(args.nonlens_mix)
        section["nonlens_mix"] = {domain: dict(mix) for domain in NONLENS_MIX}
    if not section:
        return None
    from brahmasifier.settings import dataclass_from_settings
    from brahmasifier.simulation.population import PopulationConfig

    return dataclass_from_settings(PopulationConfig, section, where)


def _epl_gamma(text: str) -> list[float]:
    """``MEAN`` or ``MEAN,SD`` as one or two floats."""
    from brahmasifier.errors import ConfigError

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--epl-gamma: {text!r} is not MEAN or MEAN,SD") from None
    if len(values) not in (1, 2):
        raise ConfigError(f"--epl-gamma: {text!r} is not MEAN or MEAN,SD")
    return values


def run(args: argparse.Namespace) -> int:
    """Run the simulation and print a one-line summary."""
    from brahmasifier.simulation import simulate_dataset

    config: Any = None
    if args.engine != "slsim":
        from brahmasifier.errors import ConfigError

        if args.skypy_config is not None:
            raise ConfigError("--skypy-config applies to the slsim engine only; add --engine slsim")
        if getattr(args, "slsim", None) is not None:
            raise ConfigError(f"{args.config}: the slsim section applies to the slsim engine only; add engine: slsim")
    elif args.kappa_ext:
        from brahmasifier.errors import ConfigError

        raise ConfigError("--kappa-ext applies to our engine only; the slsim engine's convergence comes from --los-file")
    if args.engine != "ours" and getattr(args, "population", None) is not None:
        from brahmasifier.errors import ConfigError

        raise ConfigError(f"{args.config}: the population section is our engine's (PopulationConfig); the {args.engine} "
                          "engine does not take it")
    if args.engine not in ("ours", "slsim"):
        from brahmasifier.errors import ConfigError

        given = [flag for flag, value in (("--nonlens-mix", args.nonlens_mix), ("--epl-gamma", args.epl_gamma),
                                          ("--kappa-ext", args.kappa_ext), ("--los-file", args.los_file),
                                          ("--scene-offset", args.scene_offset)) if value]
        if given:
            raise ConfigError(f"{', '.join(given)}: options of the built-in engines; the {args.engine} engine runs with "
                              "its own settings")
    from brahmasifier.errors import DependencyNotFoundError
    from brahmasifier.simulation.engines import simulation_engine

    missing = simulation_engine(args.engine).missing()
    if missing:
        raise DependencyNotFoundError(missing)
    if args.engine == "slsim":  # the options of the two built-in engines' settings (other engines: their defaults)
        config = _slsim_config(args)
    elif args.engine == "ours":
        config = _population_config(args)
    summary = simulate_dataset(
        args.out, args.n_per_class, seed=args.seed, domains=args.domains, layout=args.layout,
        workers=args.workers, progress=args.progress, preview=not args.no_preview,
        config=config, engine=args.engine,
    )
    if summary.skipped:
        print(f"{summary.out}: already complete ({summary.n_objects} objects, seed {summary.seed}); nothing to do")
    else:
        kept = f", {summary.resumed} of them kept from the interrupted run" if summary.resumed else ""
        print(f"{summary.out}: {summary.n_objects} objects ({summary.layout} layout, {args.engine} engine{kept}) in "
              f"{summary.seconds:.1f} s = {summary.objects_per_second:.1f} objects/s made with {summary.workers} worker(s)")
    return 0
