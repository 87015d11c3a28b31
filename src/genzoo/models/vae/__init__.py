"""Variational autoencoder (Kingma & Welling 2014) with a Gaussian encoder and a Bernoulli or
discretised-logistic decoder; IWAE bounds and importance-sampled likelihoods (Burda et al. 2016).
"""

from genzoo.models.vae.bounds import LogWeightStats, effective_sample_size
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.likelihoods import Bernoulli, DiscretizedLogistic
from genzoo.models.vae.losses import bernoulli_nll
from genzoo.models.vae.model import VAE, VAEOutput

__all__ = [
    "VAE",
    "VAEConfig",
    "VAEOutput",
    "bernoulli_nll",
    "effective_sample_size",
    "LogWeightStats",
    "Bernoulli",
    "DiscretizedLogistic",
]
