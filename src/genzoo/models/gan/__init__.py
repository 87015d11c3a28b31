"""Generative adversarial networks (Goodfellow et al. 2014): the report's MLP GAN and a DCGAN."""

from genzoo.models.gan.config import GANConfig
from genzoo.models.gan.losses import discriminator_loss, generator_loss
from genzoo.models.gan.model import GAN

__all__ = ["GAN", "GANConfig", "discriminator_loss", "generator_loss"]
