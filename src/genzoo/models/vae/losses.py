"""Per-example VAE loss terms, each of shape ``(B,)``, in nats.

The Gaussian terms (``gaussian_kl``, ``gaussian_log_prob``, ``standard_normal_log_prob``) live
in ``genzoo.maths``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["bernoulli_nll"]


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log Bernoulli(x | sigmoid(logits)) summed over all but the batch dim; ``-> (B,)``.

    Computed from logits (BCE-with-logits), never as the log of a sigmoid.
    """
    nll = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none")
    return nll.flatten(1).sum(dim=1)
