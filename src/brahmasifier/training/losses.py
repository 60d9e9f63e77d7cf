"""Masked heteroscedastic Gaussian negative log-likelihood (optionally β-NLL) and the multi-task loss.

``gaussian_nll(mean, log_var, target, mask)`` is, per entry,
``½ (log σ² + (y − μ)² / σ²)`` (the constant ½ log 2π dropped), averaged first over the
valid entries of each learned dimension and then over the dimensions that have any
valid entry in the batch — so a parameter's weight does not depend on how many rows of
the batch carry it (lens parameters vs. non-lens ones).

Masking is by selection, not by multiplication: masked targets (-999, NaN, the other
group's rows) are replaced by the prediction before any arithmetic, so their gradient is
exactly zero and a NaN target can never turn the loss or the gradients into NaN (NaN × 0 is NaN).

β-NLL (Seitzer et al. 2022, "On the pitfalls of heteroscedastic uncertainty estimation"):
each entry is weighted by ``stop_gradient(σ²)^β``. β = 0 is the plain NLL; β = 0.5 stops
high-variance points from slowing down the fit of their means (the NLL's gradient on μ is
scaled by 1/σ²); β = 1 gives the mean the MSE gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["gaussian_nll", "multitask_loss"]


def gaussian_nll(
    mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, beta: float = 0.0
) -> torch.Tensor:
    """Masked (β-)Gaussian NLL, a scalar (0 with zero gradient when nothing is valid).

    Args:
        mean: predicted means ``(B, D)``.
        log_var: predicted log-variances ``(B, D)``.
        target: standardised targets ``(B, D)``; masked entries may hold anything (-999, NaN).
        mask: ``(B, D)`` bool, True where the target is valid.
        beta: β of β-NLL (0: plain NLL).
    """
    if not mean.shape == log_var.shape == target.shape == mask.shape:
        raise ValueError(f"gaussian_nll: shapes differ: {mean.shape}, {log_var.shape}, {target.shape}, {mask.shape}")
    mask = mask.bool()
    safe_target = torch.where(mask, target, mean.detach())
    safe_log_var = torch.where(mask, log_var, torch.zeros_like(log_var))
    inv_var = torch.exp(-safe_log_var)
    per_entry = 0.5 * (safe_log_var + (safe_target - mean) ** 2 * inv_var)
    if beta:
        per_entry = per_entry * torch.exp(beta * safe_log_var.detach())
    per_entry = torch.where(mask, per_entry, torch.zeros_like(per_entry))
    counts = mask.sum(dim=0)
    present = counts > 0
    if not bool(present.any()):
        return (mean.sum() + log_var.sum()) * 0.0
    per_dim = per_entry.sum(dim=0) / counts.clamp(min=1)
    return per_dim[present].mean()


def multitask_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mean: torch.Tensor,
    log_var: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: float = 1.0,
    beta: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """BCE-with-logits on the lens label + ``weight`` × masked NLL; returns (total, parts).

    Rows with an unknown label (-1) take no part in the BCE (their targets are masked by the
    spec already).
    """
    known = labels >= 0
    bce = F.binary_cross_entropy_with_logits(logits[known], labels[known].float()) if bool(known.any()) else logits.sum() * 0.0
    nll = gaussian_nll(mean, log_var, target, mask, beta=beta)
    return bce + weight * nll, {"bce": bce.detach(), "nll": nll.detach()}
