"""Conditioner networks of the coupling layers: an MLP and a residual convolutional net.

Both zero-initialise their last layer, so a fresh coupling layer is the identity (stable start).
Tests re-initialise these layers randomly, otherwise every check would pass trivially.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["MLPNet", "ResNet", "ResidualBlock"]


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
    the output convolution is zero-initialised.
    """

    def __init__(self, c_in: int, channels: int, c_out: int, blocks: int = 4) -> None:
        super().__init__()
        self.inp = nn.Conv2d(c_in, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.act = nn.ReLU()
        self.out = nn.Conv2d(channels, c_out, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.blocks(self.inp(x))))
