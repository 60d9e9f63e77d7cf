"""The multi-task Lightning task: targets from the store index, -999 masked, D4 acting on targets with the images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.data.transforms import D4_SIZE
from brahmasifier.io.store import write_store
from brahmasifier.models import ModelCard
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
    with pytest.raises(ValueError, match="aug_flux and aug_shift"):
        TrainConfig(targets="default", aug_shift=0.5)
