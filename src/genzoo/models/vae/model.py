"""The VAE module: encoder q(z|x), reparameterised sample, decoder p(x|z) logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.losses import bernoulli_nll, gaussian_kl

__all__ = ["VAE", "VAEOutput"]

IMAGE_SHAPE = (1, 28, 28)


@dataclass
class VAEOutput:
    """Per-example terms ``(B,)`` (nats) and the latent sample ``(B, D)``."""

    loss: Tensor  # negative ELBO = recon + kl
    recon: Tensor  # -log p(x|z), one sample z ~ q(z|x)
    kl: Tensor  # KL(q(z|x) || p(z)), closed form
    z: Tensor
    mu: Tensor
    logvar: Tensor


class VAE(nn.Module):
    """Gaussian encoder, standard normal prior, Bernoulli decoder on 28x28 images."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(d, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 2 * cfg.z_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(cfg.z_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, d)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, 1, 28, 28) -> (mu, logvar)``, each ``(B, D)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """``(B, D) -> (B, 1, 28, 28)`` Bernoulli logits."""
        return self.decoder(z).view(-1, *IMAGE_SHAPE)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Single-sample negative ELBO of ``x`` ``(B, 1, 28, 28)`` in {0, 1}."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = bernoulli_nll(self.decode(z), x)
        kl = gaussian_kl(mu.float(), logvar.float())
        return VAEOutput(recon + kl, recon, kl, z, mu, logvar)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, mean: bool = False
    ) -> Tensor:
        """Ancestral samples ``(n, 1, 28, 28)`` in [0, 1]: Bernoulli draws, or their means.

        A pixel is 1 with probability ``sigmoid(logit)`` (the report's code used 1 - p).
        """
        device = next(self.parameters()).device
        z = torch.randn(n, self.cfg.z_dim, generator=generator, device=device)
        p = torch.sigmoid(self.decode(z).float())
        if mean:
            return p
        u = torch.rand(p.shape, generator=generator, device=device)
        return (u < p).float()
