"""The report's fully connected GAN (Goodfellow et al. 2014 style), sized from the image shape."""

from __future__ import annotations

import math

from torch import Tensor, nn

from genzoo.models.gan.config import GANConfig

__all__ = ["MLPGenerator", "MLPDiscriminator"]


class MLPGenerator(nn.Module):
    """z -> 128 -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU(0.2), BatchNorm after the 2nd-4th
    linear layers, tanh output (the report's on MNIST: ... -> 784).

    ``(B, z_dim) -> (B, C, H, W)`` in [-1, 1].
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.shape = tuple(shape)
        act = nn.LeakyReLU(cfg.leak)
        layers: list[nn.Module] = [nn.Linear(cfg.z_dim, 128), act]
        for d_in, d_out in ((128, 256), (256, 512), (512, 1024)):
            layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), act]
        layers += [nn.Linear(1024, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """C*H*W -> 512 -> 256 -> 1, LeakyReLU(0.2) and Dropout(0.3) after each hidden layer.

    ``(B, C, H, W)`` in [-1, 1] ``-> (B,)`` logits (D(x) = sigmoid(logit)).
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        act = nn.LeakyReLU(cfg.leak)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(shape), 512), act, nn.Dropout(cfg.dropout),
            nn.Linear(512, 256), act, nn.Dropout(cfg.dropout),
            nn.Linear(256, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,)
