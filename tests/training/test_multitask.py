"""The multi-task Lightning task: targets from the store index, -999 masked, D4 and the survey moves acting on targets."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.cli import main
from brahmasifier.data.augment import AugmentGeometry
from brahmasifier.data.transforms import D4_SIZE
from brahmasifier.io.store import write_store
from brahmasifier.models import ModelCard, load_model
from brahmasifier.models.regression import regression_card_entry
from brahmasifier.models.targets import select_targets
from brahmasifier.training.config import TrainConfig
from brahmasifier.training.multitask import LensMultiTaskTask

from .helpers import TINY_MODEL, blob


def _store(path: Path) -> object:
    rng = np.random.default_rng(0)
    labels = np.array([1, 0] * 6)
    images = np.stack([blob(rng, bool(lab)) for lab in labels])
    n = len(labels)
    index = pd.DataFrame({"id": [f"o{k}" for k in range(n)], "stem": [f"s{k}" for k in range(n)], "label": labels,
                          "domain": "slsim", "n_nan": 0,
                          "Rein": np.where(labels == 1, rng.uniform(0.5, 2.0, n), -999.0),
                          "ell_l": rng.uniform(0.5, 0.9, n), "ell_l_PA": rng.uniform(0, 180, n),
                          "srcx": rng.normal(0, 0.3, n), "srcy": rng.normal(0, 0.3, n)})
    index.loc[0, "Rein"] = -999.0  # a lens whose θ_E is unknown
    return write_store(path, images, index)


def _task(store: object) -> LensMultiTaskTask:
    card = ModelCard(architecture="compact", model_kwargs=TINY_MODEL,
                     regression=regression_card_entry(select_targets("Rein,ell_l,srcx"), hidden=8))
    task = LensMultiTaskTask(card.to_dict(), regression_weight=1.0, regression_beta=0.5, augment=True)
    rows = np.arange(len(store.index))  # type: ignore[attr-defined]
    task._trainer = SimpleNamespace(datamodule=SimpleNamespace(store=store, train_rows=rows))  # type: ignore[assignment]
    task.setup("fit")
    task._trainer = None
    return task


def test_targets_come_from_the_index_and_missing_values_are_masked(tmp_path: Path) -> None:
    store = _store(tmp_path / "s")
    task = _task(store)
    assert task.spec is not None and task.spec.n_fit[0] == 5  # 6 lenses, one -999
    batch = {"index": torch.arange(12)}
    target, mask = task._batch_targets(batch, None)
    assert not mask[0, 0] and mask[2, 0] and not mask[1].any()  # -999 and the non-lens rows are masked
    expected = (np.log(store.index["Rein"].to_numpy()[2]) - task.spec.location[0]) / task.spec.scale[0]  # type: ignore[attr-defined]
    assert target[2, 0].item() == pytest.approx(expected, rel=1e-5)
    # a masked entry takes no part in the loss: changing what the model predicts there changes nothing
    from brahmasifier.training.losses import gaussian_nll

    mean, log_var = torch.zeros_like(target, requires_grad=True), torch.zeros_like(target)
    loss = gaussian_nll(mean, log_var, target, mask)
    loss.backward()
    assert mean.grad is not None and mean.grad[0, 0] == 0 and mean.grad[1].abs().sum() == 0 and mean.grad[2, 0] != 0


def test_d4_acts_on_the_targets_as_on_the_images(tmp_path: Path) -> None:
    task = _task(_store(tmp_path / "s"))
    assert task.spec is not None
    batch = {"index": torch.arange(12).repeat(D4_SIZE // 4)[:D4_SIZE]}
    elements = torch.arange(D4_SIZE)
    plain, _ = task._batch_targets(batch, None)
    moved, _ = task._batch_targets(batch, elements)
    for k, e in enumerate(elements.tolist()):
        expected = task.spec.d4_apply_targets(plain[k : k + 1].numpy().astype(np.float64), e)
        assert np.allclose(moved[k : k + 1].numpy(), expected, atol=1e-6), e
    assert not torch.allclose(moved, plain)


def test_config_rejects_unknown_targets() -> None:
    with pytest.raises(ValueError, match="unknown regression target"):
        TrainConfig(targets="Rein,theta")
    assert TrainConfig(targets="Rein,ell_l_PA", aug_seeing=0.3).targets == "Rein,ell_l_PA"
    with pytest.raises(ValueError, match="aug_flux changes the magnitudes"):
        TrainConfig(targets="default", aug_flux=0.5)
    config = TrainConfig(targets="default", aug_shift=2.0, aug_rotate=180.0, aug_misregister=10.0)  # moves follow the targets
    assert (config.aug_shift, config.aug_rotate) == (2.0, 180.0)


def test_survey_moves_act_on_the_targets_after_d4(tmp_path: Path) -> None:
    task = _task(_store(tmp_path / "s"))
    assert task.spec is not None
    batch = {"index": torch.arange(12)}
    elements = torch.arange(12) % D4_SIZE
    shift = torch.linspace(-2, 2, 24, dtype=torch.float64).reshape(12, 2)
    turn = torch.linspace(-180, 180, 12, dtype=torch.float64)
    d4_only, mask = task._batch_targets(batch, elements)
    moved, moved_mask = task._batch_targets(batch, elements, AugmentGeometry(shift, turn))
    expected = task.spec.move_targets(d4_only.numpy().astype(np.float64), shift.numpy(), turn.numpy(), 0.2)
    assert torch.equal(mask, moved_mask)
    assert np.allclose(moved.numpy(), np.where(mask.numpy(), expected, 0.0), atol=1e-5)
    assert moved[:, 0].tolist() == d4_only[:, 0].tolist()  # θ_E (a scalar) does not move
    assert not torch.allclose(moved[mask], d4_only[mask])  # srcx and ell_l do
    unmoved = AugmentGeometry(torch.zeros(12, 2, dtype=torch.float64), torch.zeros(12, dtype=torch.float64))
    assert torch.equal(task._batch_targets(batch, elements, unmoved)[0], d4_only)


def test_train_cli_with_targets_and_the_shift_rotate_recipe(tmp_path: Path) -> None:
    """The refusal is lifted: ``--targets`` with ``--aug-shift``/``--aug-rotate`` trains; ``--aug-flux`` is refused."""
    _store(tmp_path / "store")  # truth for Rein, ell_l and srcx in the index
    run = tmp_path / "run"
    common = ["train", "--data", str(tmp_path / "store"), "--targets", "Rein,srcx,ell_l", "--epochs", "1", "--batch-size", "4",
              "--model-kwargs", '{"widths": [8, 16], "depths": [0, 1]}', "--regression-hidden", "8",
              "--val-fraction", "0.34", "--threads", "1", "--no-progress"]
    assert main([*common, "--out", str(run), "--aug-shift", "2", "--aug-rotate", "180", "--aug-probability", "1"]) == 0
    _, card = load_model(run)
    spec = card.target_set()
    assert spec is not None and [t.name for t in spec.targets] == ["Rein", "ell_l", "srcx"]
    assert main([*common, "--out", str(tmp_path / "flux"), "--aug-flux", "0.5"]) == 2
