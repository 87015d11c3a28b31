"""Variational autoencoder (Kingma & Welling 2014): Gaussian encoder, Bernoulli decoder."""

from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.losses import bernoulli_nll, gaussian_kl
from genzoo.models.vae.model import VAE, VAEOutput

__all__ = ["VAE", "VAEConfig", "VAEOutput", "gaussian_kl", "bernoulli_nll"]
