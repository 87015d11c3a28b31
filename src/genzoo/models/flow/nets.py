"""Conditioner networks of the coupling layers: an MLP and a residual convolutional net.

Both zero-initialise their last layer, so a fresh coupling layer is the identity (stable start).
Tests re-initialise these layers randomly, otherwise every check would pass trivially.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genzoo.models.layers import channels_last

__all__ = ["MLPNet", "MaskedNet", "ResNet", "ResidualBlock"]


class MLPNet(nn.Sequential):
    """``(B, D) -> (B, out)``: Linear-ReLU blocks of width ``hidden``, last layer zero-initialised.

    The report's coupling network is ``MLPNet(784, 1024, 2 * 784, depth=2)``.
    """

    def __init__(self, d_in: int, hidden: int, d_out: int, depth: int = 2) -> None:
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        last = nn.Linear(width, d_out)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        super().__init__(*layers, last)


class MaskedNet(nn.Module):
    """A conditioner that reads only the unmasked features and writes only the masked ones.

    ``(B, D) -> (B, 2D)`` (log-scale and shift for every feature, zero where ``mask`` is 1):
    ``net`` maps the ``n_in = sum(mask)`` identity features to ``2 * (D - n_in)`` outputs.
    This computes exactly what a ``D -> ... -> 2D`` net computes inside a masked coupling
    (inputs that are always zero and outputs that are always discarded carry weights that
    never matter and never receive a gradient), with fewer FLOPs: for the report's layers
    (784 -> 1024 -> 1024 -> 2 x 784, checkerboard) 2.3M instead of 3.5M weights per layer.
    """

    def __init__(self, mask: Tensor, net: nn.Module) -> None:
        super().__init__()
        flat = mask.reshape(-1)
        self.register_buffer("idx_in", flat.nonzero().squeeze(1))
        self.register_buffer("idx_out", (flat == 0).nonzero().squeeze(1))
        self.d = flat.numel()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        h = self.net(x[:, self.idx_in])  # (B, 2 * n_out)
        out = h.new_zeros(x.shape[0], 2, self.d)
        out[:, :, self.idx_out] = h.view(x.shape[0], 2, -1)
        return out.view(x.shape[0], 2 * self.d)

    @classmethod
    def from_dense(cls, mask: Tensor, dense: MLPNet) -> MaskedNet:
        """The compact equivalent of a dense ``D -> ... -> 2D`` ``MLPNet`` (weights copied)."""
        layers = [m for m in dense if isinstance(m, nn.Linear)]
        flat = mask.reshape(-1)
        idx_in, idx_out = flat.nonzero().squeeze(1), (flat == 0).nonzero().squeeze(1)
        d = flat.numel()
        hidden, depth = layers[0].out_features, len(layers) - 1
        net = MLPNet(idx_in.numel(), hidden, 2 * idx_out.numel(), depth)
        net = net.to(layers[0].weight.dtype)
        new = [m for m in net if isinstance(m, nn.Linear)]
        rows = torch.cat([idx_out, idx_out + d])
        with torch.no_grad():
            for i, (a, b) in enumerate(zip(layers, new, strict=True)):
                w, bias = a.weight, a.bias
                if i == 0:
                    w = w[:, idx_in]
                if i == len(layers) - 1:
                    w, bias = w[rows], bias[rows]
                b.weight.copy_(w)
                b.bias.copy_(bias)
        return cls(mask, net)


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(relu(x))))``, 3x3 convolutions; shape-preserving ``(B, C, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class ResNet(nn.Module):
    """``(B, C_in, H, W) -> (B, C_out, H, W)``: 3x3 conv in, ``blocks`` residual blocks, 3x3 out.

    No batch-dependent normalisation inside (so train and eval mode compute the same function);
    the output convolution is zero-initialised. The convolutions run in channels-last memory
    format (1.15-1.2x faster for a whole RealNVP on this CPU, measured); input and output are
    ordinary contiguous tensors.
    """

    def __init__(self, c_in: int, channels: int, c_out: int, blocks: int = 4) -> None:
        super().__init__()
        self.inp = nn.Conv2d(c_in, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.act = nn.ReLU()
        self.out = nn.Conv2d(channels, c_out, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        h = self.inp(channels_last(x))
        return self.out(self.act(self.blocks(h))).contiguous()
