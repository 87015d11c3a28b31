"""Denoising diffusion (Ho et al. 2020): noise schedules, the epsilon-predicting U-Net with
an EMA of its weights, ancestral and DDIM samplers, and the variational bound in bits/dim."""

from genzoo.models.diffusion.config import DiffusionConfig
from genzoo.models.diffusion.model import EMA, Diffusion
from genzoo.models.diffusion.schedule import Schedule, cosine_betas, linear_betas, make_betas
from genzoo.models.diffusion.unet import UNet

__all__ = [
    "DiffusionConfig",
    "Diffusion",
    "EMA",
    "Schedule",
    "UNet",
    "linear_betas",
    "cosine_betas",
    "make_betas",
]
