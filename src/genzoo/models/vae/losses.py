"""Per-example VAE loss terms, each of shape ``(B,)``, in nats."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["gaussian_kl", "bernoulli_nll", "gaussian_log_prob", "standard_normal_log_prob"]

_LOG_2PI = 1.8378770664093453


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form; ``(B, D) -> (B,)``.

    = 0.5 * sum(exp(logvar) + mu^2 - 1 - logvar)   (Kingma & Welling 2014, appendix B)
    """
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=-1)


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log Bernoulli(x | sigmoid(logits)) summed over all but the batch dim; ``-> (B,)``.

    Computed from logits (BCE-with-logits), never as the log of a sigmoid.
    """
    nll = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none")
    return nll.flatten(1).sum(dim=1)


def gaussian_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z | mu, diag exp(logvar)) summed over the last dim; ``(..., D) -> (...)``."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) * (-logvar).exp()).sum(dim=-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z | 0, I) summed over the last dim; ``(..., D) -> (...)``."""
    return -0.5 * (_LOG_2PI + z.pow(2)).sum(dim=-1)
