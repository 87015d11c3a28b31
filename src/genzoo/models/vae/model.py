"""The VAE module: Gaussian encoder q(z|x), standard normal prior, decoder likelihood p(x|z)
(Kingma & Welling 2014), with the single-sample reparameterised ELBO and closed-form KL."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo.maths import gaussian_kl, log_mean_exp, standard_normal_log_prob
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.likelihoods import make_likelihood
from genzoo.models.vae.networks import make_decoder, make_encoder

__all__ = ["VAE", "VAEOutput"]


@dataclass
class VAEOutput:
    """Per-example terms ``(B,)`` (nats) and the latent sample ``(B, D)``.

    With ``k`` importance samples (``forward(x, gen, k)``): ``loss`` is minus the IWAE bound
    ``log mean_i w_i``, ``recon + kl`` minus the k-sample ELBO ``mean_i log w_i`` (``kl`` still
    in closed form), ``z`` the first sample and ``log_weights`` all of them ``(k, B)``.
    """

    loss: Tensor  # negative ELBO = recon + kl (minus the IWAE bound with k samples)
    recon: Tensor  # -log p(x|z), one sample z ~ q(z|x)
    kl: Tensor  # KL(q(z|x) || p(z)), closed form
    z: Tensor
    mu: Tensor
    logvar: Tensor
    log_weights: Tensor | None = None  # (k, B) with k importance samples


class VAE(nn.Module):
    """Gaussian encoder, standard normal prior, Bernoulli or discretised-logistic decoder, for
    images of ``shape`` ``(C, H, W)``; the Bernoulli likelihood takes one channel only."""

    def __init__(self, cfg: VAEConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.cfg = cfg
        self.shape = tuple(shape)
        if cfg.likelihood == "bernoulli" and shape[0] != 1:
            raise ConfigError(
                f"the bernoulli likelihood models binarised one-channel images, not "
                f"{'x'.join(map(str, shape))}: use --likelihood logistic"
            )
        self.likelihood = make_likelihood(cfg.likelihood)
        self.encoder = make_encoder(
            cfg.arch, self.shape, cfg.hidden, cfg.z_dim, cfg.channels, cfg.res_blocks
        )
        self.decoder = make_decoder(
            cfg.arch, self.shape, cfg.hidden, cfg.z_dim, cfg.channels,
            self.likelihood.param_channels, cfg.res_blocks,
        )  # fmt: skip

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data in the likelihood's view ``(B, C, H, W)`` -> ``(mu, logvar)``, each ``(B, D)``."""
        dtype = next(self.parameters()).dtype
        mu, logvar = self.encoder(self.likelihood.encoder_input(x, dtype)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """``(..., D) -> (..., P * C, H, W)`` likelihood parameters (logits for Bernoulli)."""
        params = self.decoder(z.reshape(-1, z.shape[-1]))
        return params.view(*z.shape[:-1], *params.shape[1:])

    def forward(self, x: Tensor, generator: torch.Generator | None = None, k: int = 0) -> VAEOutput:
        """Single-sample negative ELBO of ``x`` ``(B, C, H, W)`` in the likelihood's view, or
        with ``k >= 1`` minus the IWAE bound of ``k`` importance samples (Burda et al. 2016)."""
        mu, logvar = self.encode(x)
        if k >= 1:
            return self._iwae(x, mu, logvar, k, generator)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = -self.likelihood.log_prob(self.decode(z), x)
        kl = gaussian_kl(mu.to(recon.dtype), logvar.to(recon.dtype))
        return VAEOutput(recon + kl, recon, kl, z, mu, logvar)

    def _iwae(
        self, x: Tensor, mu: Tensor, logvar: Tensor, k: int, generator: torch.Generator | None
    ) -> VAEOutput:
        lw, z = self._log_weights(x, mu, logvar, k, generator)  # (k, B), (k, B, D)
        kl = gaussian_kl(mu.to(lw.dtype), logvar.to(lw.dtype))
        neg_elbo = -lw.mean(dim=0)
        return VAEOutput(-log_mean_exp(lw, dim=0), neg_elbo - kl, kl, z[0], mu, logvar, lw)

    def log_weights(
        self, x: Tensor, mu: Tensor, logvar: Tensor, k: int, generator: torch.Generator | None
    ) -> Tensor:
        """Importance log-weights ``log p(x, z_i) - log q(z_i | x)``, ``z_i ~ q``: ``(k, B)``.

        ``mu``, ``logvar`` ``(B, D)`` are the encoder's output for ``x`` (computed once).
        """
        return self._log_weights(x, mu, logvar, k, generator)[0]

    def _log_weights(
        self, x: Tensor, mu: Tensor, logvar: Tensor, k: int, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
        # change of variables z = mu + sigma * eps: log q(z|x) = log N(eps | 0, I) - sum(log sigma)
        log_q = standard_normal_log_prob(eps) - 0.5 * logvar.sum(dim=-1)
        log_p = self.likelihood.log_prob(self.decode(z), x) + standard_normal_log_prob(z)
        return log_p - log_q, z

    def prior_log_likelihoods(self, x: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
        """``log p(x | z_i)``, ``z_i`` drawn from the prior (the naive estimator): ``(k, B)``."""
        shape = (k, x.shape[0], self.cfg.z_dim)
        dtype = next(self.parameters()).dtype
        z = torch.randn(shape, generator=generator, device=x.device, dtype=dtype)
        return self.likelihood.log_prob(self.decode(z), x)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, mean: bool = False
    ) -> Tensor:
        """Ancestral samples ``(n, C, H, W)`` in [0, 1]: draws from p(x|z), or its means.

        Bernoulli: a pixel is 1 with probability ``sigmoid(logit)`` (the report's code used 1 - p).
        """
        p = next(self.parameters())
        z = torch.randn(n, self.cfg.z_dim, generator=generator, device=p.device, dtype=p.dtype)
        params = self.decode(z)
        if mean:
            return self.likelihood.mean(params)
        return self.likelihood.sample(params, generator)

    @torch.no_grad()
    def mean_image(self, z: Tensor) -> Tensor:
        """Decoder means ``(B, C, H, W)`` in [0, 1] for latents ``(B, D)``."""
        return self.likelihood.mean(self.decode(z))
