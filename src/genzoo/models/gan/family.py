"""Registers the GAN family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.models.gan.config import GANConfig
from genzoo.models.gan.model import GAN
from genzoo.models.gan.step import GANStep
from genzoo.registry import Family

__all__ = ["FAMILY"]


def _sample(model: GAN, n: int, generator: torch.Generator, **_: Any) -> Tensor:
    return model.sample(n, generator)


def _decode(model: GAN, z: Tensor) -> Tensor:
    return model.decode(z)


FAMILY = Family(
    name="gan",
    description="generative adversarial network, MLP (the report's) or DCGAN",
    config_cls=GANConfig,
    build=GAN,
    make_step=GANStep,
    data_view=lambda cfg: "signed",
    # the report's schedule; betas (0.5, 0.999) as in DCGAN, the usual choice for GANs
    train_defaults=TrainConfig(
        epochs=200, batch_size=64, lr=5e-4, betas=(0.5, 0.999), sample_epochs=(0, 2, 8, 100, 200)
    ),
    sample=_sample,
    decode=_decode,
    latent_dim=lambda cfg: cfg.z_dim,
)
