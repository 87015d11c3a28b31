"""Configuration of the VAE family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.errors import ConfigError

__all__ = ["VAEConfig"]


@dataclass(frozen=True)
class VAEConfig:
    """VAE architecture. Defaults are the report's: 784-500-(mu, log sigma^2), z=20, z-500-784.

    - ``arch``: ``mlp`` (one hidden layer each way) or ``conv`` (two strided convolutions with
      ``channels`` and ``2 * channels`` filters, then a ``hidden`` layer; mirrored decoder).
    - ``likelihood``: ``bernoulli`` on dynamically binarised images, or ``logistic``, a
      discretised logistic on the 8-bit images (nats comparable with a flow's).
    """

    arch: Literal["mlp", "conv"] = "mlp"
    hidden: int = 500
    z_dim: int = 20
    likelihood: Literal["bernoulli", "logistic"] = "bernoulli"
    channels: int = 32

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be >= 1, got {self.hidden}")
        if self.z_dim < 1:
            raise ConfigError(f"z-dim must be >= 1, got {self.z_dim}")
        if self.channels < 1:
            raise ConfigError(f"channels must be >= 1, got {self.channels}")
        if self.arch not in ("mlp", "conv"):
            raise ConfigError(f"arch must be mlp or conv, got {self.arch!r}")
        if self.likelihood not in ("bernoulli", "logistic"):
            raise ConfigError(f"likelihood must be bernoulli or logistic, got {self.likelihood!r}")
