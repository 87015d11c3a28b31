"""Frechet distance between Gaussians fitted to two feature sets (the "FID" of Heusel et al. 2017).

The features here come from genzoo's own MNIST classifier (``genzoo.evaluation.classifier``),
not Inception, so the numbers are not comparable with published Inception FIDs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.evaluation.linalg import trace_sqrt_product

__all__ = ["GaussianStats", "feature_stats", "frechet_distance", "fid_from_features"]


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``mu`` ``(D,)`` and covariance ``sigma`` ``(D, D)`` (float64) of ``n`` features."""

    mu: Tensor
    sigma: Tensor
    n: int


def feature_stats(features: Tensor) -> GaussianStats:
    """Mean and unbiased covariance of ``features`` ``(N, D)``, computed in float64."""
    f = features.double()
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features of shape (N >= 2, D), got {tuple(features.shape)}")
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    return GaussianStats(mu, sigma, f.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^{1/2})``, in float64.

    Clamped at zero: round-off can make the distance of a set with itself a tiny negative.
    """
    mu_a, mu_b = a.mu.double(), b.mu.double()
    s_a, s_b = a.sigma.double(), b.sigma.double()
    diff = mu_a - mu_b
    value = diff @ diff + torch.trace(s_a) + torch.trace(s_b) - 2 * trace_sqrt_product(s_a, s_b)
    return max(float(value), 0.0)


def fid_from_features(x: Tensor, y: Tensor) -> float:
    """Frechet distance between features ``x`` ``(N, D)`` and ``y`` ``(M, D)``."""
    return frechet_distance(feature_stats(x), feature_stats(y))
