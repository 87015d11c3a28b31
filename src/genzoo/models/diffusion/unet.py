"""The epsilon-predicting U-Net of DDPM (Ho et al. 2020, appendix B), sized from the images.

Sinusoidal time embedding -> MLP; residual blocks with GroupNorm, SiLU and the embedding added
between their convolutions; stride-2 convolutions down and nearest-neighbour upsampling up,
with skip connections; optionally one self-attention layer in the middle, at the lowest
resolution.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genzoo.family import ImageShape

__all__ = ["UNet", "timestep_embedding", "resolutions"]


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of the steps ``t`` ``(B,)`` -> ``(B, dim)`` (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / max(half, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([args.sin(), args.cos()], dim=1)
    return nn.functional.pad(emb, (0, dim % 2))


def resolutions(size: tuple[int, int], wanted: int) -> int:
    """How many of ``wanted`` resolutions an ``(H, W)`` image gets: it is halved while both
    sides are even and at least 8 (28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 16 -> 8 -> 4)."""
    h, w = size
    n = 1
    while n < wanted and h % 2 == 0 and w % 2 == 0 and min(h, w) >= 8:
        h, w, n = h // 2, w // 2, n + 1
    return n


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, groups), channels)


class ResBlock(nn.Module):
    """``x + conv(SiLU(GN(conv(SiLU(GN(x))) + W emb)))``, with a 1x1 skip when channels change."""

    def __init__(self, c_in: int, c_out: int, emb: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2, self.conv2 = _norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:  # (B, C, H, W), (B, E)
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.emb(nn.functional.silu(emb))[:, :, None, None]
        h = self.conv2(self.drop(nn.functional.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head self-attention over the ``H * W`` positions, residual."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(2, 3).unbind(1)
        a = nn.functional.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """``eps_theta(x_t, t)``: ``(B, C, H, W)``, ``(B,)`` int steps -> ``(B, C, H, W)``."""

    def __init__(
        self, shape: ImageShape, *, channels: int, channel_mult: tuple[int, ...], blocks: int,
        attention: bool, groups: int, dropout: float,
    ) -> None:  # fmt: skip
        super().__init__()
        c_img, h, w = shape
        mult = channel_mult[: resolutions((h, w), len(channel_mult))]
        self.emb_dim, emb = channels, 4 * channels
        self.time = nn.Sequential(nn.Linear(channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.stem = nn.Conv2d(c_img, channels, 3, padding=1)
        block = {"emb": emb, "groups": groups, "dropout": dropout}
        self.down, skips, c = nn.ModuleList(), [channels], channels
        for i, m in enumerate(mult):
            for _ in range(blocks):
                self.down.append(ResBlock(c, channels * m, **block))
                c = channels * m
                skips.append(c)
            if i < len(mult) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c, **block), ResBlock(c, c, **block)])
        self.mid_attn = Attention(c, groups) if attention else nn.Identity()
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(mult))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), channels * m, **block))
                c = channels * m
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c, c, 3, 1, 1)))
        self.head = nn.Sequential(_norm(c, groups), nn.SiLU(), nn.Conv2d(c, c_img, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.time(timestep_embedding(t, self.emb_dim).to(x.dtype))
        h = self.stem(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.mid[1](self.mid_attn(self.mid[0](h, emb)), emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.head(h)
