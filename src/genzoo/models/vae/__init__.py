"""Variational autoencoder (Kingma & Welling 2014) with a Gaussian encoder and a Bernoulli or
discretised-logistic decoder; IWAE bounds and importance-sampled likelihoods (Burda et al. 2016).
"""

from genzoo.models.vae.bounds import LogWeightStats, effective_sample_size, iwae_bound
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.likelihoods import Bernoulli, DiscretizedLogistic
from genzoo.models.vae.losses import bernoulli_nll, gaussian_kl
from genzoo.models.vae.model import VAE, VAEOutput

__all__ = [
    "VAE",
    "VAEConfig",
    "VAEOutput",
    "gaussian_kl",
    "bernoulli_nll",
    "iwae_bound",
    "effective_sample_size",
    "LogWeightStats",
    "Bernoulli",
    "DiscretizedLogistic",
]
