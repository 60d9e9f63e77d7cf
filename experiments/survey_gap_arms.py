r"""Perturbed-minus-clean TPR gaps of several training runs in two or more arms, per set and pooled, with paired intervals.

Run::

    python experiments/survey_gap_arms.py --labels t404=CLEAN_STORE own505=CLEAN_STORE own606=CLEAN_STORE \
        --arm recipe EVAL_{set}_SEED1 EVAL_{set}_SEED2 ... --arm repair EVAL_{set}_SEED1 ... \
        [--pool t404 own505+own606 t404+own505+own606] [--clean clean_v1] [--perturbed rotmis_register_v1] \
        [--fpr 0.01] [--n-bootstrap 500] [--seed 0]

Each ``--arm`` names its runs by folders as ``experiments/survey_pixels_table.py --out`` writes
them, ``{set}`` standing for a set's name: ``FOLDER/<clean>/p.csv`` and
``FOLDER/<perturbed>/p.csv`` hold the same objects' probabilities, clean and perturbed (ids as
in the clean store). ``--labels`` gives each set's clean store (its ``label`` column). A pool
(``a+b``) scores the sets' objects as one set: one threshold over all their non-lenses, so at
FPR 1e-2 the operating point is set by a hundredth of them all (50 of 5,000 instead of 10 of
1,000) and a single run's gap moves less with a handful of objects.

Prints per pool: each run's clean and perturbed TPR at ``--fpr`` and the gap; each arm's mean
over its runs; and, against the first arm, the change of the mean gap, of the mean clean TPR and
of the mean perturbed TPR (a gap can close because the clean TPR falls) — and of each run's gap
paired by position when the arms have as many runs (the same training seed) — with 95%
intervals from :func:`brahmasifier.evaluation.bootstrap.paired_tpr_draws`: one draw of objects
(lenses and non-lenses apart) is applied to every run's clean and perturbed scores alike. Written
for issue 21's per-band circle-cut sets (``docs/survey-pixels.md`` §3, "The repair in training,
the three sets as one, four seeds").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.evaluation.bootstrap import paired_tpr_draws
from brahmasifier.io.store import open_store


def load_pool(sets: list[str], labels: dict[str, str], arms: dict[str, list[str]], clean: str,
              perturbed: str) -> tuple[np.ndarray, dict[tuple[str, int, str], np.ndarray]]:
    """Labels of the pool's objects and every run's clean and perturbed logits on them, in one order."""
    ys, ids = [], []
    for name in sets:
        index = open_store(labels[name]).index.set_index("id")
        ys.append(index["label"].to_numpy(int))
        ids.append((name, index.index))
    logits: dict[tuple[str, int, str], np.ndarray] = {}
    for arm, templates in arms.items():
        for run, template in enumerate(templates):
            for kind in (clean, perturbed):
                parts = []
                for name, objects in ids:
                    path = Path(template.format(set=name)) / kind / "p.csv"
                    table = pd.read_csv(path, dtype={"id": str}).set_index("id")
                    missing = objects.difference(table.index)
                    if len(missing):
                        raise SystemExit(f"{path}: {len(missing)} objects of {labels[name]} missing (e.g. {missing[0]})")
                    parts.append(table.loc[objects, "logit"].to_numpy(np.float64))
                logits[arm, run, kind] = np.concatenate(parts)
    return np.concatenate(ys), logits


def _interval(values: np.ndarray) -> str:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return f"(95% {lo:+.3f}, {hi:+.3f})"


def report(y: np.ndarray, logits: dict[tuple[str, int, str], np.ndarray], clean: str, perturbed: str, fpr: float,
           n_bootstrap: int, rng: np.random.Generator) -> list[str]:
    """The lines printed for one pool (module docstring)."""
    keys = list(logits)
    point, draws = paired_tpr_draws([logits[k] for k in keys], y, fpr, n_bootstrap, rng)
    column = {key: j for j, key in enumerate(keys)}
    arms = list(dict.fromkeys(arm for arm, _, _ in keys))
    runs = {arm: list(dict.fromkeys(r for a, r, _ in keys if a == arm)) for arm in arms}

    def tpr(rows: np.ndarray, arm: str, kind: str, run: int | None = None) -> np.ndarray:
        """A run's TPR in ``rows`` (the point or the draws), or the mean over the arm's runs."""
        chosen = runs[arm] if run is None else [run]
        return np.mean([rows[..., column[arm, r, kind]] for r in chosen], axis=0)

    def gap(rows: np.ndarray, arm: str, run: int | None = None) -> np.ndarray:
        """A run's perturbed-minus-clean TPR, or the mean of the arm's runs' gaps."""
        chosen = runs[arm] if run is None else [run]
        return np.mean([rows[..., column[arm, r, perturbed]] - rows[..., column[arm, r, clean]] for r in chosen], axis=0)

    lines = [f"{len(y)} objects, {int((y == 0).sum())} non-lenses; TPR at FPR {fpr:g}, clean / perturbed (gap)"]
    for arm in arms:
        each = " · ".join(f"{tpr(point, arm, clean, r):.3f} / {tpr(point, arm, perturbed, r):.3f} ({gap(point, arm, r):+.3f})"
                          for r in runs[arm])
        lines.append(f"  {arm}: {each}; mean {tpr(point, arm, clean):.3f} / {tpr(point, arm, perturbed):.3f} "
                     f"({gap(point, arm):+.3f}) {_interval(gap(draws, arm))}")
    first = arms[0]
    for arm in arms[1:]:
        line = (f"  {arm} against {first}: mean gap {gap(point, arm) - gap(point, first):+.3f} "
                f"{_interval(gap(draws, arm) - gap(draws, first))}")
        for kind in (clean, perturbed):  # where a gap's change comes from: the clean TPR, or the perturbed
            line += (f"; {kind} {tpr(point, arm, kind) - tpr(point, first, kind):+.3f} "
                     f"{_interval(tpr(draws, arm, kind) - tpr(draws, first, kind))}")
        if len(runs[arm]) == len(runs[first]):
            line += "; run by run " + ", ".join(
                f"{gap(point, arm, r) - gap(point, first, q):+.3f} {_interval(gap(draws, arm, r) - gap(draws, first, q))}"
                for r, q in zip(runs[arm], runs[first], strict=True))
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--labels", nargs="+", required=True, metavar="SET=CLEAN_STORE")
    parser.add_argument("--arm", nargs="+", action="append", required=True, metavar=("NAME", "FOLDER"),
                        help="an arm's name, then one folder per run ({set} stands for the set's name)")
    parser.add_argument("--pool", nargs="+", default=None, metavar="SET[+SET...]",
                        help="sets scored as one (default: each set, then all together)")
    parser.add_argument("--clean", default="clean_v1")
    parser.add_argument("--perturbed", default="rotmis_register_v1")
    parser.add_argument("--fpr", type=float, default=1e-2)
    parser.add_argument("--n-bootstrap", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    labels = dict(item.split("=", 1) for item in args.labels)
    arms: dict[str, list[str]] = {}
    for name, *folders in args.arm:
        if not folders:
            parser.error(f"--arm {name}: give at least one run folder")
        arms[name] = folders
    pools = args.pool or [*labels, *(["+".join(labels)] if len(labels) > 1 else [])]
    rng = np.random.default_rng(args.seed)
    for pool in pools:
        sets = pool.split("+")
        unknown = [s for s in sets if s not in labels]
        if unknown:
            parser.error(f"--pool {pool}: no --labels for {', '.join(unknown)}")
        y, logits = load_pool(sets, labels, arms, args.clean, args.perturbed)
        print(f"== {pool}")
        for line in report(y, logits, args.clean, args.perturbed, args.fpr, args.n_bootstrap, rng):
            print(line, flush=True)


if __name__ == "__main__":
    main()
