"""Registers the VAE family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.evaluate import evaluate_vae
from genzoo.models.vae.likelihoods import make_likelihood
from genzoo.models.vae.model import VAE
from genzoo.models.vae.step import VAEStep
from genzoo.registry import Family

__all__ = ["FAMILY"]


def _sample(model: VAE, n: int, generator: torch.Generator, mean: bool = False, **_: Any) -> Tensor:
    return model.sample(n, generator, mean=mean)


@torch.no_grad()
def _encode(model: VAE, x: Tensor) -> Tensor:
    """Data in the family's view ``(B, 1, 28, 28)`` -> posterior means ``(B, D)``."""
    return model.encode(x)[0]


@torch.no_grad()
def _decode(model: VAE, z: Tensor) -> Tensor:
    """Latents ``(B, D)`` -> decoder means ``(B, 1, 28, 28)`` in [0, 1]."""
    return model.mean_image(z)


FAMILY = Family(
    name="vae",
    description="variational autoencoder, Gaussian encoder, Bernoulli or logistic decoder",
    config_cls=VAEConfig,
    build=VAE,
    make_step=VAEStep,
    data_view=lambda cfg: make_likelihood(cfg.likelihood).view,
    train_defaults=TrainConfig(
        epochs=40, batch_size=128, lr=1e-3, sample_epochs=(0, 10, 20, 30, 40)
    ),
    sample=_sample,
    evaluate=evaluate_vae,
    encode=_encode,
    decode=_decode,
    latent_dim=lambda cfg: cfg.z_dim,
)
