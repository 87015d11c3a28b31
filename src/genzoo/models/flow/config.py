"""Configuration of the flow family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.errors import ConfigError

__all__ = ["FlowConfig"]


@dataclass(frozen=True)
class FlowConfig:
    """Flow architecture and preprocessing.

    ``arch="mlp"`` is the report's flow: ``pairs`` pairs of checkerboard affine couplings with
    ``784 -> hidden -> hidden -> 2*784`` ReLU conditioners. ``arch="realnvp"`` is the multi-scale
    flow of Dinh et al. (2017) with ``scales`` factor-out levels and residual conditioners of
    ``channels`` channels and ``blocks`` blocks, ActNorm after each coupling if ``actnorm``.
    ``alpha``: the squeeze ``alpha + (1 - 2 alpha) x`` before the logit (RealNVP's 0.05).
    """

    arch: Literal["mlp", "realnvp"] = "mlp"
    alpha: float = 0.05
    pairs: int = 4
    hidden: int = 1024
    scales: int = 2
    channels: int = 64
    blocks: int = 4
    actnorm: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha < 0.5:
            raise ConfigError(f"alpha must lie in [0, 0.5), got {self.alpha}")
        for name in ("pairs", "hidden", "scales", "channels", "blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.scales > 2:
            raise ConfigError(f"scales must be 1 or 2 for 28x28 images, got {self.scales}")
