"""The flow model: preprocessing transforms, a body transform and a standard normal base.

``log_prob(x)`` of 8-bit images is ``log N(z; 0, I) + log|det dz/dx|`` with ``z`` the output of
the whole composite (dequantise, squeeze, logit, body), so it counts the dequantisation term
``-D log 256`` and is comparable with published bits/dim. ``sample`` inverts all of it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo.maths import standard_normal_log_prob
from genzoo.models.flow.base import CompositeTransform, Transform
from genzoo.models.flow.config import FlowConfig
from genzoo.models.flow.mlp import mlp_flow
from genzoo.models.flow.multiscale import realnvp_flow
from genzoo.models.flow.preprocess import N_LEVELS, IntervalSqueeze, Logit, UniformDequantize

__all__ = ["Flow", "build_flow", "preprocessing"]


def preprocessing(alpha: float) -> CompositeTransform:
    """8-bit ``x`` -> ``logit(alpha + (1 - 2 alpha) (x + u) / 256)``, with exact log-dets."""
    return CompositeTransform([UniformDequantize(), IntervalSqueeze(alpha), Logit()])


class Flow(nn.Module):
    """A normalizing flow on 8-bit images of ``shape`` ``(C, H, W)``: ``transform`` maps images
    to ``(B, D)`` latents, ``D = C*H*W`` (the dims of bits/dim)."""

    def __init__(self, transform: Transform, shape: tuple[int, ...] = (1, 28, 28)) -> None:
        super().__init__()
        self.transform = transform
        self.shape = tuple(shape)
        self.dims = math.prod(shape)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``log p(x)`` in nats ``(B,)`` of 8-bit ``x`` ``(B, *shape)`` (uint8 or floats 0..255)."""
        return self.log_prob(x, generator)

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(B,)`` log-likelihood in nats; dequantisation noise from ``generator``."""
        z, logdet = self.transform(self._float(x), generator)
        return standard_normal_log_prob(z.flatten(1)) + logdet  # z: (B, D) or (B, *shape)

    def _float(self, x: Tensor) -> Tensor:
        """8-bit integers as floats of the parameters' dtype (the weights' dtype rules)."""
        if x.is_floating_point():
            return x
        ref = next(self.parameters(), None)
        return x.to(ref.dtype if ref is not None else torch.get_default_dtype())

    def encode(self, x: Tensor) -> Tensor:
        """``(B, *shape)`` 8-bit images -> ``(B, D)`` latents (dequantised at the bin centres)."""
        return self.transform(self._float(x))[0]

    def decode(self, z: Tensor) -> Tensor:
        """``(B, D)`` latents -> ``(B, *shape)`` 8-bit images as floats in {0, ..., 255}."""
        return self.transform.inverse(z)[0]

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """``(n, *shape)`` images in [0, 1] (``k / 255``): ``z ~ N(0, T^2 I)``, then the inverse."""
        ref = next(self.parameters())
        z = torch.randn(n, self.dims, generator=generator, device=ref.device, dtype=ref.dtype)
        return self.decode(temperature * z) / (N_LEVELS - 1)


def build_flow(cfg: FlowConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> Flow:
    """A fresh flow for ``cfg`` on images of ``shape`` ``(C, H, W)`` (preprocessing, then the
    chosen body). ``realnvp`` needs H and W divisible by ``2**scales`` (else ``ConfigError``)."""
    c, h, w = shape
    if cfg.arch == "mlp":
        body = mlp_flow(shape, cfg.pairs, cfg.hidden, compact=cfg.compact)
    else:
        k = 2**cfg.scales
        if h % k or w % k:
            raise ConfigError(
                f"--scales {cfg.scales} needs H and W divisible by {k}, got {h}x{w} "
                "(use fewer scales or --arch mlp)"
            )
        body = realnvp_flow(shape, cfg.scales, cfg.channels, cfg.blocks, cfg.actnorm)
    return Flow(CompositeTransform([*preprocessing(cfg.alpha).transforms, body]), shape)
