"""Per-example GAN losses from discriminator logits, each of shape ``(B,)``, in nats.

With ``D(x) = sigmoid(l)``: ``-log D(x) = softplus(-l)`` and ``-log(1 - D(x)) = softplus(l)``;
everything is computed from logits with BCE-with-logits, never as the log of a sigmoid.
Goodfellow et al. (2014), eq. 1 and section 3 (the non-saturating generator objective).
The hinge losses (Lim & Ye 2017; Miyato et al. 2018) and the R1 penalty (Mescheder et al.
2018) are the DCGAN's options.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "discriminator_loss",
    "generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "r1_penalty",
    "EQUILIBRIUM_D_LOSS",
]

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


def _wide(logits: Tensor) -> Tensor:
    return logits if logits.dtype == torch.float64 else logits.float()


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``max(0, 1 - D(x)) + max(0, 1 + D(G(z)))`` on logits; ``(B,), (B,) -> (B,)``."""
    return F.relu(1.0 - _wide(real_logits)) + F.relu(1.0 + _wide(fake_logits))


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """``-D(G(z))`` on logits; ``(B,) -> (B,)``."""
    return -_wide(fake_logits)


def r1_penalty(real_logits: Tensor, x: Tensor, gamma: float) -> Tensor:
    """``gamma / 2 * ||grad_x D(x)||^2`` per example, differentiable (for D's update).

    ``real_logits`` ``(B,)`` must come from ``x`` ``(B, C, H, W)`` with ``x.requires_grad``.
    Row i is the gradient of the batch's summed logits with respect to ``x_i``: exactly
    ``grad D(x_i)`` when each logit depends on its own image only (D without BatchNorm, or in
    eval mode); with BatchNorm in training mode it also holds the batch statistics' share.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)
    return 0.5 * gamma * grad.pow(2).flatten(1).sum(1)  # (B,)
