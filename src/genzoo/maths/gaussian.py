"""Diagonal Gaussian log-densities and the closed-form KL to the standard normal, in nats.

Every function reduces over the last dimension (the event dimension ``D``) and keeps the
leading ones, so ``(k, B, D)`` importance samples give ``(k, B)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LOG_2PI", "standard_normal_log_prob", "gaussian_log_prob", "gaussian_kl"]

LOG_2PI = math.log(2 * math.pi)  # 1.8378770664093453


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z | 0, I)`` summed over the last dim: ``(..., D) -> (...)``, in at least fp32.

    ``= -(sum_i z_i^2 + D log 2 pi) / 2``; half-precision inputs (autocast) are upcast first.
    """
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()
    return -0.5 * (z.pow(2).sum(dim=-1) + z.shape[-1] * LOG_2PI)


def gaussian_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """``log N(z | mu, diag exp(logvar))`` summed over the last dim; ``(..., D) -> (...)``.

    Arguments broadcast against each other (e.g. ``z`` ``(k, B, D)``, ``mu`` ``(B, D)``).
    """
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * (-logvar).exp()).sum(dim=-1)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` in closed form; ``(..., D) -> (...)``.

    ``= sum(exp(logvar) + mu^2 - 1 - logvar) / 2`` (Kingma & Welling 2014, appendix B).
    """
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=-1)
