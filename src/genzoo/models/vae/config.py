"""Configuration of the VAE family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.errors import ConfigError

__all__ = ["VAEConfig"]


@dataclass(frozen=True)
class VAEConfig:
    """VAE architecture. Defaults are the report's: 784-500-(mu, log sigma^2), z=20, z-500-784."""

    arch: Literal["mlp"] = "mlp"
    hidden: int = 500
    z_dim: int = 20
    likelihood: Literal["bernoulli"] = "bernoulli"

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be >= 1, got {self.hidden}")
        if self.z_dim < 1:
            raise ConfigError(f"z-dim must be >= 1, got {self.z_dim}")
