"""The GAN module: a generator, a discriminator and (optionally) an EMA copy of the generator."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from genzoo.models.gan.config import GANConfig
from genzoo.models.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from genzoo.models.gan.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["GAN"]

_ARCHS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "mlp": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
}


class GAN(nn.Module):
    """Generator ``G: (B, z_dim) -> (B, C, H, W)`` in [-1, 1] and discriminator
    ``D: (B, C, H, W) -> (B,)`` logits, for images of ``shape`` ``(C, H, W)``.

    With ``cfg.ema_decay`` set, ``generator_ema`` is a frozen copy of ``G`` whose weights
    follow an exponential moving average (its BatchNorm statistics are copied from ``G``); it
    is a submodule, so ``state_dict`` and every checkpoint carry it, and it is the one used for
    sampling.

    Sampling uses the generator in eval mode, i.e. BatchNorm with its running statistics, so a
    sample does not depend on the other samples of its batch or on the batch size.
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.cfg = cfg
        self.shape = tuple(shape)
        gen_cls, disc_cls = _ARCHS[cfg.arch]
        self.generator = gen_cls(cfg, self.shape)
        self.discriminator = disc_cls(cfg, self.shape)
        self.generator_ema: nn.Module | None = None
        if cfg.ema_decay is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples: the EMA copy when enabled, else ``G`` itself."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def update_ema(self) -> None:
        """``ema <- decay * ema + (1 - decay) * G`` for weights; buffers are copied."""
        if self.generator_ema is None or self.cfg.ema_decay is None:
            return
        ema_params = list(self.generator_ema.parameters())
        params = [p.detach() for p in self.generator.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.cfg.ema_decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Images ``(B, C, H, W)`` in [0, 1] from latents ``(B, z_dim)``, sampler in eval mode."""
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            x = net(z.to(next(net.parameters()).dtype))
        finally:
            net.train(was_training)
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], ``z ~ N(0, I)`` drawn with ``generator``."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.cfg.z_dim, generator=generator, device=device)
        return self.decode(z)
