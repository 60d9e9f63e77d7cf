"""Galleries of true lenses drawn with the candidate panels, to look at (docs/inspect.md, "Seen by eye").

Usage: python experiments/inspect_gallery.py DEMO_OUTPUT OUT_DIR [--seeds 1 2 3] [--nonlens-seeds 5]

``DEMO_OUTPUT`` is what ``brahmasifier demo`` writes: the eight candidates its ``probs.csv`` ranks
highest (the README's gallery) are drawn as ``demo_top8.png``, with their probabilities. Then, for each
seed, eight true lenses drawn at random (``lenses_<seed>.png``) and eight non-lenses
(``nonlenses_<seed>.png``), all through ``evaluation.gallery.plot_gallery_section``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.evaluation.gallery import load_cutouts, plot_gallery_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_output", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--nonlens-seeds", type=int, nargs="*", default=[5])
    args = parser.parse_args()
    images = args.demo_output / "blind_fits" / "images"
    truth = pd.read_csv(args.demo_output / "blind_fits" / "truth.csv", dtype={"id": str})
    args.out.mkdir(parents=True, exist_ok=True)
    probs = pd.read_csv(args.demo_output / "probs.csv", dtype={"id": str})
    top = probs.sort_values("prob", ascending=False, kind="stable").head(8)
    sets = {"demo_top8": truth.set_index("id").loc[top["id"]].reset_index().assign(prob=top["prob"].to_numpy())}
    for label, seeds, name in ((1, args.seeds, "lenses"), (0, args.nonlens_seeds, "nonlenses")):
        pool = truth[truth["label"] == label]
        for seed in seeds:
            pick = np.random.default_rng(seed).choice(len(pool), 8, replace=False)
            sets[f"{name}_{seed}"] = pool.iloc[pick].assign(prob=np.nan)
    for name, rows in sets.items():
        cutouts = load_cutouts(images, rows)
        plot_gallery_section(rows, cutouts, args.out / f"{name}.png", name.replace("_", " "))
        print(name, " ".join(f"{r.id}(θE={r.Rein:.2f})" if r.label == 1 else r.id for r in rows.itertuples()))


if __name__ == "__main__":
    main()
