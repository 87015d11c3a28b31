"""Matrix square roots of symmetric positive semi-definite matrices, numpy/torch only."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sqrtm_psd", "trace_sqrt_product"]


def _symmetric(a: Tensor) -> Tensor:
    return 0.5 * (a + a.transpose(-1, -2))


def sqrtm_psd(a: Tensor) -> Tensor:
    """The principal square root of a symmetric PSD matrix ``a`` ``(D, D)``.

    Symmetric eigendecomposition ``a = V diag(w) V^T`` with round-off negatives in ``w``
    clamped to zero, so the result is real and symmetric PSD even for singular covariances.
    Compute in float64 for covariance matrices.
    """
    w, v = torch.linalg.eigh(_symmetric(a))
    return (v * w.clamp_min(0).sqrt()) @ v.transpose(-1, -2)


def trace_sqrt_product(a: Tensor, b: Tensor) -> Tensor:
    """``tr((a b)^{1/2})`` for symmetric PSD ``a``, ``b`` ``(D, D)``; a scalar tensor.

    ``a b`` is similar to the symmetric PSD matrix ``a^{1/2} b a^{1/2}``, so its square root's
    trace is the sum of the square roots of that matrix's (clamped) eigenvalues. Unlike a
    general ``sqrtm(a @ b)``, this never produces complex parts from round-off.
    """
    root = sqrtm_psd(a)
    w = torch.linalg.eigvalsh(_symmetric(root @ b @ root))
    return w.clamp_min(0).sqrt().sum()
