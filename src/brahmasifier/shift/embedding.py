"""The network's embedding and its distribution: the per-object out-of-distribution score.

The embedding is the classifier's pooled backbone feature vector (the penultimate layer, the
input of its final linear layer: :meth:`brahmasifier.models.classifier.LensClassifier.features_prepared`).
:class:`EmbeddingDensity` models its distribution on the validation split as a Gaussian with a
Ledoit–Wolf shrunk covariance, stored compactly as probabilistic PCA: the mean, the
:data:`N_COMPONENTS` leading eigenvectors and eigenvalues, and one residual variance (the mean
of the other eigenvalues). The per-object OOD score is the Mahalanobis distance under that
model, ``√(Σ_k (v_k·d)²/λ_k + (|d|² − Σ_k (v_k·d)²)/σ²_res)``; the card also keeps the score's
quantiles on held-out validation objects (half fits, the other half scores), so "beyond the
training 99th percentile" is an honest tail.

Why PPCA and not the full covariance: a 128-wide embedding's full covariance is 8,256 numbers
(~90 kB of JSON per card); 16 components keep the card at ~25 kB, and the separation the
score gives is what ``experiments/data_shift.py`` measures (docs/data-shift.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["N_COMPONENTS", "EmbeddingDensity", "embed", "embedding_layer", "has_embedding"]

#: Principal components kept of the embedding's covariance.
N_COMPONENTS: int = 16


def _classifier(model: nn.Module) -> Any:
    return getattr(model, "classifier", model)  # a multi-task model's classifier, or the classifier itself


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Pooled backbone features ``(B, F)`` of raw ``images`` ``(B, 5, H, W)`` (the model in eval mode)."""
    net = _classifier(model)
    return net.features_prepared(net.prepare(images)).float()


def has_embedding(model: nn.Module) -> bool:
    """Whether the model exposes the pooled-feature interface (timm's, and our compact net's; not ``plain_cnn``)."""
    backbone = getattr(_classifier(model), "backbone", None)
    return all(hasattr(backbone, name) for name in ("forward_features", "forward_head", "get_classifier"))


def embedding_layer(model: nn.Module) -> nn.Module:
    """The layer whose *input* is the embedding (the backbone's classifier), for a forward hook."""
    return _classifier(model).backbone.get_classifier()


@dataclass
class EmbeddingDensity:
    """PPCA form of a Ledoit–Wolf Gaussian of the embedding (see module docstring)."""

    mean: np.ndarray  # (F,)
    components: np.ndarray  # (K, F), orthonormal rows
    variances: np.ndarray  # (K,)
    residual_variance: float
    shrinkage: float
    n_fit: int
    distance_quantiles: list[float]  # at QUANTILE_LEVELS, on held-out validation objects

    @classmethod
    def fit(cls, features: np.ndarray, rng: np.random.Generator, n_components: int = N_COMPONENTS) -> EmbeddingDensity:
        """Fit on one random half of ``features`` ``(N, F)``; the distance quantiles on the other half."""
        from sklearn.covariance import LedoitWolf

        from brahmasifier.shift.stats import QUANTILE_LEVELS

        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or len(x) < 4:
            raise ValueError(f"need at least 4 embeddings (N, F) to fit, got {x.shape}")
        order = rng.permutation(len(x))
        fit_rows, held = order[: len(x) // 2], order[len(x) // 2:]
        lw = LedoitWolf().fit(x[fit_rows])
        values, vectors = np.linalg.eigh(lw.covariance_)
        values, vectors = values[::-1], vectors[:, ::-1]
        k = min(n_components, x.shape[1] - 1)
        residual = float(values[k:].mean()) if values[k:].size else float(values[-1])
        model = cls(mean=lw.location_, components=vectors[:, :k].T.copy(), variances=values[:k].copy(),
                    residual_variance=max(residual, 1e-12), shrinkage=float(lw.shrinkage_), n_fit=len(fit_rows),
                    distance_quantiles=[])
        model.distance_quantiles = [float(q) for q in np.quantile(model.distance(x[held]), QUANTILE_LEVELS)]
        return model

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance ``(N,)`` of each embedding row."""
        d = np.asarray(features, dtype=np.float64) - self.mean
        proj = d @ self.components.T
        rest = np.clip((d**2).sum(axis=1) - (proj**2).sum(axis=1), 0.0, None)
        return np.sqrt((proj**2 / self.variances).sum(axis=1) + rest / self.residual_variance)

    def tail_fraction(self, distances: np.ndarray, level: float = 0.99) -> float:
        """Fraction of ``distances`` beyond the held-out validation quantile at ``level``."""
        from brahmasifier.shift.stats import QUANTILE_LEVELS

        limit = float(np.interp(level, QUANTILE_LEVELS, self.distance_quantiles))
        d = np.asarray(distances)
        return float((d > limit).mean()) if d.size else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (6 significant digits)."""
        def r(a: np.ndarray) -> Any:
            return np.vectorize(lambda v: float(f"{v:.6g}"), otypes=[float])(a).tolist()
        return {"layer": "pooled backbone features (input of the final linear layer)", "model": "ppca_ledoit_wolf",
                "dim": int(self.mean.size), "mean": r(self.mean), "components": r(self.components),
                "variances": r(self.variances), "residual_variance": float(f"{self.residual_variance:.6g}"),
                "shrinkage": round(self.shrinkage, 6), "n_fit": self.n_fit,
                "distance_quantiles": [float(f"{q:.6g}") for q in self.distance_quantiles]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingDensity:
        """Inverse of :meth:`to_dict`."""
        return cls(mean=np.asarray(data["mean"], dtype=np.float64),
                   components=np.asarray(data["components"], dtype=np.float64).reshape(-1, int(data["dim"])),
                   variances=np.asarray(data["variances"], dtype=np.float64),
                   residual_variance=float(data["residual_variance"]), shrinkage=float(data["shrinkage"]),
                   n_fit=int(data["n_fit"]), distance_quantiles=list(map(float, data["distance_quantiles"])))
