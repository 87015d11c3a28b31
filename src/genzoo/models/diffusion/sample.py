"""Samplers: DDPM's ancestral sampler over all T steps and DDIM over a subsequence.

Both take the noise predictor as a function ``eps_fn(x_t, t) -> eps`` (``(B, ...)``,
``(B,)`` -> ``(B, ...)``), so they run on any predictor, trained or analytic, and draw every
random number from the ``generator`` they are given. The predicted ``x_0`` is clipped to
[-1, 1] at every step (Ho et al. 2020's sampler).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genzoo.models.diffusion.model import randn
from genzoo.models.diffusion.schedule import Schedule

__all__ = ["ancestral", "ddim", "ddim_steps", "EpsFn"]

EpsFn = Callable[[Tensor, Tensor], Tensor]


def _keep(trajectory: list[Tensor] | None, x: Tensor) -> None:
    if trajectory is not None:
        trajectory.append(x.clone())


@torch.no_grad()
def ancestral(
    eps_fn: EpsFn, schedule: Schedule, x_T: Tensor, generator: torch.Generator,
    variance: str = "small", trajectory: list[Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """Ho et al. (2020), algorithm 2: ``x_{t-1} = mu_theta(x_t, t) + sigma_t z`` for ``t = T-1 ..
    0`` (no noise at the last step). ``x_T`` ``(B, ...)`` -> ``x_0`` ``(B, ...)``; the states
    ``x_T, ..., x_0`` are appended to ``trajectory`` when one is given."""
    x = x_T
    _keep(trajectory, x)
    for step in reversed(range(schedule.timesteps)):
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        mean, logvar, _ = schedule.p_mean_logvar(x, t, eps_fn(x, t), variance)
        x = mean + (0.5 * logvar).exp() * randn(tuple(x.shape), generator, x) if step else mean
        _keep(trajectory, x)
    return x


def ddim_steps(timesteps: int, steps: int) -> Tensor:
    """``steps`` evenly spaced steps of ``0 .. T-1``, increasing, first 0 and last T-1
    (all of them when ``steps >= T``): ``(S,)`` int64."""
    steps = min(steps, timesteps)
    if steps == 1:
        return torch.tensor([timesteps - 1])
    return torch.linspace(0, timesteps - 1, steps, dtype=torch.float64).round().long().unique()


@torch.no_grad()
def ddim(
    eps_fn: EpsFn, schedule: Schedule, x_T: Tensor, generator: torch.Generator,
    steps: int, eta: float = 0.0, trajectory: list[Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """Song et al. (2021), eq. 12, over the steps ``ddim_steps(T, steps)``: from ``x_t`` to the
    previous kept step ``s``, ``x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) eps +
    sigma z`` with ``sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)``.
    ``eta = 0`` is deterministic; ``eta = 1`` with every step is the ancestral sampler with the
    ``small`` variance. ``x_T`` ``(B, ...)`` -> ``x_0``; states go to ``trajectory``."""
    seq = ddim_steps(schedule.timesteps, steps).tolist()
    abar = schedule.alphas_bar
    x = x_T
    _keep(trajectory, x)
    for i in reversed(range(len(seq))):
        t = torch.full((x.shape[0],), seq[i], dtype=torch.long, device=x.device)
        x0 = schedule.predict_x0(x, t, eps_fn(x, t)).clamp(-1, 1)
        eps = schedule.predict_eps(x, t, x0)
        a_t = float(abar[seq[i]])
        a_s = float(abar[seq[i - 1]]) if i > 0 else 1.0
        sigma = eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)) ** 0.5
        x = a_s**0.5 * x0 + max(1 - a_s - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            x = x + sigma * randn(tuple(x.shape), generator, x)
        _keep(trajectory, x)
    return x
