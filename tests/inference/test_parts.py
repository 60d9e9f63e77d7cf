"""Parts: planning, per-rank split, stale-plan handling, and the merge (duplicates, rejects)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.inference.parts import (
    PartsError,
    batches_of,
    combine_duplicates,
    done_parts,
    merge_parts,
    part_path,
    parts_for_rank,
    plan_parts,
    prepare_parts_dir,
    write_part,
)
from brahmasifier.inference.submission import read_submission
from brahmasifier.models.temperature import sigmoid


def test_plan_split_and_batches() -> None:
    parts = plan_parts(23, 5)
    assert [(p.start, p.stop) for p in parts] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    ranks = [parts_for_rank(parts, r, 2) for r in (0, 1)]
    assert sorted(p.number for r in ranks for p in r) == list(range(5))
    assert not {p.number for p in ranks[0]} & {p.number for p in ranks[1]}
    batches = batches_of(parts, 2)
    assert all(parts[k].start <= a < b <= parts[k].stop for k, a, b in batches)
    covered = np.concatenate([np.arange(a, b) for _, a, b in batches])
    assert np.array_equal(covered, np.arange(23))
    with pytest.raises(ValueError):
        plan_parts(3, 0)


def _rows(start: int, stop: int, ids: list[str], errors: dict[int, str] | None = None) -> pd.DataFrame:
    errors = errors or {}
    pos = np.arange(start, stop)
    logit_a = np.linspace(-2, 2, 30)[pos]
    logit_b = -0.5 * logit_a
    return pd.DataFrame({
        "position": pos, "id": [ids[p] if p not in errors else "" for p in pos],
        "stem": [f"S{p}" for p in pos], "n_nan": (pos % 3).astype(np.int32),
        "error": [errors.get(p, "") for p in pos], "file": [f"/d/S{p}_g.fits" if p in errors else "" for p in pos],
        "logit": (logit_a + logit_b) / 2, "logit_a": logit_a, "logit_b": logit_b,
    })


def test_merge_of_per_rank_parts(tmp_path: Path) -> None:
    """Parts written by two ranks, in any order, merge into one row per ID with mean logits."""
    ids = [str(10**16 + p) for p in range(30)]
    ids[7] = ids[3]  # a duplicated ID
    ids[20] = "GG-LENS_0.0159_0.0846"
    errors = {12: "truncated file"}
    parts = plan_parts(30, 8)
    parts_dir = tmp_path / "sub.csv.parts"
    for rank in (1, 0):  # rank 1 finishes first
        for part in parts_for_rank(parts, rank, 2):
            write_part(parts_dir, part.number, _rows(part.start, part.stop, ids, errors))
    source_rejected = pd.DataFrame({"stem": ["S99", ""], "file": ["/d/S99_y.fits", "/d/notes.txt"],
                                    "reason": ["missing band y", "unrecognised file name"]})
    result = merge_parts(parts_dir, parts, ["logit_a", "logit_b"], 0.5, tmp_path / "sub.csv",
                         tmp_path / "probs.csv", source_rejected)
    assert (result.n_scored, result.n_rejected, result.n_found) == (29, 2, 31)
    assert (result.n_duplicate_ids, result.n_duplicate_rows, result.n_ids) == (1, 2, 28)

    probs = pd.read_csv(tmp_path / "probs.csv", dtype={"id": str, "stem": str})
    assert list(probs.columns) == ["id", "stem", "prob", "logit", "logit_a", "logit_b", "n_nan"]
    assert probs["id"].is_unique and ids[20] in set(probs["id"])
    full = _rows(0, 30, ids)
    dup = probs.set_index("id").loc[ids[3]]
    assert dup["stem"] == "S3;S7"
    assert dup["logit_a"] == pytest.approx(full.loc[[3, 7], "logit_a"].mean())
    assert dup["n_nan"] == max(full.loc[3, "n_nan"], full.loc[7, "n_nan"])
    assert np.allclose(probs["prob"], sigmoid(probs["logit"].to_numpy()))

    submission = read_submission(tmp_path / "sub.csv")
    assert submission["id"].tolist() == probs["id"].tolist()
    assert submission["preds"].tolist() == (probs["prob"] >= 0.5).astype(int).tolist()
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str, keep_default_na=False)
    assert set(rejected["reason"]) == {"missing band y", "unrecognised file name", "truncated file"}
    assert "/d/S12_g.fits" in set(rejected["file"])


def test_missing_part_is_reported(tmp_path: Path) -> None:
    parts = plan_parts(10, 5)
    write_part(tmp_path, 0, _rows(0, 5, [str(i) for i in range(30)]))
    with pytest.raises(PartsError, match="1 of 2 parts not written"):
        merge_parts(tmp_path, parts, ["logit_a", "logit_b"], 0.5, tmp_path / "s.csv", None,
                    pd.DataFrame(columns=["stem", "file", "reason"]))


def test_combine_duplicates_without_duplicates_is_identity() -> None:
    frame = _rows(0, 4, ["a", "b", "c", "d"])
    combined, n_ids, n_rows = combine_duplicates(frame, ["logit"])
    assert (n_ids, n_rows) == (0, 0) and combined["id"].tolist() == ["a", "b", "c", "d"]


def test_stale_parts_are_discarded(tmp_path: Path) -> None:
    parts_dir = tmp_path / "x.parts"
    plan = {"models": ["m1"], "objects": 10}
    assert prepare_parts_dir(parts_dir, plan, resume=True) == set()
    write_part(parts_dir, 0, _rows(0, 5, [str(i) for i in range(30)]))
    (parts_dir / ".part-00001.parquet.tmp-abc.parquet").write_bytes(b"half")  # interrupted write
    assert done_parts(parts_dir) == {0}
    assert prepare_parts_dir(parts_dir, plan, resume=True) == {0}
    assert prepare_parts_dir(parts_dir, {**plan, "models": ["m2"]}, resume=True) == set()
    assert not part_path(parts_dir, 0).exists()
    write_part(parts_dir, 0, _rows(0, 5, [str(i) for i in range(30)]))
    assert prepare_parts_dir(parts_dir, {**plan, "models": ["m2"]}, resume=False) == set()
