"""Volume-preserving reshapes: flattening and the 2x2 space-to-depth squeeze of RealNVP."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.models.flow.base import Transform

__all__ = ["Flatten", "SpaceToDepth"]


class Flatten(Transform):
    """``(B, *shape) -> (B, prod(shape))``; log-det 0. The inverse restores ``shape``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"Flatten expects (B, {self.shape}), got {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1), x.new_zeros(x.shape[0])

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if z.shape[1:].numel() != math.prod(self.shape):
            raise ValueError(f"Flatten.inverse expects {math.prod(self.shape)} dims, got {z.shape}")
        return z.reshape(z.shape[0], *self.shape), z.new_zeros(z.shape[0])


class SpaceToDepth(Transform):
    """The squeeze of Dinh et al. (2017): ``(B, C, H, W) -> (B, 4C, H/2, W/2)``, log-det 0.

    Each 2x2 block of a channel becomes 4 channels (``pixel_unshuffle``); the inverse is
    ``pixel_shuffle``. ``H`` and ``W`` must be even.
    """

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"SpaceToDepth expects (B, C, even H, even W), got {tuple(x.shape)}")
        return F.pixel_unshuffle(x, 2), x.new_zeros(x.shape[0])

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if z.dim() != 4 or z.shape[1] % 4:
            raise ValueError(f"SpaceToDepth.inverse expects (B, 4C, H, W), got {tuple(z.shape)}")
        return F.pixel_shuffle(z, 2), z.new_zeros(z.shape[0])
