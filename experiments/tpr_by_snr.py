"""TPR at a fixed FPR by bins of a truth column (default: the arc's matched-filter S/N in i), for scored labelled stores.

Run: ``python experiments/tpr_by_snr.py PROBS.csv=STORE [PROBS.csv=STORE ...] [--column sim_arc_snr_i]
[--edges 25 70] [--fpr 0.01]``

The ``probs.csv`` files (``predict`` output) are joined with their stores' index by ``id`` and
pooled; the threshold is the logit above which ``--fpr`` of the pooled non-lenses lie, and each
bin of ``--column`` (lenses only) reports its number of lenses and the fraction above that
threshold. Used for issue 22's "arcs with S/N > 70" target (docs/science/cross-simulator.md).
"""

from __future__ import annotations

import argparse
from itertools import pairwise

import numpy as np
import pandas as pd

from brahmasifier.io.store import open_store


def main() -> None:
    """Print one line per bin."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scored", nargs="+", metavar="PROBS.csv=STORE")
    parser.add_argument("--column", default="sim_arc_snr_i")
    parser.add_argument("--edges", nargs="+", type=float, default=[25.0, 70.0])
    parser.add_argument("--fpr", type=float, default=0.01)
    args = parser.parse_args()
    tables = []
    for item in args.scored:
        probs, store = item.split("=", 1)
        index = open_store(store).index[["id", "label", args.column]]
        tables.append(pd.read_csv(probs)[["id", "logit"]].merge(index, on="id", validate="one_to_one"))
    table = pd.concat(tables, ignore_index=True)
    negatives = np.sort(table.loc[table["label"] == 0, "logit"].to_numpy())[::-1]
    threshold = negatives[int(args.fpr * len(negatives))]
    lenses = table[table["label"] == 1]
    value, found = lenses[args.column].to_numpy(float), lenses["logit"].to_numpy() > threshold
    edges = [-np.inf, *args.edges, np.inf]
    print(f"{len(negatives)} non-lenses, threshold logit {threshold:.3f} (FPR {args.fpr:g}); {len(lenses)} lenses")
    for low, high in pairwise(edges):
        inside = (value >= low) & (value < high)
        print(f"{args.column} in [{low:g}, {high:g}): {inside.sum()} lenses, TPR {found[inside].mean():.3f}")


if __name__ == "__main__":
    main()
