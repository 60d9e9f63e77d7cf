"""experiments/survey_gap_arms.py: runs' gaps per set and pooled, and an arm's change, on constructed scores."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from tests.experiment_scripts import load_script

from brahmasifier.binary_metrics import RankedScores, tpr_at_false_positives
from brahmasifier.io.store import write_store


def _module() -> ModuleType:
    return load_script("survey_gap_arms")


def _tpr(scores: np.ndarray, labels: np.ndarray) -> float:
    tp, fp = RankedScores(scores, labels).counts()
    return tpr_at_false_positives(tp, fp, 1e-2 * int((labels == 0).sum()))


def _set(tmp_path: Path, name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A clean store of ``n`` lenses and ``n`` non-lenses (labels only matter) and clean logits for it."""
    labels = np.r_[np.ones(n, dtype=int), np.zeros(n, dtype=int)]
    ids = [f"{name}_{i}" for i in range(2 * n)]
    index = pd.DataFrame({"id": ids, "stem": ids, "label": labels, "domain": "slsim", "n_nan": 0})
    write_store(tmp_path / f"{name}_store", np.zeros((2 * n, 5, 41, 41), np.float32), index)
    return labels, np.r_[rng.normal(3.0, 1.5, n), rng.normal(0.0, 1.0, n)]


def _run(folder: Path, ids: list[str], clean: np.ndarray, perturbed: np.ndarray) -> None:
    for kind, logits in (("clean_v1", clean), ("rotmis_register_v1", perturbed)):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        order = np.arange(len(ids))[::-1]  # another order than the store's: joined by id
        pd.DataFrame({"id": np.array(ids)[order], "logit": logits[order]}).to_csv(folder / kind / "p.csv", index=False)


def test_gaps_per_set_pooled_and_an_arm_that_closes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _module()
    rng = np.random.default_rng(11)
    sets = {name: _set(tmp_path, name, n, rng) for name, n in (("a", 1500), ("b", 1000))}
    for seed in (1, 2):
        for name, (labels, clean) in sets.items():
            ids = [f"{name}_{i}" for i in range(len(labels))]
            lens_drop = np.where(labels == 1, -0.8, 0.0)  # the first arm's perturbed lenses lose 0.8 logits
            _run(tmp_path / f"old{seed}_{name}", ids, clean, clean + lens_drop + rng.normal(0, 0.05, clean.size))
            _run(tmp_path / f"new{seed}_{name}", ids, clean, clean + rng.normal(0, 0.05, clean.size))
    labels = [f"{name}={tmp_path / f'{name}_store'}" for name in sets]
    module.main(["--labels", *labels, "--n-bootstrap", "200",
                 "--arm", "old", str(tmp_path / "old1_{set}"), str(tmp_path / "old2_{set}"),
                 "--arm", "new", str(tmp_path / "new1_{set}"), str(tmp_path / "new2_{set}")])
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("==")] == ["== a", "== b", "== a+b"]
    pooled = out.split("== a+b")[1]
    assert "5000 objects, 2500 non-lenses" in pooled
    y = np.r_[sets["a"][0], sets["b"][0]]
    clean = np.r_[sets["a"][1], sets["b"][1]]
    assert f"{_tpr(clean, y):.3f} / " in pooled  # one threshold over both sets' non-lenses
    old_gap = float(pooled.split("old: ")[1].split("(")[1].split(")")[0])
    assert old_gap < -0.1
    change = pooled.split("new against old: mean gap ")[1]
    value, lo = float(change.split()[0]), float(change.split("95% ")[1].split(",")[0])
    assert value > 0.1 and lo > 0  # the second arm loses no lenses: its gap is closed, the interval above 0
    assert "run by run" in change
    parts = change.split("; ")
    assert parts[1].startswith("clean_v1 +0.000") and parts[2].startswith("rotmis_register_v1 +")  # the perturbed TPR rose


def test_draws_pair_every_scoring_and_reduce_to_the_difference() -> None:
    from brahmasifier.evaluation.bootstrap import paired_tpr_difference, paired_tpr_draws

    rng = np.random.default_rng(3)
    y = np.r_[np.ones(400, dtype=int), np.zeros(600, dtype=int)]
    a = rng.normal(2.0 * y, 1.0)
    b = a + rng.normal(0.0, 0.3, a.size)
    point, draws = paired_tpr_draws([a, b, a], y, 1e-2, 100, np.random.default_rng(1))
    assert draws.shape == (100, 3) and point[0] == point[2] == _tpr(a, y) and point[1] == _tpr(b, y)
    np.testing.assert_array_equal(draws[:, 0], draws[:, 2])  # the same objects drawn for every scoring
    diff = paired_tpr_difference(a, b, y, 1e-2, 100, np.random.default_rng(1))
    assert diff["difference"] == point[1] - point[0]
    assert diff["ci95"] == pytest.approx(list(np.percentile(draws[:, 1] - draws[:, 0], [2.5, 97.5])))
