"""What the VAE's training step minimises besides the plain negative ELBO: a KL weight that
warms up from 0 to 1 (Bowman et al. 2016; Sonderby et al. 2016) and free bits, a floor on the
KL of every latent dimension (Kingma et al. 2016, "Improved variational inference with inverse
autoregressive flow", eq. 15). The IWAE objective is ``VAE.forward(x, gen, k)``.

Both reshape only the gradient of the KL term: the bound that is reported stays the ELBO.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.maths import gaussian_kl

__all__ = ["kl_weight", "kl_per_dim", "free_bits_kl"]


def kl_weight(epochs_done: float, warmup_epochs: float) -> float:
    """The KL weight after ``epochs_done`` (fractional) epochs: ``min(1, epochs_done /
    warmup_epochs)``, rising linearly from 0 at the first update; 1 when ``warmup_epochs`` is 0.
    """
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, max(0.0, epochs_done) / warmup_epochs)


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """Closed-form ``KL(q(z_d | x) || N(0, 1))`` of every latent dimension: ``(B, D) -> (B, D)``."""
    return gaussian_kl(mu.unsqueeze(-1), logvar.unsqueeze(-1))


def free_bits_kl(kl_dims: Tensor, nats: float) -> Tensor:
    """``sum_d max(nats, mean_b KL_bd)``: the KL term with free bits, a scalar (nats per example).

    ``kl_dims`` ``(B, D)`` from ``kl_per_dim``. A dimension whose KL, averaged over the batch,
    is below ``nats`` adds the constant ``nats`` and no gradient, so the encoder is not pushed to
    collapse it onto the prior; above it the term is the plain KL. ``nats = 0``: the mean KL.
    """
    per_dim = kl_dims.mean(dim=0)  # (D,)
    return torch.clamp(per_dim, min=nats).sum()
