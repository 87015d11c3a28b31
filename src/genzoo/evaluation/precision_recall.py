"""Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifold estimates.

Each feature set spans a "manifold": the union of balls around its points, each ball's radius
being the distance to the point's ``k``-th nearest neighbour within its own set. Precision is the
share of generated features inside the real manifold (fidelity); recall is the share of real
features inside the generated manifold (diversity). All distances are computed in chunks, so
memory stays at ``chunk x N`` whatever the set sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PrecisionRecall", "knn_radii", "manifold_coverage", "precision_recall"]


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def _sq_dists(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """Squared Euclidean distances ``(len(a), len(b))``, clamped at zero."""
    a_sq = (a * a).sum(1, keepdim=True)
    return torch.addmm(b_sq.unsqueeze(0), a, b.T, alpha=-2).add_(a_sq).clamp_min_(0)


def knn_radii(x: Tensor, k: int = 3, chunk: int = 2048) -> Tensor:
    """Distance of each row of ``x`` ``(N, D)`` to its ``k``-th nearest other row; ``(N,)``."""
    if not 1 <= k < x.shape[0]:
        raise ValueError(f"k must lie in [1, {x.shape[0] - 1}], got {k}")
    x_sq = (x * x).sum(1)
    out = []
    for start in range(0, x.shape[0], chunk):
        d = _sq_dists(x[start : start + chunk], x, x_sq)
        # the point itself is at distance 0 and is the smallest: take the (k+1)-th smallest
        # (topk is several times faster than kthvalue on CPU)
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out).sqrt()


def manifold_coverage(queries: Tensor, support: Tensor, radii: Tensor, chunk: int = 2048) -> Tensor:
    """For each query ``(Q, D)``: is it within ``radii[j]`` of some ``support[j]`` ``(S, D)``?

    Returns a ``(Q,)`` bool tensor.
    """
    s_sq = (support * support).sum(1)
    r_sq = radii.to(support.dtype) ** 2
    out = []
    for start in range(0, queries.shape[0], chunk):
        d = _sq_dists(queries[start : start + chunk], support, s_sq)
        out.append((d <= r_sq).any(dim=1))
    return torch.cat(out)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, chunk: int = 2048) -> PrecisionRecall:
    """Precision and recall of ``fake`` ``(M, D)`` against ``real`` ``(N, D)`` features."""
    real_radii = knn_radii(real, k, chunk)
    fake_radii = knn_radii(fake, k, chunk)
    precision = manifold_coverage(fake, real, real_radii, chunk).double().mean()
    recall = manifold_coverage(real, fake, fake_radii, chunk).double().mean()
    return PrecisionRecall(float(precision), float(recall), k)
