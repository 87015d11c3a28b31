"""Decoder likelihoods p(x|z) per pixel: Bernoulli on binary images, discretised logistic on
8-bit images (Salimans et al. 2017, PixelCNN++, with one component).

Each likelihood knows its data view, how many parameter channels the decoder must output, how
to turn its view into encoder input, and gives per-example log-probabilities. ``log_prob``
broadcasts: parameters ``(..., B, P * C, H, W)`` against data ``(B, C, H, W)`` give ``(..., B)``,
so ``k`` importance samples never copy the data ``k`` times. Parameter channels are
parameter-major: ``[p1 of channel 1..C, p2 of channel 1..C, ...]``; every channel of every pixel
is modelled independently given ``z``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Likelihood", "Bernoulli", "DiscretizedLogistic", "make_likelihood"]


def _real(t: Tensor) -> Tensor:
    """``t`` in float32, or float64 if it already is (half precision is upcast)."""
    return t if t.dtype == torch.float64 else t.float()


class Likelihood:
    """Interface of a per-pixel decoder likelihood."""

    view: str = "unit"  # the data view it models (see genzoo.data.views)
    param_channels: int = 1  # decoder output channels per image channel

    def encoder_input(self, x: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Data in this view ``(B, C, H, W)`` -> floats in [0, 1] of ``dtype`` for the encoder."""
        return x.to(dtype)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """``log p(x | params)`` in nats summed over pixels: ``(..., B, P*C, H, W) -> (..., B)``."""
        raise NotImplementedError

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One draw per pixel, as images in [0, 1] ``(B, C, H, W)``."""
        raise NotImplementedError

    def mean(self, params: Tensor) -> Tensor:
        """The exact mean of p(x|z), as images in [0, 1] ``(B, C, H, W)``."""
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Pixel = 1 with probability ``sigmoid(logit)``; parameters are logits ``(B, C, H, W)``."""

    view = "binary"
    param_channels = 1

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        # log p = x * l - softplus(l), never the log of a sigmoid: BCE-with-logits, one fused
        # kernel forward and one (sigmoid(l) - x) backward; the data broadcast as a view
        logits = _real(params).flatten(-3)  # (..., B, D)
        xs = x.to(logits.dtype).flatten(-3).expand_as(logits)  # (..., B, D)
        nll = F.binary_cross_entropy_with_logits(logits, xs, reduction="none")
        return -nll.sum(dim=-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        p = torch.sigmoid(_real(params))
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        return (u < p).to(p.dtype)  # P(pixel = 1) = p, not 1 - p

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(_real(params))


class DiscretizedLogistic(Likelihood):
    """Discretised logistic on 8-bit values v in {0, ..., 255}, modelled on y = v / 255.

    P(v) = F((v + 1/2) / 255) - F((v - 1/2) / 255) with F the logistic CDF of mean ``mu`` and
    scale ``s``; the end bins take the tails (F(-1/2/255) -> 0, F(255.5/255) -> 1), so the 256
    probabilities sum to one and the NLL is a true discrete likelihood in nats (bits/dim
    comparable with a flow's on the same 8-bit data). Parameters ``(B, 2C, H, W)``: channels
    ``0..C-1`` = ``mu``, channels ``C..2C-1`` = ``log s`` (clamped below at ``min_log_scale``),
    one independent logistic per channel (for RGB: no coupling between R, G and B).
    """

    view = "uint8"
    param_channels = 2
    bins = 256

    def __init__(self, min_log_scale: float = -7.0) -> None:
        self.min_log_scale = min_log_scale

    def encoder_input(self, x: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        return x.to(dtype) / 255.0

    def _split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_s = _real(params).unflatten(-3, (2, -1)).unbind(dim=-4)  # each (..., B, C, H, W)
        return mu, log_s.clamp(min=self.min_log_scale)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        mu, log_s = self._split(params)
        v = x.to(mu.dtype)  # (B, C, H, W) integer values 0..255
        return self._pixel_log_prob(mu, log_s, v).flatten(-3).sum(dim=-1)

    def log_pmf(self, params: Tensor) -> Tensor:
        """``log P(v)`` for every v: ``(B, 2C, H, W) -> (B, C, H, W, 256)`` (small inputs)."""
        mu, log_s = self._split(params)
        values = [self._pixel_log_prob(mu, log_s, torch.full_like(mu, v)) for v in range(self.bins)]
        return torch.stack(values, dim=-1)

    @staticmethod
    def _pixel_log_prob(mu: Tensor, log_s: Tensor, v: Tensor) -> Tensor:
        inv_s = torch.exp(-log_s)
        half = 0.5 / 255.0
        centered = v / 255.0 - mu
        upper = torch.where(v >= 255, math.inf, inv_s * (centered + half))  # last bin: to +inf
        lower = torch.where(v <= 0, -math.inf, inv_s * (centered - half))  # first: from -inf
        # log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(1 - e^(b - a)):
        # stable everywhere, and exact at the end bins through the infinities
        return -F.softplus(-upper) - F.softplus(lower) + torch.log(-torch.expm1(lower - upper))

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mu, log_s = self._split(params)
        u = torch.rand(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        u = u.clamp(1e-6, 1 - 1e-6)
        y = mu + torch.exp(log_s) * (torch.log(u) - torch.log1p(-u))  # logistic draw
        v = (y * 255.0).round().clamp(0, 255)  # the bin it falls in
        return v / 255.0

    def mean(self, params: Tensor) -> Tensor:
        # E[v] = sum_{v=1}^{255} P(V >= v) = sum_v (1 - F((v - 1/2) / 255)), chunked over images
        mu, log_s = self._split(params)
        edges = (torch.arange(1, self.bins, device=mu.device, dtype=mu.dtype) - 0.5) / 255.0
        out = []
        for m, ls in zip(mu.split(16), log_s.split(16), strict=True):
            a = (edges - m.unsqueeze(-1)) * torch.exp(-ls).unsqueeze(-1)  # (b, C, H, W, 255)
            out.append(torch.sigmoid(-a).sum(dim=-1) / 255.0)
        return torch.cat(out)


def make_likelihood(name: str) -> Likelihood:
    """``bernoulli`` or ``logistic``."""
    return {"bernoulli": Bernoulli, "logistic": DiscretizedLogistic}[name]()
