"""DCGAN (Radford et al. 2016), sized from the image: three generator stages from (H/4, W/4).

G: z -> Linear -> (4w, H/4, W/4) -> ConvT -> (2w, H/2, W/2) -> ConvT -> (w, H, W) -> Conv 3x3
-> (C, H, W), BatchNorm and ReLU after every layer but the last, tanh output.
D: (C, H, W) -> Conv -> (w, H/2, W/2) -> Conv -> (2w, H/4, W/4) -> Conv 3x3 -> (4w, H/4, W/4)
-> Linear -> logit, LeakyReLU(0.2), no normalisation on the first layer and BatchNorm on the
later ones, or spectral norm (Miyato et al. 2018) on every layer instead of BatchNorm.

MNIST: 7x7 -> 14x14 -> 28x28; 32x32 images: 8x8 -> 16x16 -> 32x32. H and W must be multiples
of 4 (``start_size`` refuses others in one line).

Both networks keep their weights and activations channels-last (``genzoo.models.layers``): a
training step measured about 10% faster on a 2-core CPU (width 16, batch 64, one thread; 5% at
width 32).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.parametrizations import spectral_norm

from genzoo.errors import ConfigError
from genzoo.models.gan.config import GANConfig
from genzoo.models.layers import ChannelsLast, channels_last

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "start_size"]


def start_size(shape: tuple[int, int, int]) -> tuple[int, int]:
    """``(H/4, W/4)``, the generator's first map, or ``ConfigError`` unless 4 divides H and W."""
    _, h, w = shape
    if h % 4 or w % 4 or h < 4 or w < 4:
        raise ConfigError(f"the dcgan arch needs H and W divisible by 4, got {h}x{w} (try mlp)")
    return h // 4, w // 4


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """A stride-2 transposed convolution that doubles H and W, then BatchNorm and ReLU."""
    return [
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


class DCGANGenerator(nn.Module):
    """z -> (4w, H/4, W/4) -> (2w, H/2, W/2) -> (w, H, W) -> (C, H, W), tanh; ``w = cfg.width``.

    ``(B, z_dim) -> (B, C, H, W)`` in [-1, 1].
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        w = cfg.width
        self._start = start_size(shape)
        cells = self._start[0] * self._start[1]
        self.project = nn.Sequential(
            nn.Linear(cfg.z_dim, 4 * w * cells, bias=False),
            nn.BatchNorm1d(4 * w * cells),
            nn.ReLU(),
        )
        self.net = ChannelsLast(  # measured faster on CPU (see module doc)
            *_up(4 * w, 2 * w),  # (2w, H/2, W/2)
            *_up(2 * w, w),  # (w, H, W)
            nn.Conv2d(w, shape[0], 3, padding=1),  # (C, H, W)
            nn.Tanh(),
        )
        self._w = w

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(-1, 4 * self._w, *self._start))  # from (4w, H/4, W/4)


class DCGANDiscriminator(nn.Module):
    """(C, H, W) -> (w, H/2, W/2) -> (2w, H/4, W/4) -> (4w, H/4, W/4) -> logit.

    LeakyReLU(``cfg.leak``) after each convolution. Later layers carry BatchNorm, so in
    training a logit depends on the rest of its (group of the) batch (``batch_dependent``),
    unless ``cfg.spectral_norm``: then every layer is spectrally normalised, none has BatchNorm.
    ``(B, C, H, W) -> (B,)`` logits.
    """

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        w = cfg.width
        h4, w4 = start_size(shape)
        self.batch_dependent = not cfg.spectral_norm
        sn = spectral_norm if cfg.spectral_norm else (lambda m: m)

        def norm(c: int) -> list[nn.Module]:
            return [] if cfg.spectral_norm else [nn.BatchNorm2d(c)]

        bias = cfg.spectral_norm  # a bias before BatchNorm is redundant
        self.net = nn.Sequential(
            sn(nn.Conv2d(shape[0], w, 4, stride=2, padding=1)),  # (w, H/2, W/2)
            nn.LeakyReLU(cfg.leak),
            sn(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=bias)),  # (2w, H/4, W/4)
            *norm(2 * w),
            nn.LeakyReLU(cfg.leak),
            sn(nn.Conv2d(2 * w, 4 * w, 3, padding=1, bias=bias)),  # (4w, H/4, W/4)
            *norm(4 * w),
            nn.LeakyReLU(cfg.leak),
            nn.Flatten(),
            sn(nn.Linear(4 * w * h4 * w4, 1)),
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor, groups: int = 1) -> Tensor:
        """Logits ``(B,)``; BatchNorm normalises each of ``groups`` equal chunks of the batch
        on its own (real and fake halves in one call, e.g. one DDP forward)."""
        h = channels_last(x)
        for layer in self.net:
            if isinstance(layer, _BatchNorm) and groups > 1:  # SyncBatchNorm under DDP too
                h = torch.cat([layer(c) for c in h.chunk(groups)])
            else:
                h = layer(h)
        return h.squeeze(1)  # (B,)
