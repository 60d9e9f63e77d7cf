"""A regression target is one declaration in one file: this file registers a toy target, trained and predicted by the CLI.

Registration goes through the public API only (``register_target``), as a user's module would.
The toy learns the Einstein radius under another name from the tiny tree's ``Rein`` column and
fills the submission's ``Rein`` column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.cli import main
from brahmasifier.errors import ConfigError
from brahmasifier.inference.submission import read_submission
from brahmasifier.models import load_model
from brahmasifier.models.target_registry import register_target
from brahmasifier.models.targets import challenge_targets, select_targets
from brahmasifier.ranges import physical_range

pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning",
    "ignore:.*does not have many workers.*",
)

TOY = register_target("toy_theta", group="lens", encoding="log", aliases=("Rein",), submission=("Rein",),
                      errors=("relative",), ranges=(0.01, 10.0))


def test_the_declaration_is_the_whole_target() -> None:
    assert physical_range("toy_theta") == (0.01, 10.0)  # the range went into the one table
    spec = select_targets("toy_theta")
    assert spec.targets == (TOY,) and spec.dim_names == ["log(toy_theta)"]
    assert TOY not in challenge_targets() and select_targets("default").n_dims == 34  # `default`: the challenge's list
    assert register_target("toy_theta", group="lens", encoding="log", aliases=("Rein",), submission=("Rein",),
                           errors=("relative",), ranges=(0.01, 10.0)) is TOY  # importing twice is harmless
    with pytest.raises(ValueError, match="already"):
        register_target("toy_theta", group="nonlens")
    with pytest.raises(ValueError, match="already name another target"):
        register_target("toy_other", group="lens", columns=("Rein",))
    with pytest.raises(ConfigError, match="unknown regression target"):
        select_targets("toy_nothing")


def test_a_registered_target_is_trained_and_predicted(tiny_challenge_tree: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, _ = tiny_challenge_tree
    run, sub, probs = tmp_path / "run", tmp_path / "pred" / "submission.csv", tmp_path / "pred" / "probs.csv"
    assert main(["train", "--data", str(root), "--out", str(run), "--targets", "toy_theta", "--epochs", "1",
                 "--batch-size", "8", "--model-kwargs", json.dumps({"widths": [8, 16], "depths": [0, 1]}),
                 "--regression-hidden", "8", "--val-fraction", "0.34", "--threads", "1", "--no-progress"]) == 0
    _, card = load_model(run)
    spec = card.target_set()
    assert spec is not None and [t.name for t in spec.targets] == ["toy_theta"] and spec.n_fit[0] > 0

    assert main(["predict", "--model", str(run), "--data", str(root), "--out", str(sub), "--probs", str(probs),
                 "--no-progress"]) == 0
    table = pd.read_csv(probs, dtype={"id": str})
    for column in ("toy_theta", "toy_theta_sigma", "toy_theta_lo68", "toy_theta_hi95"):
        assert table[column].notna().all(), column
    assert ((table["toy_theta"] >= 0.01) & (table["toy_theta"] <= 10.0)).all()
    assert (table["toy_theta_lo68"] <= table["toy_theta"]).all() and (table["toy_theta"] <= table["toy_theta_hi68"]).all()
    submission = read_submission(sub).set_index("id")
    lens = submission["preds"].astype(int).to_numpy() == 1
    rein = submission["Rein"].astype(float).to_numpy()
    assert np.array_equal(rein != -999, lens)  # the declared submission column, for predicted lenses
    by_id = table.set_index("id")["toy_theta"]
    np.testing.assert_allclose(rein[lens], by_id.loc[submission.index[lens]].to_numpy(), rtol=1e-5)
    assert (submission["zlens"].astype(float) == -999).all()  # a column no target fills
