"""Preprocessing of 8-bit images as transforms with exact log-dets (Dinh et al. 2017, sec. 4.1).

``x`` in {0, ..., 255}  --UniformDequantize-->  ``y = (x + u) / 256`` in [0, 1)
--IntervalSqueeze-->  ``alpha + (1 - 2 alpha) y``  --Logit-->  ``log(p) - log(1 - p)``.

Because each step is a transform whose log-det enters the total, the model's log-likelihood
of the continuous ``x + u`` is ``log p(z) + sum of log-dets``, where dequantisation contributes
``-D log 256``. By Jensen this is a lower bound on the discrete ``log P(x)`` of the 8-bit image
(Theis et al. 2016), so bits/dim computed from it are comparable with published MNIST numbers.

genzoo uses ``alpha = 0.05`` (the value of the RealNVP paper): it bounds the logit to about
[-2.94, 2.94] and keeps the pre-logit values away from 0 and 1. ``alpha`` is a model setting.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.models.flow.base import Transform

__all__ = ["UniformDequantize", "IntervalSqueeze", "Logit", "N_LEVELS"]

N_LEVELS = 256  # 8-bit images


def _dims(x: Tensor) -> int:
    return x[0].numel()


class UniformDequantize(Transform):
    """``x -> (x + u) / 256`` with ``u ~ U[0, 1)^D`` drawn from ``generator``.

    ``x``: 8-bit values ``(B, ...)`` (uint8, or floats holding integers 0..255). Without a
    generator ``u = 1/2`` (the centre of each bin; used by ``encode``). Forward log-det
    ``-D log 256``. The inverse ``floor(256 z)`` clamped to {0, ..., 255} returns the 8-bit
    image (as floats), with log-det ``+D log 256``.
    """

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        if generator is None:
            u = torch.full_like(x, 0.5)
        else:
            u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        z = (x + u) / N_LEVELS
        return z, x.new_full((x.shape[0],), -_dims(x) * math.log(N_LEVELS))

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.floor(z * N_LEVELS).clamp(0, N_LEVELS - 1)
        return x, z.new_full((z.shape[0],), _dims(z) * math.log(N_LEVELS))


class IntervalSqueeze(Transform):
    """``y -> alpha + (1 - 2 alpha) y``: [0, 1] into [alpha, 1 - alpha]; log-det ``D log(1-2a)``."""

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        a = self.alpha
        ld = _dims(x) * math.log1p(-2 * a)
        return a + (1 - 2 * a) * x, x.new_full((x.shape[0],), ld)

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        a = self.alpha
        ld = -_dims(z) * math.log1p(-2 * a)
        return (z - a) / (1 - 2 * a), z.new_full((z.shape[0],), ld)


class Logit(Transform):
    """``p -> log p - log(1 - p)`` on (0, 1); log-det ``sum(-log p - log(1 - p))``.

    The inverse is the sigmoid, computed safely: its log-det ``sum(log s + log(1 - s))`` is
    ``-softplus(-z) - softplus(z)`` (finite for every finite ``z``, where ``log(sigmoid)``
    underflows to ``log 0``), and the output is clamped into ``[eps, 1 - eps]`` (``eps`` of the
    dtype) so the next inverse never sees exactly 0 or 1. The clamp only acts where the sigmoid
    has saturated (``|z| > 15`` in fp32), far outside the range ``alpha`` allows.
    """

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        log_p, log_q = torch.log(x), torch.log1p(-x)
        return log_p - log_q, -(log_p + log_q).reshape(x.shape[0], -1).sum(1)

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        eps = torch.finfo(z.dtype).eps
        x = torch.sigmoid(z).clamp(eps, 1 - eps)
        ld = -(F.softplus(-z) + F.softplus(z)).reshape(z.shape[0], -1).sum(1)
        return x, ld
