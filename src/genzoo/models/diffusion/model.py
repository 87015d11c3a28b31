"""The diffusion model: a noise schedule, the U-Net that is trained, and its EMA for sampling."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from genzoo.family import ImageShape
from genzoo.models.diffusion.config import DiffusionConfig
from genzoo.models.diffusion.schedule import Schedule, make_betas
from genzoo.models.diffusion.unet import UNet

__all__ = ["EMA", "Diffusion", "randn", "simple_loss"]


def randn(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    """Standard normal noise of ``shape`` drawn from ``generator`` (on its own device), then
    moved to ``like``'s device and dtype."""
    z = torch.randn(shape, generator=generator, device=generator.device)
    return z.to(like.device, like.dtype)


class EMA(nn.Module):
    """Exponential moving average of a module's parameters, kept as *buffers*: saved with the
    model (so a loaded run samples from it) but never trained, and not counted as parameters.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.names = [n for n, _ in module.named_parameters()]
        for n, p in module.named_parameters():
            self.register_buffer(self._key(n), p.detach().clone())

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def weights(self) -> dict[str, Tensor]:
        """``{parameter name of the module: averaged value}``."""
        return {n: getattr(self, self._key(n)) for n in self.names}

    @torch.no_grad()
    def update(self, module: nn.Module, decay: float) -> None:
        """``ema <- decay * ema + (1 - decay) * weights``."""
        for n, p in module.named_parameters():
            getattr(self, self._key(n)).lerp_(p.detach(), 1.0 - decay)


class Diffusion(nn.Module):
    """DDPM with an epsilon-predicting U-Net ``net`` and its average ``ema``.

    ``forward(x_t, t)`` is the trained network (what the step calls, DDP-wrapped or not);
    ``eps(x_t, t)`` uses the EMA weights (sampling, the bound, validation).
    """

    def __init__(self, cfg: DiffusionConfig, shape: ImageShape) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, tuple(shape)
        self.schedule = Schedule(make_betas(cfg.schedule, cfg.timesteps))
        self.net = UNet(
            self.shape, channels=cfg.channels, channel_mult=cfg.channel_mult, blocks=cfg.blocks,
            attention=cfg.attention, groups=cfg.groups, dropout=cfg.dropout,
        )  # fmt: skip
        self.ema = EMA(self.net)

    @property
    def dims(self) -> int:
        c, h, w = self.shape
        return c * h * w

    def forward(self, xt: Tensor, t: Tensor) -> Tensor:
        """The trained network's noise prediction ``(B, C, H, W)``."""
        return self.net(xt, t)

    def eps(self, xt: Tensor, t: Tensor, ema: bool = True) -> Tensor:
        """Noise prediction ``(B, C, H, W)`` with the EMA weights (the trained ones if not
        ``ema``); ``x_t`` of any float dtype is computed in the network's dtype."""
        x = xt.to(next(self.net.parameters()).dtype)
        out = functional_call(self.net, self.ema.weights(), (x, t)) if ema else self.net(x, t)
        return out.to(xt.dtype)

    def noisy(self, x0: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """A uniform step ``t`` ``(B,)`` and noise ``eps ~ N(0, I)`` per example, and ``x_t``
        from ``q(x_t | x_0)``: returns ``(x_t, t, eps)`` for ``x_0`` ``(B, C, H, W)``."""
        b = x0.shape[0]
        t = torch.randint(0, self.cfg.timesteps, (b,), generator=generator, device=generator.device)
        t = t.to(x0.device)
        noise = randn(tuple(x0.shape), generator, x0)
        return self.schedule.q_sample(x0, t, noise), t, noise


def simple_loss(pred: Tensor, noise: Tensor) -> Tensor:
    """Ho et al.'s ``L_simple`` per example: ``mean_i (eps - eps_theta(x_t, t))_i^2`` ``(B,)``."""
    return (pred.float() - noise.float()).pow(2).flatten(1).mean(1)
