"""Configuration of the GAN family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt
from genzoo.errors import ConfigError

__all__ = ["GANConfig"]


@dataclass(frozen=True)
class GANConfig:
    """GAN architecture and objective.

    Defaults are the report's MLP GAN (Goodfellow et al. 2014): z = 100, generator
    100-128-256-512-1024-784 with BatchNorm and tanh, discriminator 784-512-256-1 with dropout
    (784 = C*H*W of MNIST; other images change only those ends). ``arch="dcgan"`` swaps in a
    convolutional pair (Radford et al. 2016) for images whose H and W are multiples of 4, and
    trains at Adam lr 2e-4 by default (the family's ``train_defaults_for``).

    - ``g_loss``: ``nonsaturating`` (G minimises -log D(G(z))) or ``minimax`` (G minimises
      log(1 - D(G(z))), the saturating form of the original value function); bce loss only.
    - ``loss``: ``bce`` (the value function above) or ``hinge`` (Lim & Ye 2017: D minimises
      max(0, 1 - D(x)) + max(0, 1 + D(G(z))) on logits, G minimises -D(G(z))).
    - ``ema_decay``: exponential moving average of the generator's weights, used for sampling,
      snapshots and evaluation when set (e.g. 0.999); ``None`` = off. Saved in checkpoints.
    - ``spectral_norm``: spectral norm (Miyato et al. 2018) on every DCGAN discriminator layer,
      which then has no BatchNorm.
    - ``r1``: gamma of the R1 penalty (Mescheder et al. 2018) on real images, added to D's
      objective every ``r1_every`` steps with gamma scaled by ``r1_every`` (lazy, as in
      StyleGAN2); 0 = off.
    - ``dropout``: dropout rate of the MLP discriminator (the DCGAN's has none).
    - ``width``: channels of the DCGAN's H x W layer; its H/2 layers have 2w and its H/4
      layers 4w (ignored by the MLP).
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
    width: int = opt(
        32, "channels of the DCGAN's full-size layer; 2w at H/2, 4w at H/4 (dcgan only)", ge=1
    )
    ema_decay: float | None = opt(
        None, "decay of an EMA of the generator used for sampling (none: off)", gt=0, lt=1
    )
    loss: Literal["bce", "hinge"] = opt(
        "bce", "adversarial loss: bce (with --g-loss), or hinge (G minimises -D(G(z)))"
    )
    spectral_norm: bool = opt(False, "spectral norm on D's layers instead of BatchNorm (dcgan)")
    r1: float = opt(0.0, "R1 penalty gamma/2 * |grad_x D(x)|^2 on real images (0: off)", ge=0)
    r1_every: int = opt(1, "apply R1 every N steps, scaled by N (lazy regularisation)", ge=1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.loss == "hinge" and self.g_loss != "nonsaturating":
            raise ConfigError("g-loss applies to the bce loss only (hinge has its own G loss)")
        if self.spectral_norm and self.arch != "dcgan":
            raise ConfigError("spectral-norm is an option of the dcgan arch only")
