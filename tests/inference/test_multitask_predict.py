"""Multi-task models in prediction: TTA un-transforms the views, the ensemble rule combines members, parts decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.inference.ensemble import ensemble_targets, load_models
from brahmasifier.inference.lightning import EnsembleModule
from brahmasifier.inference.parameters import decode_table as decode_parts
from brahmasifier.inference.parameters import parameter_columns, submission_parameters
from brahmasifier.inference.tta import TTAModel
from brahmasifier.models import ModelCard, save_model
from brahmasifier.models.regression import build_network, regression_card_entry
from brahmasifier.models.target_decode import decode_predictive, predictive
from brahmasifier.models.targets import select_targets


def _multitask_model(folder: Path, seed: int, location: float) -> Path:
    spec = select_targets("Rein,ell_l,srcx,z_central")
    spec = type(spec)(spec.targets, spec.conventions, location=np.full(spec.n_dims, location),
                      scale=np.full(spec.n_dims, 0.5 + seed), sigma_scale=np.full(spec.n_dims, 1.0 + 0.1 * seed))
    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [0, 1]},
                     regression=regression_card_entry(spec, hidden=8))
    torch.manual_seed(seed)
    model = build_network(card).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.mul_(30.0)  # outputs that differ clearly between objects and views
    return save_model(model, card, folder / "model")


def test_tta_views_are_mapped_back_and_combined(tmp_path: Path) -> None:
    [loaded] = load_models([_multitask_model(tmp_path / "a", 1, 0.0)])
    spec = loaded.targets
    x = torch.randn(3, 5, 41, 41) * 10 + 20
    net = TTAModel(loaded.module, "flips")
    with torch.no_grad():
        logit, mean, var = net.with_parameters(x, spec)
    views = []
    with torch.no_grad():
        for element, view in zip(net.elements, net.views, strict=True):
            lg, mu, lv = loaded.module(view(x))
            views.append((lg.numpy(), spec.d4_apply_targets(mu.numpy().astype(np.float64), element, inverse=True),
                          spec.d4_apply_targets(np.exp(lv.numpy().astype(np.float64)), element, inverse=True, variance=True)))
    means = np.stack([v[1] for v in views])
    assert np.allclose(logit.numpy(), np.mean([v[0] for v in views], axis=0), atol=1e-5)
    assert np.allclose(mean, means.mean(axis=0), atol=1e-5)
    assert np.allclose(var, np.mean([v[2] for v in views], axis=0) + means.var(axis=0), rtol=1e-4, atol=1e-6)


def test_ensemble_of_two_models_is_mean_of_means_and_total_variance(tmp_path: Path) -> None:
    paths = [_multitask_model(tmp_path / "a", 1, 0.0), _multitask_model(tmp_path / "b", 2, 0.3)]
    loaded = load_models(paths)
    module = EnsembleModule(loaded, "none", "32-true", "torch", False, tmp_path / "onnx")
    x = torch.randn(4, 5, 41, 41) * 10 + 20
    _, combined = module.raw_outputs(x)
    assert combined is not None
    members = []
    for m in loaded:
        with torch.no_grad():
            _, mu, lv = m.module(x)
        members.append(predictive(m.targets, mu.numpy().astype(np.float64), np.exp(lv.numpy().astype(np.float64))))
    d = loaded[0].targets.n_dims
    mean, var = combined[:, :d], combined[:, d : 2 * d]
    assert np.allclose(mean, (members[0].mean + members[1].mean) / 2, atol=1e-5)
    spread = ((members[0].mean - members[1].mean) / 2) ** 2
    assert np.allclose(var, (members[0].var + members[1].var) / 2 + spread, rtol=1e-4)
    assert not np.allclose(members[0].mean, members[1].mean)  # the check is not trivial

    # the merge decodes what the parts hold, and each group's columns go to its predicted class
    spec = ensemble_targets(loaded)
    table = pd.DataFrame(combined, columns=parameter_columns(spec))
    decoded = decode_parts(spec, table)
    direct = decode_predictive(spec, type(members[0])(mean, var, combined[:, 2 * d :]))
    assert np.allclose(decoded.values.to_numpy(), direct.values.to_numpy())
    preds = np.array([1, 0, 1, 0])
    filled = submission_parameters(spec, decoded, preds)
    assert np.isfinite(filled["Rein"]).tolist() == [True, False, True, False]
    assert np.isfinite(filled["z_central"]).tolist() == [False, True, False, True]


def test_models_predicting_different_parameters_do_not_combine(tmp_path: Path) -> None:
    a = _multitask_model(tmp_path / "a", 1, 0.0)
    spec = select_targets("Rein")
    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [0, 1]},
                     regression=regression_card_entry(spec, hidden=8))
    b = save_model(build_network(card), card, tmp_path / "b" / "model")
    with pytest.raises(ValueError, match="predict different lens parameters"):
        ensemble_targets(load_models([a, b]))


def test_ensemble_interval_factors_are_the_members_geometric_mean() -> None:
    from brahmasifier.inference.ensemble import LoadedModel

    spec = select_targets("Rein,ell_l")
    lv = 0.6827
    specs = [spec.with_interval_scale({"ell_l": {lv: 2.0}, "ell_l_PA": {lv: 0.5}}),
             spec.with_interval_scale({"ell_l": {lv: 0.5}}), None]
    members = [LoadedModel(f"m{k}", Path("."), torch.nn.Identity(), 0.5, 1.0, "compact", "", s) for k, s in enumerate(specs)]
    assert ensemble_targets(members[:1]).interval_scale == specs[0].interval_scale  # one model: its own
    merged = ensemble_targets(members).interval_scale  # the classification-only member takes no part
    assert merged["ell_l"][lv] == pytest.approx(1.0) and merged["ell_l_PA"][lv] == pytest.approx(0.5**0.5)
