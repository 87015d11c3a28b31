"""Per-example GAN losses from discriminator logits, each of shape ``(B,)``, in nats.

With ``D(x) = sigmoid(l)``: ``-log D(x) = softplus(-l)`` and ``-log(1 - D(x)) = softplus(l)``;
everything is computed from logits with BCE-with-logits, never as the log of a sigmoid.
Goodfellow et al. (2014), eq. 1 and section 3 (the non-saturating generator objective).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["discriminator_loss", "generator_loss", "EQUILIBRIUM_D_LOSS"]

EQUILIBRIUM_D_LOSS = 1.3862943611198906  # log 4: D's loss when D(x) = D(G(z)) = 1/2


def _bce(logits: Tensor, target: float) -> Tensor:
    """BCE-with-logits against a constant target, in float32 (float64 stays float64)."""
    logits = logits if logits.dtype == torch.float64 else logits.float()
    return F.binary_cross_entropy_with_logits(
        logits, torch.full_like(logits, target), reduction="none"
    )


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``-log D(x) - log(1 - D(G(z)))`` per example; ``(B,), (B,) -> (B,)``.

    Pairs the i-th real with the i-th fake example (both batches have the same size ``B``).
    """
    return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def generator_loss(fake_logits: Tensor, kind: str = "nonsaturating") -> Tensor:
    """The generator's loss per example; ``(B,) -> (B,)``.

    - ``nonsaturating``: ``-log D(G(z))`` (strong gradients when D rejects the fakes).
    - ``minimax``: ``log(1 - D(G(z)))`` (the value function itself; saturates early on).
    """
    if kind == "nonsaturating":
        return _bce(fake_logits, 1.0)
    if kind == "minimax":
        return -_bce(fake_logits, 0.0)
    raise ValueError(f"unknown generator loss {kind!r}")
