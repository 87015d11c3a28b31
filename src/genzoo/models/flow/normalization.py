"""Activation normalisation (Kingma & Dhariwal 2018): an invertible per-channel affine map.

``z = (x + b) * exp(log_s)`` per channel (dim 1); log-det ``sum(log_s) * (spatial size)``. On the
first forward pass in training mode, ``b`` and ``log_s`` are set from the batch so the output has
zero mean and unit variance per channel (data-dependent initialisation); afterwards they are
ordinary parameters. Unlike batch normalisation, the map does not depend on the batch after
initialisation, so train and eval mode give the same log-likelihood.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genzoo.models.flow.base import Transform
from genzoo.training.syncbn import global_mean_var

__all__ = ["ActNorm"]


class ActNorm(Transform):
    """Per-channel affine normalisation with data-dependent initialisation; ``(B, C, ...)``."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.eps = eps

    def _view(self, p: Tensor, x: Tensor) -> Tensor:
        return p.view(1, -1, *([1] * (x.dim() - 2))).to(x.dtype)

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set the parameters so that ``forward(x)`` is standardised per channel."""
        # statistics over every rank's batch, so data-parallel ranks start identical
        mean, var, n = global_mean_var(x.detach(), [0, *range(2, x.dim())])
        std = (var * n / (n - 1)).sqrt()  # unbiased, as torch.std
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        z = (x + self._view(self.bias, x)) * torch.exp(self._view(self.log_scale, x))
        return z, self._logdet(x)

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = z * torch.exp(-self._view(self.log_scale, z)) - self._view(self.bias, z)
        return x, -self._logdet(z)

    def _logdet(self, x: Tensor) -> Tensor:
        spatial = x[0, 0].numel()
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        ld = self.log_scale.to(dtype).sum() * spatial
        return ld.expand(x.shape[0])
