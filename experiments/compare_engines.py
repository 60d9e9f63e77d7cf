"""Compare the lens (and non-lens) populations of two simulation engines at LSST 1-year depth.

Usage::

    python experiments/compare_engines.py --n 300 --seed-ours 11 --seed-slsim 12 [--workers 2]
    python experiments/compare_engines.py --sample ours=DIR_A --sample slsim=DIR_B   # existing folders
    python experiments/compare_engines.py --n 300 --ours-epl-gamma 2.0,0.1 --ours-kappa-ext 0.04 \
        --sample slsim_own=/work/data/slsim_own    # our engine with its mass options vs an SLSim-own set
    python experiments/compare_engines.py --n 250 --ours-epl-gamma 2.0,0.1 --ours-kappa-ext 0.04 \
        --ours-scene-offset 2 --ours-nonlens-mix deflector=0.3,false_positive=0.5,blue=0.2 \
        --sample slsim_own=SLSIM_OWN_DIR    # the options closest to SLSim's own configuration

Draws ``--n`` objects per class from each engine with its defaults (ours: the demo's
``PopulationConfig`` in the slsim domain, i.e. LSST-rendered; slsim: ``SlsimConfig()``, 1-year
coadd) into ``--work`` (default ``experiments/_work/compare/``, reused when rerun with the same
settings), prints the 5/16/50/84/95 % quantiles of the quantities of
:mod:`brahmasifier.simulation.compare` side by side (lenses, then non-lenses), the fraction of
lenses with matched-filter arc S/N in i below 22, the non-lens kinds, a two-sample KS test of
each quantity against ``--reference`` (default: the first sample), and writes one figure of
overlaid histograms per class (offsets, EPL slope, external shear and convergence among them,
where an engine records them; the false positives' companions: number, separations, brightest
i magnitude, and the fractions with 1/2/3 companions) (``--figures PREFIX``: ``PREFIX_lenses.png`` and
``PREFIX_nonlenses.png``, default ``WORK/compare``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.simulation.compare import (
    LENS_QUANTITIES,
    NONLENS_QUANTITIES,
    ks_table,
    load_truth,
    plot_distributions,
    quantile_table,
)


def draw(engine: str, n: int, seed: int, work: Path, workers: int | None, progress: bool,
         config: object | None = None, tag: str = "") -> Path:
    """Simulate ``n`` objects per class with ``engine``'s defaults (or ``config``; slsim domain) into ``work``."""
    from brahmasifier.simulation import simulate_dataset

    out = work / f"{engine}{tag}_n{n}_seed{seed}"
    simulate_dataset(out, n, seed=seed, domains="slsim", engine=engine, workers=workers, progress=progress, preview=False,
                     config=config)  # type: ignore[arg-type]
    return out


def ours_config(epl_gamma: str | None, kappa_ext: float, scene_offset: float = 0.0, nonlens_mix: str | None = None,
                overrides: dict[str, object] | None = None) -> tuple[object | None, str]:
    """Our engine's ``PopulationConfig`` with the options given (None: defaults) and a folder tag.

    ``nonlens_mix`` (``KIND=F,...``) becomes the slsim domain's mix; ``overrides`` are other
    ``PopulationConfig`` fields (``--ours-set NAME=VALUE``).
    """
    from brahmasifier.simulation.nonlens_kinds import parse_mix
    from brahmasifier.simulation.population import NONLENS_MIX, PopulationConfig

    overrides = dict(overrides or {})
    if epl_gamma is None and kappa_ext == 0.0 and scene_offset == 0.0 and nonlens_mix is None and not overrides:
        return None, ""
    gamma = tuple(float(v) for v in epl_gamma.split(",")) if epl_gamma else None
    if gamma is not None and len(gamma) == 1:
        gamma = (gamma[0], 0.0)
    tag = ((f"_epl{epl_gamma.replace(',', '-')}" if epl_gamma else "") + (f"_kappa{kappa_ext:g}" if kappa_ext else "")
           + (f"_offset{scene_offset:g}" if scene_offset else "")
           + ("_mix" + nonlens_mix.replace("=", "").replace(",", "-") if nonlens_mix else "")
           + "".join(f"_{k}{v}" for k, v in sorted(overrides.items())))
    if nonlens_mix:
        overrides["nonlens_mix"] = {**{d: dict(m) for d, m in NONLENS_MIX.items()}, "slsim": parse_mix(nonlens_mix)}
    return PopulationConfig(epl_gamma=gamma, kappa_ext_sigma=kappa_ext, scene_offset=scene_offset,  # type: ignore[arg-type]
                            **overrides), tag  # type: ignore[arg-type]


def _setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` (a number, else a string) of ``--ours-set``."""
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        return name, value


def companion_counts(table: pd.DataFrame) -> dict[int, float]:
    """Fractions of false positives with 1, 2, 3… companions."""
    counts = table.loc[table["sim_subtype"] == "false_positive", "sim_n_companions"].dropna().astype(int)
    return {int(k): round(float(v), 3) for k, v in counts.value_counts(normalize=True).sort_index().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="objects per class and engine")
    parser.add_argument("--seed-ours", type=int, default=11)
    parser.add_argument("--seed-slsim", type=int, default=12)
    parser.add_argument("--engines", default="ours,slsim")
    parser.add_argument("--sample", action="append", default=[], metavar="NAME=DIR[,DIR...]",
                        help="use existing simulated folders (several: pooled) instead of drawing (repeatable)")
    parser.add_argument("--reference", default=None, metavar="NAME",
                        help="sample the others are KS-tested against (default: the first --sample)")
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "_work" / "compare")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--figures", type=Path, default=None, help="prefix of the two figures (default WORK/compare)")
    parser.add_argument("--ours-epl-gamma", default=None, metavar="MEAN[,SD]", help="our engine's EPL slope option")
    parser.add_argument("--ours-kappa-ext", type=float, default=0.0, metavar="SIGMA",
                        help="our engine's external convergence option")
    parser.add_argument("--ours-scene-offset", type=float, default=0.0, metavar="PIX", help="our engine's scene offset")
    parser.add_argument("--ours-nonlens-mix", default=None, metavar="KIND=F,...", help="our engine's slsim non-lens mix")
    parser.add_argument("--ours-set", action="append", default=[], metavar="NAME=VALUE",
                        help="another PopulationConfig field of our engine (a number), repeatable")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    folders: dict[str, list[Path]] = {}
    for item in args.sample:
        name, _, folder = item.partition("=")
        folders[name] = [Path(f) for f in folder.split(",")]
    config, tag = ours_config(args.ours_epl_gamma, args.ours_kappa_ext, args.ours_scene_offset, args.ours_nonlens_mix,
                              dict(_setting(item) for item in args.ours_set))
    if not folders or config is not None:
        seeds = {"ours": args.seed_ours, "slsim": args.seed_slsim}
        for engine in args.engines.split(",") if not folders else ["ours"]:
            folders[engine + tag] = [draw(engine, args.n, seeds[engine], args.work, args.workers, not args.no_progress,
                                          config if engine == "ours" else None, tag if engine == "ours" else "")]
    truth = {name: pd.concat([load_truth(f) for f in paths], ignore_index=True) for name, paths in folders.items()}
    lenses = {name: t[t["label"] == 1] for name, t in truth.items()}
    others = {name: t[t["label"] == 0] for name, t in truth.items()}
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        print("== lenses ==")
        print(quantile_table(lenses, LENS_QUANTITIES).to_string())
        print("\n== non-lenses ==")
        print(quantile_table(others, NONLENS_QUANTITIES).to_string())
        reference = args.reference or next(iter(truth))
        for title, samples, quantities in (("lenses", lenses, LENS_QUANTITIES), ("non-lenses", others, NONLENS_QUANTITIES)):
            print(f"\n== {title}: two-sample KS against {reference} ==")
            print(ks_table(samples, quantities, reference).to_string(sparsify=False))
    for name, table in lenses.items():
        snr = table["sim_arc_snr_i"].to_numpy(dtype=float)
        snr = snr[np.isfinite(snr)]
        print(f"{name}: {len(table)} lenses, arc S/N_i < 22: {np.mean(snr < 22):.1%}, > 70: {np.mean(snr > 70):.1%}")
    for name, table in others.items():
        kinds = table["sim_subtype"].value_counts(normalize=True).round(3).to_dict()
        print(f"{name}: non-lens kinds {kinds}")
        if "sim_n_companions" in table:
            print(f"{name}: false positives with 1/2/3 companions {companion_counts(table)}")
    prefix = args.figures or args.work / "compare"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for suffix, samples, quantities in (("lenses", lenses, LENS_QUANTITIES), ("nonlenses", others, NONLENS_QUANTITIES)):
        path = plot_distributions(samples, quantities, f"{prefix}_{suffix}.png", title=f"{suffix}: " + " vs ".join(samples))
        print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
