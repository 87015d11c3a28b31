"""Encoder and decoder networks of the VAE: ``mlp`` and ``conv``.

Encoders map images ``(B, C, 28, 28)`` (floats in [0, 1]) to ``(B, 2 * z_dim)`` (mean and log
variance); decoders map ``(B, z_dim)`` to per-pixel likelihood parameters ``(B, P, 28, 28)``.
"""

from __future__ import annotations

from torch import nn

__all__ = ["make_encoder", "make_decoder", "IMAGE_SHAPE"]

IMAGE_SHAPE = (1, 28, 28)
_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]


def _mlp_encoder(hidden: int, z_dim: int, channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim)
    )


def _mlp_decoder(hidden: int, z_dim: int, channels: int, params: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(z_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, params * _PIXELS),
        nn.Unflatten(1, (params, *IMAGE_SHAPE[1:])),
    )


def _conv_encoder(hidden: int, z_dim: int, channels: int) -> nn.Module:
    c = channels
    return nn.Sequential(
        nn.Conv2d(IMAGE_SHAPE[0], c, 4, stride=2, padding=1),  # (B, c, 14, 14)
        nn.ReLU(),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),  # (B, 2c, 7, 7)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * c * 49, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * z_dim),
    )


def _conv_decoder(hidden: int, z_dim: int, channels: int, params: int) -> nn.Module:
    c = channels
    return nn.Sequential(
        nn.Linear(z_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * c * 49),
        nn.ReLU(),
        nn.Unflatten(1, (2 * c, 7, 7)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),  # (B, c, 14, 14)
        nn.ReLU(),
        nn.ConvTranspose2d(c, params, 4, stride=2, padding=1),  # (B, P, 28, 28)
    )


_ENCODERS = {"mlp": _mlp_encoder, "conv": _conv_encoder}
_DECODERS = {"mlp": _mlp_decoder, "conv": _conv_decoder}


def make_encoder(arch: str, hidden: int, z_dim: int, channels: int) -> nn.Module:
    """Encoder ``(B, 1, 28, 28) -> (B, 2 * z_dim)``."""
    return _ENCODERS[arch](hidden, z_dim, channels)


def make_decoder(arch: str, hidden: int, z_dim: int, channels: int, params: int) -> nn.Module:
    """Decoder ``(B, z_dim) -> (B, params, 28, 28)``."""
    return _DECODERS[arch](hidden, z_dim, channels, params)
