"""Test-time augmentation: score several symmetric views of each cutout and average the logits.

A lens stays a lens under flips and 90° rotations, so averaging a model's logits over such
views removes some of its orientation noise. Named view sets are registered in
:mod:`brahmasifier.inference.tta_views` as elements of D4 (applied by :func:`brahmasifier.d4.d4_apply`,
the one implementation, shared with the training augmentation and the targets' D4 action); built in:

* ``none``  — the image as is;
* ``flips`` — identity, horizontal flip, vertical flip (the reference system's three views);
* ``d4``    — all 8 elements of the dihedral group D4 (4 rotations × optional flip).

Views are averaged in **logit** space (the reference's rule). :class:`TTAModel` runs all views
of a batch in one forward pass (views stacked along the batch axis), which keeps the matrix
products large, and is made of flips and transposes only, so it exports to ONNX as is.

A multi-task model (:class:`~brahmasifier.models.regression.MultiTaskLensModel`) goes through
:meth:`TTAModel.with_parameters`: the same stacked pass, the logits averaged as above and each
view's parameter Gaussians first mapped back to the original image's frame
(``TargetSet.d4_apply_targets(..., inverse=True)``), then combined with the ensemble rule
(:func:`brahmasifier.inference.gaussian_ensemble.combine_gaussians`: the spread of the views'
means adds to the mean variance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from brahmasifier.d4 import d4_apply
from brahmasifier.errors import ConfigError
from brahmasifier.inference.tta_views import TTA_ELEMENTS

__all__ = ["TTA_ELEMENTS", "TTA_VIEWS", "PreparedScorer", "TTAModel", "View", "tta_views"]

View = Callable[[torch.Tensor], torch.Tensor]


@runtime_checkable
class PreparedScorer(Protocol):
    """A model split in a view-invariant ``prepare`` and a per-view ``score_prepared`` (e.g. ``LensClassifier``)."""

    view_invariant_prepare: bool

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Raw images → model input (band selection, normalisation)."""
        ...

    def score_prepared(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared images → logits."""
        ...


def _view(element: int) -> View:
    def view(x: torch.Tensor) -> torch.Tensor:
        return d4_apply(x, element)

    view.__name__ = f"d4_{element}"
    return view


class _Views(Mapping[str, tuple[View, ...]]):
    """The registered view sets (:data:`~brahmasifier.inference.tta_views.TTA_ELEMENTS`) as functions, read live."""

    def __getitem__(self, name: str) -> tuple[View, ...]:
        return tuple(_view(e) for e in TTA_ELEMENTS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(TTA_ELEMENTS)

    def __len__(self) -> int:
        return len(TTA_ELEMENTS)


#: View sets by name; each is a tuple of functions ``(B,C,H,W) -> (B,C,H,W)`` (a view set registered later included).
TTA_VIEWS: Mapping[str, tuple[View, ...]] = _Views()


def tta_views(name: str) -> tuple[View, ...]:
    """The views of TTA mode ``name``; a clear error for an unknown one."""
    try:
        return TTA_VIEWS[name]
    except KeyError:
        raise ConfigError(f"unknown TTA mode {name!r}; expected one of {', '.join(TTA_VIEWS)}") from None


class TTAModel(nn.Module):
    """Wrap a logit model ``(B,C,H,W) -> (B,)`` so it returns the mean logit over TTA views."""

    def __init__(self, model: nn.Module, tta: str = "flips", channels_last: bool = False) -> None:
        super().__init__()
        self.model = model
        self.tta = tta
        self.views = tta_views(tta)
        self.elements = TTA_ELEMENTS[tta]
        self.channels_last = channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    def _stacked(self, x: torch.Tensor) -> Any:
        """The model's output on all views stacked along the batch axis (prepared once where exact)."""
        model = self.model
        score: Callable[[torch.Tensor], Any] = model
        if len(self.views) > 1 and isinstance(model, PreparedScorer) and model.view_invariant_prepare:
            # Normalise once, not once per view (exact: the statistics ignore pixel order).
            x = model.prepare(x)
            score = model.score_prepared
        stacked = self.views[0](x) if len(self.views) == 1 else torch.cat([view(x) for view in self.views], dim=0)
        if self.channels_last:  # after stacking: flips/transposes would otherwise undo the layout
            stacked = stacked.contiguous(memory_format=torch.channels_last)
        return score(stacked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw images ``(B, C, H, W)`` → mean logit over the views ``(B,)``."""
        out = self._stacked(x)
        if isinstance(out, tuple):  # a multi-task model: the logits only (see with_parameters)
            out = out[0]
        return out.reshape(len(self.views), x.shape[0]).mean(dim=0)

    def with_parameters(self, x: torch.Tensor, spec: Any) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """A multi-task model's mean logit ``(B,)`` and its view-combined standardised means and variances ``(B, D)``.

        ``spec`` is the model's :class:`~brahmasifier.models.targets.TargetSet` (its D4 action un-does each view).
        """
        from brahmasifier.inference.gaussian_ensemble import combine_gaussians

        logits, mean, log_var = self._stacked(x)
        n_views, batch = len(self.views), x.shape[0]
        means = mean.float().reshape(n_views, batch, -1).detach().cpu().double().numpy()
        variances = np.exp(log_var.float().reshape(n_views, batch, -1).detach().cpu().double().numpy())
        back_means = [spec.d4_apply_targets(means[v], e, inverse=True) for v, e in enumerate(self.elements)]
        back_vars = [spec.d4_apply_targets(variances[v], e, inverse=True, variance=True) for v, e in enumerate(self.elements)]
        mu, var = combine_gaussians(np.stack(back_means), np.stack(back_vars))
        return logits.float().reshape(n_views, batch).mean(dim=0), mu, var
