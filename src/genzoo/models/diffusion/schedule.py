"""Noise schedules and the Gaussians of the forward process (Ho et al. 2020, section 2).

Steps are indexed ``t = 0 .. T-1`` in code, the paper's ``t = 1 .. T``: ``x_t`` in code is the
paper's ``x_{t+1}`` and ``x_{-1}`` is the data ``x_0``. Everything is kept in float64 and cast
to the input's dtype when it is used.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["linear_betas", "cosine_betas", "make_betas", "Schedule"]


def linear_betas(timesteps: int, max_beta: float = 0.999) -> Tensor:
    """Ho et al.'s betas, 1e-4 to 0.02 over 1000 steps, scaled by ``1000 / T`` (Nichol &
    Dhariwal 2021) and clipped at ``max_beta`` (below T = 21 the last ones would pass 1):
    ``(T,)`` float64."""
    scale = 1000.0 / timesteps
    betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    return betas.clamp(max=max_beta)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Nichol & Dhariwal (2021), eq. 17: ``alpha_bar(t) = cos^2((t/T + s) / (1 + s) pi/2)``,
    ``beta_t = 1 - alpha_bar(t) / alpha_bar(t-1)`` clipped at ``max_beta``: ``(T,)`` f64."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


def make_betas(kind: str, timesteps: int) -> Tensor:
    """``linear`` or ``cosine`` betas ``(T,)`` float64."""
    return {"linear": linear_betas, "cosine": cosine_betas}[kind](timesteps)


class Schedule(nn.Module):
    """The forward process ``q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)`` and the
    Gaussians derived from it. Buffers are float64 and not saved (they follow from the config).
    """

    def __init__(self, betas: Tensor) -> None:
        super().__init__()
        betas = betas.double()
        abar = torch.cumprod(1 - betas, 0)
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        post_var = betas * (1 - abar_prev) / (1 - abar)  # beta-tilde, 0 at t = 0
        for name, value in {
            "betas": betas,
            "alphas_bar": abar,
            "alphas_bar_prev": abar_prev,
            "post_var": post_var,
            # log beta-tilde with its t = 0 value (0) replaced by the t = 1 one, as in Ho et al.
            "post_logvar_clipped": torch.cat([post_var[1:2], post_var[1:]]).log(),
            "large_logvar": torch.cat([post_var[1:2], betas[1:]]).log(),
            "coef_x0": betas * abar_prev.sqrt() / (1 - abar),
            "coef_xt": (1 - abar_prev) * (1 - betas).sqrt() / (1 - abar),
        }.items():
            self.register_buffer(name, value, persistent=False)

    @property
    def timesteps(self) -> int:
        return int(self.betas.shape[0])

    @staticmethod
    def at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
        """``values[t]`` shaped ``(B, 1, ..., 1)`` to broadcast against ``like`` ``(B, ...)``."""
        out = values.to(t.device)[t].to(like.dtype)
        return out.reshape(-1, *([1] * (like.dim() - 1)))

    def q_mean_var(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """``q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)``: mean ``(B, ...)``, variance
        ``(B, 1, ..., 1)``."""
        abar = self.at(self.alphas_bar, t, x0)
        return abar.sqrt() * x0, 1 - abar

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise`` ``(B, ...)``."""
        mean, var = self.q_mean_var(x0, t)
        return mean + var.sqrt() * noise

    def posterior(self, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """``q(x_{t-1} | x_t, x_0)`` (eq. 6-7): mean ``(B, ...)``, variance beta-tilde
        ``(B, 1, ..., 1)`` (0 at ``t = 0``, where ``x_{t-1}`` is ``x_0`` itself)."""
        mean = self.at(self.coef_x0, t, x0) * x0 + self.at(self.coef_xt, t, xt) * xt
        return mean, self.at(self.post_var, t, x0)

    def predict_x0(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """``x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`` ``(B, ...)``."""
        abar = self.at(self.alphas_bar, t, xt)
        return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()

    def predict_eps(self, xt: Tensor, t: Tensor, x0: Tensor) -> Tensor:
        """The noise that takes ``x_0`` to ``x_t``: ``(x_t - sqrt(abar_t) x_0) / sqrt(1 -
        abar_t)`` ``(B, ...)``."""
        abar = self.at(self.alphas_bar, t, xt)
        return (xt - abar.sqrt() * x0) / (1 - abar).sqrt()

    def p_mean_logvar(
        self, xt: Tensor, t: Tensor, eps: Tensor, variance: str, clip: bool = True
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``p(x_{t-1} | x_t)``: the posterior mean at the predicted ``x_0`` (clipped to
        [-1, 1] if ``clip``) and the fixed log-variance (``small``: clipped beta-tilde,
        ``large``: beta). Returns mean ``(B, ...)``, log-variance ``(B, 1, ..)``, ``x_0``."""
        x0 = self.predict_x0(xt, t, eps)
        if clip:
            x0 = x0.clamp(-1, 1)
        mean, _ = self.posterior(x0, xt, t)
        logvar = self.post_logvar_clipped if variance == "small" else self.large_logvar
        return mean, self.at(logvar, t, xt), x0
