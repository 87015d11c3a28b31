"""Affine coupling layers (Dinh et al. 2017, eq. 7-9) with binary masks.

With a fixed binary ``mask`` ``b`` and a conditioner network ``net``:

    (s, t) = net(b * x);   z = b * x + (1 - b) * (x * exp(s) + t);   log|det| = sum((1 - b) s)

The inverse recomputes ``(s, t)`` from ``b * z = b * x``. The log-scale is bounded:
``s = bound * tanh(raw)``, with ``bound`` fixed at 1 (the report's layers) or learned per
feature (RealNVP's ``scale * tanh``), so no layer can blow up. The network may run in bf16
under autocast; its output is cast to fp32 before ``s`` and ``t`` are formed, so the affine map,
its log-det and their sums are fp32 and the log-det is exactly that of the map applied.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genzoo.models.flow.base import Transform, sum_except_batch

__all__ = ["AffineCoupling", "checkerboard_mask", "channel_mask"]


def checkerboard_mask(height: int, width: int, parity: int = 0) -> Tensor:
    """``(1, H, W)`` float mask, 1 where ``(i + j) % 2 == parity``."""
    i = torch.arange(height).view(-1, 1)
    j = torch.arange(width).view(1, -1)
    return ((i + j) % 2 == parity).float().unsqueeze(0)


def channel_mask(channels: int, parity: int = 0) -> Tensor:
    """``(C, 1, 1)`` float mask, 1 on the first half of the channels (or the second if parity)."""
    m = (torch.arange(channels) < channels // 2).float()
    return (m if parity == 0 else 1 - m).view(-1, 1, 1)


class AffineCoupling(Transform):
    """Masked affine coupling. ``mask`` broadcasts against one example (e.g. ``(D,)``, ``(C,H,W)``).

    ``net`` maps ``(B, *shape)`` to ``(B, 2 * shape[0], *shape[1:])`` (raw log-scale, shift),
    concatenated along dim 1. ``learn_scale`` adds RealNVP's learned bound per feature.
    """

    def __init__(self, mask: Tensor, net: nn.Module, learn_scale: bool = False) -> None:
        super().__init__()
        self.register_buffer("mask", mask.clone())
        self.net = net
        self.scale = nn.Parameter(torch.ones_like(mask)) if learn_scale else None

    def _scale_shift(self, x_id: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(x_id)
        if h.dtype in (torch.float16, torch.bfloat16):  # autocast: the affine part stays fp32
            h = h.float()
        raw, t = h.chunk(2, dim=1)
        s = torch.tanh(raw)
        if self.scale is not None:
            s = self.scale.to(h.dtype) * s
        free = 1 - self.mask.to(h.dtype)
        return s * free, t * free

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        mask = self.mask.to(x.dtype)
        x_id = x * mask
        s, t = self._scale_shift(x_id)
        z = x_id + (1 - mask) * (x * torch.exp(s) + t)
        return z.to(x.dtype), sum_except_batch(s)

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        mask = self.mask.to(z.dtype)
        z_id = z * mask
        s, t = self._scale_shift(z_id)
        x = z_id + (1 - mask) * ((z - t) * torch.exp(-s))
        return x.to(z.dtype), -sum_except_batch(s)
