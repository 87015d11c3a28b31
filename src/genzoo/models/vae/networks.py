"""Encoder and decoder networks of the VAE: ``mlp``, ``conv`` and ``resconv``, sized from the
image shape.

Encoders map images ``(B, C, H, W)`` (floats in [0, 1]) to ``(B, 2 * z_dim)`` (mean and log
variance); decoders map ``(B, z_dim)`` to likelihood parameters ``(B, P * C, H, W)``
(parameter-major: the first ``C`` channels are the first parameter of every image channel).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo.models.layers import ChannelsLast

__all__ = ["make_encoder", "make_decoder", "conv_sizes", "ResBlock"]

Shape = tuple[int, int, int]


def _mlp_encoder(shape: Shape, hidden: int, z_dim: int, channels: int, blocks: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim)
    )


def _mlp_decoder(
    shape: Shape, hidden: int, z_dim: int, channels: int, params: int, blocks: int
) -> nn.Module:
    c, h, w = shape
    return nn.Sequential(
        nn.Linear(z_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, params * c * h * w),
        nn.Unflatten(1, (params * c, h, w)),
    )


def conv_sizes(h: int, w: int) -> list[tuple[int, int]]:
    """Spatial sizes ``[(H, W), (H/2, W/2), (H/4, W/4)]`` (floored) of the conv nets' maps.

    Each ``Conv2d(k=4, s=2, p=1)`` halves a size (rounding down); the decoder's transposed
    convolutions double it and add ``output_padding`` (0 or 1) to get back exactly. MNIST:
    28 -> 14 -> 7; 32x32: 32 -> 16 -> 8. Sizes under 4 are refused (``ConfigError``).
    """
    if h < 4 or w < 4:
        raise ConfigError(f"the conv VAE needs images of at least 4x4 pixels, got {h}x{w}")
    return [(h, w), (h // 2, w // 2), (h // 4, w // 4)]


def _conv_encoder(shape: Shape, hidden: int, z_dim: int, channels: int, blocks: int) -> nn.Module:
    c = channels
    sizes = conv_sizes(*shape[1:])
    h4, w4 = sizes[2]
    return ChannelsLast(
        nn.Conv2d(shape[0], c, 4, stride=2, padding=1),  # (B, c, H/2, W/2)
        nn.ReLU(),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),  # (B, 2c, H/4, W/4)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * c * h4 * w4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * z_dim),
    )


def _conv_decoder(
    shape: Shape, hidden: int, z_dim: int, channels: int, params: int, blocks: int
) -> nn.Module:
    c = channels
    (h, w), (h2, w2), (h4, w4) = conv_sizes(*shape[1:])
    pad2 = (h2 - 2 * h4, w2 - 2 * w4)  # output_padding: 0 or 1 per side
    pad1 = (h - 2 * h2, w - 2 * w2)
    return ChannelsLast(
        nn.Linear(z_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * c * h4 * w4),
        nn.ReLU(),
        nn.Unflatten(1, (2 * c, h4, w4)),
        nn.ConvTranspose2d(
            2 * c, c, 4, stride=2, padding=1, output_padding=pad2
        ),  # (B, c, H/2, W/2)
        nn.ReLU(),
        nn.ConvTranspose2d(c, params * shape[0], 4, stride=2, padding=1, output_padding=pad1),
    )  # (B, P * C, H, W)


class ResBlock(nn.Module):
    """``x + Conv1x1(ReLU(Conv3x3(ReLU(x))))`` with a bottleneck of ``channels // 2`` filters
    (the residual block of VQ-VAE, van den Oord et al. 2017); ``(B, c, H, W) -> (B, c, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = max(1, channels // 2)
        self.branch = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, mid, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(mid, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.branch(x)


def _blocks(channels: int, n: int) -> list[nn.Module]:
    return [ResBlock(channels) for _ in range(n)]


def _resconv_encoder(
    shape: Shape, hidden: int, z_dim: int, channels: int, blocks: int
) -> nn.Module:
    c = channels
    h4, w4 = conv_sizes(*shape[1:])[2]
    return ChannelsLast(
        nn.Conv2d(shape[0], c, 4, stride=2, padding=1),  # (B, c, H/2, W/2)
        *_blocks(c, blocks),
        nn.ReLU(),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),  # (B, 2c, H/4, W/4)
        *_blocks(2 * c, blocks),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * c * h4 * w4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * z_dim),
    )


def _resconv_decoder(
    shape: Shape, hidden: int, z_dim: int, channels: int, params: int, blocks: int
) -> nn.Module:
    c = channels
    (h, w), (h2, w2), (h4, w4) = conv_sizes(*shape[1:])
    return ChannelsLast(
        nn.Linear(z_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * c * h4 * w4),
        nn.Unflatten(1, (2 * c, h4, w4)),  # (B, 2c, H/4, W/4)
        *_blocks(2 * c, blocks),
        nn.ReLU(),
        nn.ConvTranspose2d(
            2 * c, c, 4, stride=2, padding=1, output_padding=(h2 - 2 * h4, w2 - 2 * w4)
        ),
        *_blocks(c, blocks),  # (B, c, H/2, W/2)
        nn.ReLU(),
        nn.ConvTranspose2d(
            c, params * shape[0], 4, stride=2, padding=1, output_padding=(h - 2 * h2, w - 2 * w2)
        ),
    )  # (B, P * C, H, W)


_ENCODERS = {"mlp": _mlp_encoder, "conv": _conv_encoder, "resconv": _resconv_encoder}
_DECODERS = {"mlp": _mlp_decoder, "conv": _conv_decoder, "resconv": _resconv_decoder}


def make_encoder(
    arch: str, shape: Shape, hidden: int, z_dim: int, channels: int, blocks: int = 1
) -> nn.Module:
    """Encoder ``(B, C, H, W) -> (B, 2 * z_dim)`` for images of ``shape`` ``(C, H, W)``;
    ``blocks``: residual blocks per resolution (``resconv`` only)."""
    return _ENCODERS[arch](shape, hidden, z_dim, channels, blocks)


def make_decoder(
    arch: str, shape: Shape, hidden: int, z_dim: int, channels: int, params: int, blocks: int = 1
) -> nn.Module:
    """Decoder ``(B, z_dim) -> (B, params * C, H, W)`` for images of ``shape`` ``(C, H, W)``."""
    return _DECODERS[arch](shape, hidden, z_dim, channels, params, blocks)
