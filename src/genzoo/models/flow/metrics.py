"""Pure functions from log-likelihoods to reported numbers."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["bits_per_dim", "standard_normal_log_prob", "log_mean_exp"]

_LOG_2PI = math.log(2 * math.pi)


def bits_per_dim(log_prob: Tensor, dims: int) -> Tensor:
    """``-log p(x) / (D ln 2)``, elementwise; ``log_prob`` in nats, any shape.

    For genzoo's flows ``log_prob`` already includes every preprocessing log-det, among them
    the ``-D log 256`` of dequantisation, so this is bits per dimension of 8-bit data.
    """
    return -log_prob / (dims * math.log(2.0))


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z | 0, I)`` summed over all but the batch dim: ``(B, ...) -> (B,)``, fp32 or more."""
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * (flat.pow(2).sum(1) + flat.shape[1] * _LOG_2PI)


def log_mean_exp(x: Tensor, dim: int = 0) -> Tensor:
    """``log(mean(exp(x)))`` along ``dim``, computed stably with ``logsumexp``."""
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])
