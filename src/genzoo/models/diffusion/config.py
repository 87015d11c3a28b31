"""Configuration of the diffusion family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt
from genzoo.errors import ConfigError

__all__ = ["DiffusionConfig"]


@dataclass(frozen=True)
class DiffusionConfig:
    """DDPM (Ho et al. 2020): noise schedule, the epsilon-predicting U-Net, EMA.

    - ``schedule``: ``linear`` betas from 1e-4 to 0.02 (scaled by 1000 / ``timesteps``), or the
      ``cosine`` schedule of Nichol & Dhariwal (2021).
    - ``variance``: the fixed reverse variance, ``small`` = the posterior's beta-tilde (the
      tighter bound) or ``large`` = beta (Ho et al. 2020, section 3.2).
    - U-Net: ``channels`` at full resolution times ``channel_mult`` per resolution (halving the
      image between them while its sides are even and at least 8: 28 -> 14 -> 7, 32 -> 16 ->
      8), ``blocks`` residual blocks per resolution, one self-attention layer at the lowest
      resolution if ``attention``.
    """

    timesteps: int = opt(1000, "diffusion steps T", ge=2)
    schedule: Literal["linear", "cosine"] = opt("linear", "noise schedule: linear or cosine")
    variance: Literal["small", "large"] = opt(
        "small", "reverse variance: small (posterior beta-tilde) or large (beta)"
    )
    # its cost on a CPU is measured beside the family's train_defaults
    channels: int = opt(16, "U-Net channels at full resolution", ge=1)
    channel_mult: tuple[int, ...] = opt((1, 2, 2), "channel multiplier per resolution", ge=1)
    blocks: int = opt(1, "residual blocks per resolution", ge=1)
    attention: bool = opt(True, "self-attention at the lowest resolution")
    groups: int = opt(8, "GroupNorm groups (at most the channels, and dividing them)", ge=1)
    dropout: float = opt(0.0, "dropout in the residual blocks", ge=0, lt=1)
    ema_decay: float = opt(0.999, "EMA decay of the sampling weights (0: no averaging)", ge=0, lt=1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.channel_mult:
            raise ConfigError("channel-mult needs at least one resolution")
