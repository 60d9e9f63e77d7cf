"""experiments/survey_trace_angles.py: angle errors with and without the traces, and the white-noise reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tests.experiment_scripts import load_script
from tests.survey.tiny import structured_object

from brahmasifier.bands import BANDS
from brahmasifier.io.store import write_store
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def test_the_traces_cut_the_repaired_objects_angle_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 6
    applied = rng.uniform(0.0, 360.0, (n, 1)) + rng.uniform(-30.0, 30.0, (n, 5))
    images = np.stack([rotate_bands(structured_object(rng), a) for a in applied]).astype(np.float32)
    images[:, :, footprint_outside(41)] = 0.0
    ids = [f"o{i}" for i in range(n)]
    index = pd.DataFrame({"id": ids, "stem": ids, "label": 1, "domain": "slsim", "n_nan": 0,
                          **{f"pert_angle_{b}": applied[:, j] for j, b in enumerate(BANDS)}})
    store = write_store(tmp_path / "store", images, index).path
    before, after = load_script("survey_trace_angles").angle_errors(str(store))
    assert before["repaired"] == after["repaired"] > 0.5  # the flags do not change
    assert after["median"] < before["median"] and after["median"] < 1.0


def test_white_noise_turned_bilinearly_is_read() -> None:
    module = load_script("survey_trace_angles")
    assert module.noise_reads(30, 1, np.random.default_rng(1)) > 0.9
    assert module.noise_reads(30, 0, np.random.default_rng(1)) < 0.5  # nearest neighbour: no moiré in the variance
