"""experiments/augmentation_and_injection.py --quick on tiny stand-ins (our engine plays SLSim here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from brahmasifier.simulation import simulate_dataset

SCRIPT = Path(__file__).parents[2] / "experiments" / "augmentation_and_injection.py"


def test_quick_mode_trains_each_kind_of_data_and_scores_the_test_set(tmp_path: Path) -> None:
    test_set, slsim_train = tmp_path / "test_set", tmp_path / "slsim_train"
    simulate_dataset(test_set, 8, seed=31, domains="slsim", layout="test", workers=1, progress=False, preview=False)
    simulate_dataset(slsim_train, 40, seed=32, domains="slsim", workers=1, progress=False, preview=False)
    spec = importlib.util.spec_from_file_location("augmentation_and_injection", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    argv = ["--quick", "--out", str(out), "--test-set", str(test_set), "--slsim-train", str(slsim_train), "--workers", "1",
            "--runs", "ours", "inject", "slsim", "ours+noise"]
    results = module.main(argv)
    assert [r["run"] for r in results] == ["ours", "inject", "slsim", "ours+noise"]
    for r in results:
        assert r["n_test"] == 16 and 0.0 <= r["auc"] <= 1.0 and r["auc_ci68"] is not None
    assert results[3]["settings"]["aug_noise"] == 0.5 and "aug_noise" not in results[0]["settings"]
    assert results[2]["n_train"] < 64  # the 80-object stand-in was cut to a 64-object subset (minus validation)
    assert json.loads((out / "results.json").read_text()) == results and "| ours+noise |" in (out / "results.md").read_text()
    again = module.main(argv)  # everything kept: a rerun only re-reads the results
    assert again == results
    with pytest.raises(SystemExit):
        module.main(["--runs", "nonsense"])
