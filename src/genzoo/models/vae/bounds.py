"""Pure functions of importance log-weights: effective sample size, standard errors and a
streaming accumulator (Burda et al. 2016; report section 1.4). The IWAE bound itself is
``genzoo.maths.log_mean_exp`` of the log-weights.

With weights ``w_i = p(x, z_i) / q(z_i | x)`` and ``z_i ~ q``, ``mean(w)`` is an unbiased estimate
of ``p(x)``; its log, ``IWAE_k = logsumexp(log w) - log k``, is a lower bound on ``log p(x)`` in
expectation that grows with ``k`` and equals the ELBO at ``k = 1``. The **naive estimator**
takes ``q = p(z)``, the prior, so ``w_i = p(x | z_i)``. In 20 dimensions almost no prior draw
lands where the posterior has its mass: one weight dominates the sum, the effective sample size
``(sum w)^2 / sum w^2`` is about 1 and the estimate is far below ``log p(x)`` with a standard
error that itself is unreliable. Everything is computed in log space.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["effective_sample_size", "log_mean_stderr", "LogWeightStats"]


def effective_sample_size(log_weights: Tensor, dim: int = 0) -> Tensor:
    """Kish's ESS ``(sum w)^2 / sum w^2`` in [1, k]; ``(k, B) -> (B,)``."""
    return torch.exp(
        2 * torch.logsumexp(log_weights, dim=dim) - torch.logsumexp(2 * log_weights, dim=dim)
    )


def log_mean_stderr(ess: Tensor, k: int) -> Tensor:
    """Standard error (nats) of ``log mean(w)`` by the delta method, from the ESS of k weights.

    ``SE(mean w) / mean w = sqrt(var(w) / k) / mean(w) = sqrt(1 / ESS - 1 / k)`` (with the
    plug-in variance ``mean(w^2) - mean(w)^2``).
    """
    return torch.sqrt((1.0 / ess - 1.0 / k).clamp(min=0.0))


class LogWeightStats:
    """Streams chunks of log-weights ``(c, B)`` for the same B examples, in bounded memory.

    Keeps ``logsumexp(log w)``, ``logsumexp(2 log w)`` and ``sum(log w)`` per example, so that
    ``k`` can be far larger than what fits in memory at once.
    """

    def __init__(self) -> None:
        self.k = 0
        self._lse: Tensor | None = None
        self._lse2: Tensor | None = None
        self._sum: Tensor | None = None

    def update(self, log_weights: Tensor) -> None:
        """Add a chunk ``(c, B)`` of log-weights (accumulated in float64)."""
        lw = log_weights.double()
        lse, lse2, s = torch.logsumexp(lw, 0), torch.logsumexp(2 * lw, 0), lw.sum(0)
        if self._lse is None:
            self._lse, self._lse2, self._sum = lse, lse2, s
        else:
            self._lse = torch.logaddexp(self._lse, lse)
            self._lse2 = torch.logaddexp(self._lse2, lse2)
            self._sum = self._sum + s
        self.k += lw.shape[0]

    def log_mean(self) -> Tensor:
        """``log mean(w)``, i.e. ``IWAE_k`` for proposals from q; ``(B,)``."""
        return self._lse - math.log(self.k)

    def mean_log(self) -> Tensor:
        """``mean(log w)``, the k-sample estimate of the ELBO; ``(B,)``."""
        return self._sum / self.k

    def ess(self) -> Tensor:
        """Effective sample size ``(B,)``."""
        return torch.exp(2 * self._lse - self._lse2)

    def stderr(self) -> Tensor:
        """Standard error (nats) of ``log_mean`` ``(B,)``."""
        return log_mean_stderr(self.ess(), self.k)
