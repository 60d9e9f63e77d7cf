"""experiments/score_sets.py: an ensemble scored from its members' predictions equals ``predict`` with both models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.experiment_scripts import load_script
from tests.inference.conftest import make_saved_model

from brahmasifier.evaluation.inputs import load_predictions
from brahmasifier.inference import PredictConfig, predict


def _module() -> object:
    return load_script("score_sets")


def test_ensemble_of_member_predictions_is_predicts_ensemble(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root, truth = tiny_challenge_tree  # fp32: a tiny random model's logits collapse to one value in bf16
    runs = [make_saved_model(tmp_path / "a", seed=1, temperature=1.0).parent,
            make_saved_model(tmp_path / "b", seed=2, temperature=2.0, normalization="per_image").parent]
    module = _module()
    for tta in ("flips", "d4"):
        members = [load_predictions(module.probs_of(str(r), "tiny", str(root), tta, tmp_path / "score",
                                                           precision="32-true"))  # type: ignore[attr-defined]
                   for r in runs]
        combined = module.ensemble(members).set_index("stem")  # type: ignore[attr-defined]
        both = tmp_path / f"both_{tta}"
        predict(PredictConfig(models=[str(r) for r in runs], data=[str(root)], out=str(both / "submission.csv"),
                              probs_out=str(both / "probs.csv"), tta=tta, progress=False, precision="32-true"))
        reference = load_predictions(both / "probs.csv").set_index("stem")
        assert len(combined) == len(reference) == len(truth)
        assert reference["logit"].std() > 1e-4  # 100x the tolerance below: a row mix-up would be caught
        np.testing.assert_allclose(combined.loc[reference.index, "logit"], reference["logit"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(combined.loc[reference.index, "prob"], reference["prob"], rtol=0, atol=1e-6)
    # d4 and flips views give different member logits (the TTA option reaches predict)
    flips = load_predictions(tmp_path / "score" / "a_tiny" / "probs.csv").set_index("stem")["logit"]
    d4 = load_predictions(tmp_path / "score" / "a_tiny_d4" / "probs.csv").set_index("stem")["logit"]
    assert not np.allclose(flips, d4.loc[flips.index], rtol=0, atol=1e-6)
