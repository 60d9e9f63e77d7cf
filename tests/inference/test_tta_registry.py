"""A TTA view set is one registration in one file: this file registers ``toy_rot4`` and predicts with it.

Registration goes through the public API only (``register_tta_view``). The CLI builds its
``--tta`` choices when it is first imported, as a plugin's registration must come first: the
CLI run is this file run as a script (``python test_tta_registry.py predict ...``), which
registers the view set, then calls ``brahmasifier.cli.main``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.inference.tta_views import TTA_ELEMENTS, register_tta_view

TOY_VIEWS = register_tta_view("toy_rot4", (0, 1, 2, 3), "the four quarter turns (a test's view set)")


def test_a_registered_view_set_is_a_setting_and_a_model_wrapper(two_models: list[Path]) -> None:
    import torch

    from brahmasifier.d4 import d4_apply
    from brahmasifier.inference.config import PredictConfig
    from brahmasifier.inference.tta import TTA_VIEWS, TTAModel
    from brahmasifier.models import load_model

    assert TOY_VIEWS == (0, 1, 2, 3) and "toy_rot4" in TTA_ELEMENTS and len(TTA_VIEWS["toy_rot4"]) == 4
    assert PredictConfig(tta="toy_rot4").tta == "toy_rot4"
    model, _ = load_model(two_models[0])
    x = torch.randn(3, 5, 41, 41) * 10 + 20
    with torch.no_grad():
        expected = torch.stack([model(d4_apply(x, e)) for e in range(4)]).mean(dim=0)
        torch.testing.assert_close(TTAModel(model, "toy_rot4")(x), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="already registered"):
        register_tta_view("toy_rot4", (0, 2))
    with pytest.raises(ValueError, match="distinct D4 elements"):
        register_tta_view("toy_bad", (0, 8))


def test_predict_tta_uses_a_registered_view_set(two_models: list[Path], tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                                tmp_path: Path) -> None:
    import torch

    from brahmasifier.d4 import d4_apply
    from brahmasifier.io.reader import read_object
    from brahmasifier.io.scan import scan_fits_tree
    from brahmasifier.models import load_model
    from brahmasifier.survey.checks import pixel_checks

    root, truth = tiny_challenge_tree
    sub, probs = tmp_path / "submission.csv", tmp_path / "probs.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, "predict", "--model", str(two_models[0]), "--data", str(root),
                           "--out", str(sub), "--probs", str(probs), "--tta", "toy_rot4", "--onnx", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(probs, dtype={"id": str}).set_index("stem")
    assert len(table) == len(truth)

    model, _ = load_model(two_models[0])
    objects = scan_fits_tree([root]).objects
    records = [read_object(o) for o in objects]  # as predict scores them: after its checks and band repair
    x = torch.from_numpy(pixel_checks(np.stack([r.image for r in records]), np.array([r.n_nan for r in records]),
                                      register=True)[0])
    with torch.no_grad():
        rot4 = torch.stack([model(d4_apply(x, e)) for e in range(4)]).mean(dim=0).numpy()
        plain = model(x).numpy()
    logits = table.loc[[o.stem for o in objects], "logit"].to_numpy()
    np.testing.assert_allclose(logits, rot4, rtol=1e-4, atol=1e-4)  # the four rotations, averaged
    assert np.abs(logits - plain).max() > 1e-3  # and not the image alone


if __name__ == "__main__":  # the CLI with this file's view set registered (see module docstring)
    from brahmasifier.cli import main

    raise SystemExit(main(sys.argv[1:]))
