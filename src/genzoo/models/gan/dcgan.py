"""A small DCGAN (Radford et al. 2016): two stride-2 layers, (H/4, W/4) -> (H/2, W/2) -> (H, W).

MNIST: 7x7 -> 14x14 -> 28x28; 32x32 images: 8x8 -> 16x16 -> 32x32. H and W must be multiples
of 4 (``start_size`` refuses others in one line).
"""

from __future__ import annotations

from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo.models.gan.config import GANConfig

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "start_size"]


def start_size(shape: tuple[int, int, int]) -> tuple[int, int]:
    """``(H/4, W/4)``, the generator's first map, or ``ConfigError`` unless 4 divides H and W."""
    _, h, w = shape
    if h % 4 or w % 4 or h < 4 or w < 4:
        raise ConfigError(f"the dcgan arch needs H and W divisible by 4, got {h}x{w} (try mlp)")
    return h // 4, w // 4


class DCGANGenerator(nn.Module):
    """z -> Linear -> (2w, H/4, W/4) -> ConvT -> (w, H/2, W/2) -> ConvT -> (C, H, W), tanh.

    BatchNorm and ReLU after every layer but the last, as in DCGAN. ``w = cfg.width``.
    ``(B, z_dim) -> (B, C, H, W)`` in [-1, 1].
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        w = cfg.width
        self._start = start_size(shape)
        cells = self._start[0] * self._start[1]
        self.project = nn.Sequential(
            nn.Linear(cfg.z_dim, 2 * w * cells, bias=False),
            nn.BatchNorm1d(2 * w * cells),
            nn.ReLU(),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),  # (w, H/2, W/2)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, shape[0], 4, stride=2, padding=1),  # (C, H, W)
            nn.Tanh(),
        )
        self._w = w

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, 2 * self._w, *self._start)  # (B, 2w, H/4, W/4)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """(C, H, W) -> Conv -> (w, H/2, W/2) -> Conv -> (2w, H/4, W/4) -> Linear -> logit.

    LeakyReLU(0.2) after each convolution; no BatchNorm, so a sample's logit does not depend
    on the rest of its batch, and no dropout (as in DCGAN; on a CPU, drawing a dropout mask per
    activation costs about as much as the convolutions). ``(B, C, H, W) -> (B,)`` logits.
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        w = cfg.width
        h4, w4 = start_size(shape)
        act = nn.LeakyReLU(cfg.leak)
        self.net = nn.Sequential(
            nn.Conv2d(shape[0], w, 4, stride=2, padding=1), act,  # (w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), act,  # (2w, H/4, W/4)
            nn.Flatten(),
            nn.Linear(2 * w * h4 * w4, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,)
