"""The variational bound of DDPM on 8-bit images, in nats (Ho et al. 2020, eq. 5 and 13).

``-log p(x_0) <= L_T + sum_{t>=1} L_{t-1} + L_0`` with (code steps ``t = 0 .. T-1``)

- ``L_T = KL(q(x_T | x_0) || N(0, I))``, the prior term;
- ``L_t = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))`` for ``t >= 1``, ``x_t ~ q(x_t | x_0)``;
- ``L_0 = -log p(x_0 | x_1)``, the discretised Gaussian decoder: the mass of ``N(mu, sigma^2)``
  on the 8-bit bin of each pixel (width 2/255 in [-1, 1], the outer bins reaching to +-inf).

Because the decoder is a distribution over the 256 pixel values, the bound is on the NLL of
the 8-bit images themselves and its bits/dim compare with a flow's. Every term is summed over
the pixels and returned per example ``(B,)``, in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.models.diffusion.model import randn
from genzoo.models.diffusion.sample import EpsFn
from genzoo.models.diffusion.schedule import Schedule

__all__ = [
    "normal_kl",
    "discretized_gaussian_log_prob",
    "prior_term",
    "step_term",
    "bound_terms",
    "estimate_bound",
    "strata",
    "BIN",
]

BIN = 1.0 / 255.0  # half the width of one 8-bit bin of [-1, 1]
STRATA_POWER = 3.0  # strata of the sampled steps narrow towards t = 1 (see ``strata``)


def normal_kl(m1: Tensor, logv1: Tensor, m2: Tensor, logv2: Tensor) -> Tensor:
    """``KL(N(m1, e^logv1) || N(m2, e^logv2))`` elementwise (arguments broadcast), nats."""
    return 0.5 * (logv2 - logv1 + (logv1 - logv2).exp() + (m1 - m2).pow(2) * (-logv2).exp() - 1)


def _log_diff_ndtr(a: Tensor, b: Tensor) -> Tensor:
    """``log(Phi(b) - Phi(a))`` for ``a < b``, stable in both tails (reflects to the left)."""
    flip = (a + b) > 0
    a, b = torch.where(flip, -b, a), torch.where(flip, -a, b)
    lb, la = torch.special.log_ndtr(b), torch.special.log_ndtr(a)
    return lb + (-torch.expm1(la - lb)).clamp(min=torch.finfo(lb.dtype).tiny).log()


def discretized_gaussian_log_prob(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """``log P(x)`` elementwise for 8-bit pixels ``x`` in [-1, 1] (values ``k / 127.5 - 1``)
    under ``N(mean, e^logvar)`` integrated over each pixel's bin; ``-1`` and ``1`` take the
    tails."""
    inv = (-0.5 * logvar).exp()
    lo, hi = (x - BIN - mean) * inv, (x + BIN - mean) * inv
    inner = _log_diff_ndtr(lo, hi)
    left = torch.special.log_ndtr(hi)  # x = -1: P(X < -1 + 1/255)
    right = torch.special.log_ndtr(-lo)  # x = 1: P(X > 1 - 1/255)
    return torch.where(x < -1 + BIN, left, torch.where(x > 1 - BIN, right, inner))


def prior_term(schedule: Schedule, x0: Tensor) -> Tensor:
    """``L_T = KL(q(x_T | x_0) || N(0, I))`` summed over pixels: ``(B, ...)`` -> ``(B,)``."""
    t = torch.full((x0.shape[0],), schedule.timesteps - 1, dtype=torch.long, device=x0.device)
    mean, var = schedule.q_mean_var(x0, t)
    kl = normal_kl(mean, var.log(), torch.zeros_like(mean), torch.zeros_like(var))
    return kl.flatten(1).sum(1)


def step_term(
    eps_fn: EpsFn, schedule: Schedule, x0: Tensor, t: Tensor, noise: Tensor, variance: str
) -> Tensor:
    """``L_t`` at per-example steps ``t`` ``(B,)`` with ``x_t = q_sample(x_0, t, noise)``: the KL
    for ``t >= 1``, the decoder's NLL for ``t = 0``; summed over pixels ``(B,)``."""
    xt = schedule.q_sample(x0, t, noise)
    mean, logvar, _ = schedule.p_mean_logvar(xt, t, eps_fn(xt, t), variance)
    q_mean, q_var = schedule.posterior(x0, xt, t)
    first = (t == 0).reshape(-1, *([1] * (x0.dim() - 1)))
    q_logvar = torch.where(first, 0.0, q_var.clamp(min=1e-300).log())  # unused at t = 0
    kl = normal_kl(q_mean, q_logvar, mean, logvar)
    nll = -discretized_gaussian_log_prob(x0, mean, logvar)
    return torch.where(first, nll, kl).flatten(1).sum(1)


def bound_terms(
    eps_fn: EpsFn, schedule: Schedule, x0: Tensor, generator: torch.Generator, variance: str
) -> Tensor:
    """Every term ``[L_0, L_1, ..., L_{T-1}, L_T]`` of the bound: ``(B, T + 1)`` nats (T + 1
    network calls; for tests and small subsets)."""
    terms = []
    for step in range(schedule.timesteps):
        t = torch.full((x0.shape[0],), step, dtype=torch.long, device=x0.device)
        noise = randn(tuple(x0.shape), generator, x0)
        terms.append(step_term(eps_fn, schedule, x0, t, noise, variance))
    terms.append(prior_term(schedule, x0))
    return torch.stack(terms, 1)


def strata(timesteps: int, t_samples: int, power: float = STRATA_POWER) -> list[int]:
    """Edges ``[1 = e_0 < e_1 < ... < e_K = T]`` of at most ``t_samples`` strata of the steps
    ``1 .. T-1`` (every step its own when ``t_samples`` is 0 or at least ``T - 1``). The edges
    go as ``1 + (T - 1) (k / K)^power``: the small steps, whose terms are the largest and
    vary the most, get the narrowest strata."""
    if t_samples == 0 or t_samples >= timesteps - 1:
        return list(range(1, timesteps + 1))
    k = torch.arange(t_samples + 1, dtype=torch.float64) / t_samples
    return (1 + (timesteps - 1) * k**power).round().long().unique().tolist()


def estimate_bound(
    eps_fn: EpsFn, schedule: Schedule, x0: Tensor, generator: torch.Generator, variance: str,
    t_samples: int,
) -> tuple[Tensor, dict[str, Tensor]]:  # fmt: skip
    """The bound per example ``(B,)`` nats and its parts ``{"prior", "decoder", "steps"}``.

    ``L_T`` and ``L_0`` are exact; the sum of ``L_1 .. L_{T-1}`` is exact when ``t_samples``
    is 0 or at least ``T - 1``, else estimated without bias by stratified sampling: the steps
    are split into at most ``t_samples`` strata (``strata``: narrow at small t) and one uniform
    step per stratum and example is weighted by its stratum's size (``t_samples + 2`` network
    calls at most)."""
    b, T = x0.shape[0], schedule.timesteps
    dev = x0.device
    zero = torch.zeros(b, dtype=torch.long, device=dev)
    decoder = step_term(eps_fn, schedule, x0, zero, randn(tuple(x0.shape), generator, x0), variance)
    edges = strata(T, t_samples)
    steps = torch.zeros(b, dtype=torch.float64, device=dev)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        u = torch.rand(b, generator=generator, device=generator.device, dtype=torch.float64)
        t = (lo + (u * (hi - lo)).floor().long().clamp(max=hi - lo - 1)).to(dev)
        noise = randn(tuple(x0.shape), generator, x0)
        steps = steps + (hi - lo) * step_term(eps_fn, schedule, x0, t, noise, variance).double()
    prior = prior_term(schedule, x0).double()
    parts = {"prior": prior, "decoder": decoder.double(), "steps": steps}
    return prior + decoder.double() + steps, parts
