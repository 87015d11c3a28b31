"""Configuration of the VAE family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt

__all__ = ["VAEConfig"]


@dataclass(frozen=True)
class VAEConfig:
    """VAE architecture. Defaults are the report's: 784-500-(mu, log sigma^2), z=20, z-500-784
    (784 = C*H*W of MNIST; the networks are sized from the data's shape).

    - ``arch``: ``mlp`` (one hidden layer each way) or ``conv`` (two strided convolutions with
      ``channels`` and ``2 * channels`` filters down to H/4 x W/4, then a ``hidden`` layer;
      mirrored decoder, exact for any H, W >= 4).
    - ``likelihood``: ``bernoulli`` on dynamically binarised one-channel images, or
      ``logistic``, a discretised logistic per channel on the 8-bit images (nats comparable with
      a flow's; the one for RGB).
    """

    arch: Literal["mlp", "conv"] = opt(
        "mlp", "encoder/decoder: mlp, or conv (strided convolutions)"
    )
    hidden: int = opt(500, "width of the hidden layer(s)", ge=1)
    z_dim: int = opt(20, "latent dimensions", ge=1)
    likelihood: Literal["bernoulli", "logistic"] = opt(
        "bernoulli", "decoder p(x|z): bernoulli (binarised) or logistic (8-bit)"
    )
    channels: int = opt(32, "filters of the first conv layer (conv arch only)", ge=1)

    def __post_init__(self) -> None:
        check_fields(self)
