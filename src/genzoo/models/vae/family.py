"""Registers the VAE family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.model import VAE
from genzoo.models.vae.step import VAEStep
from genzoo.registry import Family

__all__ = ["FAMILY"]


def _sample(model: VAE, n: int, generator: torch.Generator, mean: bool = False, **_: Any) -> Tensor:
    return model.sample(n, generator, mean=mean)


FAMILY = Family(
    name="vae",
    description="variational autoencoder, Gaussian encoder and Bernoulli decoder",
    config_cls=VAEConfig,
    build=VAE,
    make_step=VAEStep,
    data_view=lambda cfg: "binary",
    train_defaults=TrainConfig(
        epochs=40, batch_size=128, lr=1e-3, sample_epochs=(0, 10, 20, 30, 40)
    ),
    sample=_sample,
)
