"""Configuration of the VAE family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt
from genzoo.errors import ConfigError

__all__ = ["VAEConfig"]


@dataclass(frozen=True)
class VAEConfig:
    """VAE architecture. Defaults are the report's: 784-500-(mu, log sigma^2), z=20, z-500-784
    (784 = C*H*W of MNIST; the networks are sized from the data's shape).

    - ``arch``: ``mlp`` (one hidden layer each way) or ``conv`` (two strided convolutions with
      ``channels`` and ``2 * channels`` filters down to H/4 x W/4, then a ``hidden`` layer;
      mirrored decoder, exact for any H, W >= 4).
      ``resconv``: the same strided convolutions with ``res_blocks`` residual blocks after
      each (in the decoder before each transposed convolution).
    - ``likelihood``: ``bernoulli`` on dynamically binarised one-channel images, or
      ``logistic``, a discretised logistic per channel on the 8-bit images (nats comparable with
      a flow's; the one for RGB).
    - ``objective``: ``elbo`` (single sample, closed-form KL, optionally with ``kl_warmup`` or
      ``free_bits``) or ``iwae``, the importance-weighted bound with ``k_train`` samples (Burda
      et al. 2016). Validation reports the trained bound.
    """

    arch: Literal["mlp", "conv", "resconv"] = opt(
        "mlp", "encoder/decoder: mlp, conv (strided convolutions) or resconv (with residual blocks)"
    )
    hidden: int = opt(500, "width of the hidden layer(s)", ge=1)
    z_dim: int = opt(20, "latent dimensions", ge=1)
    likelihood: Literal["bernoulli", "logistic"] = opt(
        "bernoulli", "decoder p(x|z): bernoulli (binarised) or logistic (8-bit)"
    )
    channels: int = opt(32, "filters of the first conv layer (conv arch only)", ge=1)
    res_blocks: int = opt(1, "residual blocks per resolution (resconv arch only)", ge=1)
    objective: Literal["elbo", "iwae"] = opt(
        "elbo", "training bound: elbo, or iwae (importance-weighted, k-train samples)"
    )
    k_train: int = opt(5, "importance samples per example of the iwae objective", ge=1)
    kl_warmup: float = opt(
        0.0, "epochs over which the KL weight rises linearly from 0 to 1 (0: off; elbo)", ge=0
    )
    free_bits: float = opt(
        0.0, "least KL per latent dimension (nats, batch mean) in the loss (0: off; elbo)", ge=0
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.objective == "iwae" and (self.kl_warmup > 0 or self.free_bits > 0):
            raise ConfigError("kl-warmup and free-bits apply to the elbo objective, not iwae")
