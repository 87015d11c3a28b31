"""The multi-scale architecture of RealNVP (Dinh et al. 2017, sec. 3.6) for small images.

One scale: 3 checkerboard couplings, squeeze (2x2 space-to-depth), 3 channel-wise couplings,
then half of the channels are factored out (they go straight to the latent) and the other half
enter the next scale. The last scale has 4 checkerboard couplings. Every coupling is followed by
an ``ActNorm`` (the normalisation layer, with its exact log-det). On MNIST (1x28x28) with two
scales: 1x28x28 -> 4x14x14 (2x14x14 out) -> 2x14x14 -> 8x7x7 (4x7x7 out) -> 4x7x7.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.models.flow.base import CompositeTransform, Transform
from genzoo.models.flow.coupling import AffineCoupling, channel_mask, checkerboard_mask
from genzoo.models.flow.nets import ResNet
from genzoo.models.flow.normalization import ActNorm
from genzoo.models.flow.reshape import Flatten, SpaceToDepth

__all__ = ["FactorOut", "realnvp_flow"]


class FactorOut(Transform):
    """Apply ``transform``, pass the first half of its output channels straight to the latent,
    and the other half through ``inner``: ``(B, C, H, W) -> (B, D)`` flat.

    ``shape`` is the shape ``(C', H', W')`` of ``transform``'s output; ``inner`` maps
    ``(B, C'/2, H', W')`` to a flat ``(B, D')`` latent.
    """

    def __init__(self, transform: Transform, shape: tuple[int, int, int], inner: Transform) -> None:
        super().__init__()
        if shape[0] % 2:
            raise ValueError(f"FactorOut needs an even number of channels, got {shape}")
        self.transform, self.inner, self.shape = transform, inner, tuple(shape)
        self.n_out = shape[0] // 2 * shape[1] * shape[2]

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        h, ld = self.transform(x, generator)
        out, rest = h.chunk(2, dim=1)
        z_rest, ld_rest = self.inner(rest, generator)
        return torch.cat([out.reshape(x.shape[0], -1), z_rest], dim=1), ld + ld_rest

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        c, hh, ww = self.shape
        out = z[:, : self.n_out].reshape(z.shape[0], c // 2, hh, ww)
        rest, ld_rest = self.inner.inverse(z[:, self.n_out :], generator)
        x, ld = self.transform.inverse(torch.cat([out, rest], dim=1), generator)
        return x, ld + ld_rest


def _coupling(mask: Tensor, c: int, channels: int, blocks: int, actnorm: bool) -> list[Transform]:
    layers: list[Transform] = [
        AffineCoupling(mask, ResNet(c, channels, 2 * c, blocks), learn_scale=True)
    ]
    if actnorm:
        layers.append(ActNorm(c))
    return layers


def realnvp_flow(
    shape: tuple[int, int, int] = (1, 28, 28),
    scales: int = 2,
    channels: int = 64,
    blocks: int = 4,
    actnorm: bool = True,
) -> Transform:
    """The multi-scale RealNVP: ``(B, C, H, W) -> (B, C*H*W)``.

    ``scales`` factor-out levels then a final level; conditioners are ``ResNet``s with
    ``channels`` hidden channels and ``blocks`` residual blocks.
    """
    c, h, w = shape
    if h % (2**scales) or w % (2**scales):
        raise ValueError(f"{scales} scales need H and W divisible by {2**scales}, got {shape}")
    levels: list[tuple[list[Transform], tuple[int, int, int]]] = []
    for _ in range(scales):
        layers: list[Transform] = []
        for i in range(3):
            layers += _coupling(checkerboard_mask(h, w, i % 2), c, channels, blocks, actnorm)
        layers.append(SpaceToDepth())
        c, h, w = 4 * c, h // 2, w // 2
        for i in range(3):
            layers += _coupling(channel_mask(c, i % 2), c, channels, blocks, actnorm)
        levels.append((layers, (c, h, w)))
        c = c // 2
    final: list[Transform] = []
    for i in range(4):
        final += _coupling(checkerboard_mask(h, w, i % 2), c, channels, blocks, actnorm)
    inner: Transform = CompositeTransform([*final, Flatten((c, h, w))])
    for layers, out_shape in reversed(levels):
        inner = FactorOut(CompositeTransform(layers), out_shape, inner)
    return inner
