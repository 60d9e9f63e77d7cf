"""Masked heteroscedastic Gaussian NLL: masking (zero gradient, NaN-proof), agreement with torch, β-NLL."""

from __future__ import annotations

import torch

from brahmasifier.training.losses import gaussian_nll, multitask_loss


def _inputs(seed: int = 0, n: int = 6, d: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(n, d, generator=g).requires_grad_()
    log_var = (0.3 * torch.randn(n, d, generator=g)).requires_grad_()
    target = torch.randn(n, d, generator=g)
    return mean, log_var, target


def test_all_valid_equals_torch_gaussian_nll_loss() -> None:
    mean, log_var, target = _inputs()
    mask = torch.ones_like(target, dtype=torch.bool)
    ours = gaussian_nll(mean, log_var, target, mask)
    reference = torch.nn.functional.gaussian_nll_loss(mean, target, log_var.exp(), full=False, reduction="mean")
    torch.testing.assert_close(ours, reference)


def test_masked_targets_never_enter_the_loss_or_the_gradient() -> None:
    mean, log_var, target = _inputs()
    mask = torch.ones_like(target, dtype=torch.bool)
    mask[0, 1] = mask[3, 2] = mask[5, 0] = False
    bad = target.clone()
    bad[0, 1], bad[3, 2], bad[5, 0] = -999.0, float("nan"), float("inf")
    loss = gaussian_nll(mean, log_var, bad, mask)
    assert torch.isfinite(loss)
    loss.backward()
    assert mean.grad is not None and log_var.grad is not None
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_var.grad).all()
    for grad in (mean.grad, log_var.grad):
        assert torch.all(grad[~mask] == 0.0)
        assert torch.all(grad[mask] != 0.0)
    # the loss does not depend on what a masked entry holds
    other = target.clone()
    other[~mask] = 123.0
    torch.testing.assert_close(gaussian_nll(mean, log_var, other, mask), loss)


def test_per_dimension_average_and_fully_masked_dimensions() -> None:
    mean, log_var, target = _inputs(n=4, d=2)
    mask = torch.tensor([[True, False], [True, False], [True, False], [True, True]])
    per_entry = 0.5 * (log_var + (target - mean) ** 2 / log_var.exp())
    expected = (per_entry[:, 0].mean() + per_entry[3, 1]) / 2  # each dimension weighs the same
    torch.testing.assert_close(gaussian_nll(mean, log_var, target, mask), expected)
    none = gaussian_nll(mean, log_var, target, torch.zeros_like(mask))
    assert float(none.detach()) == 0.0
    none.backward()
    assert mean.grad is not None and log_var.grad is not None
    assert torch.all(mean.grad == 0) and torch.all(log_var.grad == 0)


def test_beta_nll_gradient_on_the_mean() -> None:
    mean, log_var, target = _inputs(n=3, d=1)
    mask = torch.ones_like(target, dtype=torch.bool)
    gaussian_nll(mean, log_var, target, mask, beta=1.0).backward()
    # β = 1: d/dμ of σ² · ½(y − μ)²/σ² averaged over 3 rows is (μ − y)/3, independent of σ
    torch.testing.assert_close(mean.grad, (mean.detach() - target) / 3)
    mean.grad = None
    gaussian_nll(mean, log_var, target, mask, beta=0.0).backward()
    torch.testing.assert_close(mean.grad, (mean.detach() - target) / log_var.detach().exp() / 3)


def test_multitask_loss_ignores_unknown_labels() -> None:
    mean, log_var, target = _inputs(n=4, d=2)
    mask = torch.ones_like(target, dtype=torch.bool)
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0], requires_grad=True)
    labels = torch.tensor([1.0, 0.0, -1.0, 1.0])
    total, parts = multitask_loss(logits, labels, mean, log_var, target, mask, weight=0.5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[[0, 1, 3]], labels[[0, 1, 3]])
    torch.testing.assert_close(parts["bce"], bce.detach())
    torch.testing.assert_close(total, bce + 0.5 * gaussian_nll(mean, log_var, target, mask))
    total.backward()
    assert logits.grad is not None and logits.grad[2] == 0.0
