"""Importance-sampled log-likelihood of a VAE, batched over examples and chunked over samples.

For each batch of examples the encoder runs once; the k proposals are then drawn ``chunk`` at a
time (``chunk * B`` decoder rows, a few MB), and only running log-sum-exps are kept
(``LogWeightStats``), so memory does not grow with k.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genzoo.maths import gaussian_kl
from genzoo.models.vae.bounds import LogWeightStats
from genzoo.models.vae.model import VAE

__all__ = ["stream_log_weights", "importance_stats", "naive_stats", "ROWS_PER_CHUNK"]

ROWS_PER_CHUNK = 2048  # decoder rows (samples x examples) per chunk: ~6 MB of logits


def stream_log_weights(draw: Callable[[int], Tensor], k: int, chunk: int) -> LogWeightStats:
    """Call ``draw(c) -> (c, B)`` log-weights until ``k`` samples are in; their statistics."""
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be >= 1, got {k} and {chunk}")
    stats = LogWeightStats()
    while stats.k < k:
        stats.update(draw(min(chunk, k - stats.k)))
    return stats


def _chunk(batch: int, rows: int) -> int:
    return max(1, rows // max(batch, 1))


@torch.no_grad()
def importance_stats(
    model: VAE, x: Tensor, k: int, generator: torch.Generator, rows: int = ROWS_PER_CHUNK
) -> tuple[LogWeightStats, Tensor]:
    """Log-weight statistics of ``k`` draws from q(z|x) for ``x`` ``(B, C, H, W)``, and the
    closed-form KL ``(B,)``."""
    mu, logvar = model.encode(x)
    stats = stream_log_weights(
        lambda c: model.log_weights(x, mu, logvar, c, generator), k, _chunk(x.shape[0], rows)
    )
    return stats, gaussian_kl(mu.double(), logvar.double())


@torch.no_grad()
def naive_stats(
    model: VAE, x: Tensor, k: int, generator: torch.Generator, rows: int = ROWS_PER_CHUNK
) -> LogWeightStats:
    """Statistics of ``log p(x | z_i)`` for ``k`` draws ``z_i`` from the prior (naive MC)."""
    return stream_log_weights(
        lambda c: model.prior_log_likelihoods(x, c, generator), k, _chunk(x.shape[0], rows)
    )
