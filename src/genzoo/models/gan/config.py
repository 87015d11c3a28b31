"""Configuration of the GAN family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.errors import ConfigError

__all__ = ["GANConfig"]


@dataclass(frozen=True)
class GANConfig:
    """GAN architecture and objective.

    Defaults are the report's MLP GAN (Goodfellow et al. 2014): z = 100, generator
    100-128-256-512-1024-784 with BatchNorm and tanh, discriminator 784-512-256-1 with dropout.
    ``arch="dcgan"`` swaps in a small convolutional pair (Radford et al. 2016) for 28x28 images.

    - ``g_loss``: ``nonsaturating`` (G minimises -log D(G(z))) or ``minimax`` (G minimises
      log(1 - D(G(z))), the saturating form of the original value function).
    - ``ema_decay``: exponential moving average of the generator's weights, used for sampling
      when set (e.g. 0.999); ``None`` = off.
    - ``dropout``: dropout rate of the MLP discriminator (the DCGAN's has none).
    - ``width``: channels of the DCGAN's 14x14 layers (ignored by the MLP).
    """

    arch: Literal["mlp", "dcgan"] = "mlp"
    z_dim: int = 100
    g_loss: Literal["nonsaturating", "minimax"] = "nonsaturating"
    leak: float = 0.2
    dropout: float = 0.3
    width: int = 64
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        if self.z_dim < 1:
            raise ConfigError(f"z-dim must be >= 1, got {self.z_dim}")
        if not 0 <= self.leak < 1:
            raise ConfigError(f"leak must lie in [0, 1), got {self.leak}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.width < 1:
            raise ConfigError(f"width must be >= 1, got {self.width}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError(f"ema-decay must lie in (0, 1) (or none), got {self.ema_decay}")
