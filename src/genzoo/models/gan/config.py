"""Configuration of the GAN family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt

__all__ = ["GANConfig"]


@dataclass(frozen=True)
class GANConfig:
    """GAN architecture and objective.

    Defaults are the report's MLP GAN (Goodfellow et al. 2014): z = 100, generator
    100-128-256-512-1024-784 with BatchNorm and tanh, discriminator 784-512-256-1 with dropout
    (784 = C*H*W of MNIST; other images change only those ends). ``arch="dcgan"`` swaps in a
    small convolutional pair (Radford et al. 2016) for images whose H and W are multiples of 4.

    - ``g_loss``: ``nonsaturating`` (G minimises -log D(G(z))) or ``minimax`` (G minimises
      log(1 - D(G(z))), the saturating form of the original value function).
    - ``ema_decay``: exponential moving average of the generator's weights, used for sampling
      when set (e.g. 0.999); ``None`` = off.
    - ``dropout``: dropout rate of the MLP discriminator (the DCGAN's has none).
    - ``width``: channels of the DCGAN's H/2 x W/2 layers (ignored by the MLP).
    """

    arch: Literal["mlp", "dcgan"] = opt(
        "mlp", "networks: mlp (the report's), or dcgan (convolutional)"
    )
    z_dim: int = opt(100, "latent dimensions of the generator's input", ge=1)
    g_loss: Literal["nonsaturating", "minimax"] = opt(
        "nonsaturating", "generator objective: -log D(G(z)), or minimax log(1 - D(G(z)))"
    )
    leak: float = opt(0.2, "negative slope of the LeakyReLUs", ge=0, lt=1)
    dropout: float = opt(0.3, "dropout rate of the MLP discriminator", ge=0, lt=1)
    width: int = opt(64, "channels of the DCGAN's H/2 x W/2 layers (dcgan only)", ge=1)
    ema_decay: float | None = opt(
        None, "decay of an EMA of the generator used for sampling (none: off)", gt=0, lt=1
    )

    def __post_init__(self) -> None:
        check_fields(self)
