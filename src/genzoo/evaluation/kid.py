"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs"), on any features.

The unbiased estimator of the squared maximum mean discrepancy with the cubic polynomial kernel
``k(x, y) = (x . y / D + 1)^3``, averaged over random subsets; its spread over the subsets is
reported as the standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["KIDResult", "polynomial_kernel", "mmd2_unbiased", "kid"]


@dataclass(frozen=True)
class KIDResult:
    """Mean and standard deviation of the subset MMD^2 estimates."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def polynomial_kernel(x: Tensor, y: Tensor, degree: int = 3, coef0: float = 1.0) -> Tensor:
    """``(x y^T / D + coef0)^degree`` for ``x`` ``(N, D)``, ``y`` ``(M, D)``; ``(N, M)``."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: Tensor, y: Tensor, degree: int = 3) -> Tensor:
    """Unbiased MMD^2 between samples ``x`` ``(m, D)`` and ``y`` ``(n, D)`` (scalar tensor).

    Diagonal terms ``k(x_i, x_i)`` are left out of the within-set sums, which makes the
    estimate unbiased (it can be negative when the distributions are equal).
    """
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError("mmd2_unbiased needs at least two samples in each set")
    k_xx = polynomial_kernel(x, x, degree)
    k_yy = polynomial_kernel(y, y, degree)
    k_xy = polynomial_kernel(x, y, degree)
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2 * k_xy.sum() / (m * n)


def kid(
    x: Tensor,
    y: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    generator: torch.Generator | None = None,
) -> KIDResult:
    """KID between features ``x`` ``(N, D)`` and ``y`` ``(M, D)``, in float64.

    Each of ``subsets`` estimates uses ``min(subset_size, N, M)`` rows drawn without
    replacement from each set (with ``generator``, a CPU generator, for reproducibility).
    """
    x, y = x.double(), y.double()
    size = min(subset_size, x.shape[0], y.shape[0])
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    values = []
    for _ in range(subsets):
        ix = torch.randperm(x.shape[0], generator=generator)[:size].to(x.device)
        iy = torch.randperm(y.shape[0], generator=generator)[:size].to(y.device)
        values.append(mmd2_unbiased(x[ix], y[iy]))
    v = torch.stack(values)
    std = float(v.std()) if subsets > 1 else 0.0
    return KIDResult(float(v.mean()), std, subsets, size)
