"""Log-space reductions and the conversion of nats to bits per dimension."""

from __future__ import annotations

import math
from typing import overload

import torch
from torch import Tensor

__all__ = ["LN2", "log_mean_exp", "bits_per_dim"]

LN2 = math.log(2.0)  # nats per bit


def log_mean_exp(x: Tensor, dim: int = 0) -> Tensor:
    """``log(mean(exp(x)))`` along ``dim``, stably as ``logsumexp(x) - log k``.

    ``x`` ``(..., k, ...)`` -> the same shape without ``dim``. With importance log-weights
    ``(k, B)`` this is the IWAE bound ``IWAE_k`` of each example (Burda et al. 2016); with
    ``k`` dequantisation draws of a flow's log-likelihood it is the importance-weighted
    dequantisation bound.
    """
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


@overload
def bits_per_dim(nll_nats: Tensor, dims: int) -> Tensor: ...
@overload
def bits_per_dim(nll_nats: float, dims: int) -> float: ...
def bits_per_dim(nll_nats: Tensor | float, dims: int) -> Tensor | float:
    """A negative log-likelihood in nats -> bits per dimension: ``nll / (dims ln 2)``.

    Takes an NLL (``-log p(x)``), never a log-probability: pass ``-log_p``. Elementwise, any
    shape (``(B,) -> (B,)``); a float gives a float. For 8-bit data, an NLL of
    ``dims * log 256`` nats (the uniform distribution) is 8 bits/dim.
    """
    return nll_nats / (dims * LN2)
