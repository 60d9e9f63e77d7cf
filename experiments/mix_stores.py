"""Two perturbed copies of one set mixed object by object: the test sets of data that mixes two forms.

Run: ``python experiments/mix_stores.py FIRST SECOND --share P --seed S --out STORE``

``FIRST`` and ``SECOND`` are copies of the same objects in the same order (``brahmasifier perturb``
of one store with the same seed: the IDs and the draws that do not depend on the form match);
each object is taken from ``FIRST`` with probability ``P`` (one uniform draw per object from
``numpy.random.default_rng(S)``) and from ``SECOND`` otherwise, its ``pert_*`` truth columns with
it, and ``mix_first`` (0/1) says which. ``docs/survey-pixels.md`` §3, "Groups read from the data":
``t404_mix90`` / ``mix75`` / ``mix50`` are ``sets/t404_rotgrp41`` and ``sets/t404_rotmis41`` at
``--share 0.9`` / ``0.75`` / ``0.5``, ``--seed 301``.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from brahmasifier.io.store import open_store, write_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--share", type=float, required=True, help="probability of taking an object from FIRST")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    first, second = open_store(args.first), open_store(args.second)
    a, b = first.index.reset_index(drop=True), second.index.reset_index(drop=True)
    if len(a) != len(b) or not np.array_equal(a["id"].to_numpy(), b["id"].to_numpy()):
        raise SystemExit(f"{args.first} and {args.second} do not hold the same objects in the same order")
    take = np.random.default_rng(args.seed).random(len(a)) < args.share
    rows = np.arange(len(a))
    images = np.where(take[:, None, None, None], np.asarray(first.read(rows)), np.asarray(second.read(rows)))
    index = a.copy()
    for column in (c for c in index.columns if c.startswith("pert_")):
        index[column] = np.where(take, a[column], b[column])
    index["mix_first"] = take.astype(np.int8)
    write_store(args.out, images, index)
    print(f"{args.out}: {len(index)} objects, {take.mean():.1%} from {args.first}")


if __name__ == "__main__":
    main()
