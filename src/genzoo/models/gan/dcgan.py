"""A small DCGAN (Radford et al. 2016) for 28x28 images: 7x7 -> 14x14 -> 28x28."""

from __future__ import annotations

from torch import Tensor, nn

from genzoo.models.gan.config import GANConfig

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


class DCGANGenerator(nn.Module):
    """z -> Linear -> (2w, 7, 7) -> ConvT -> (w, 14, 14) -> ConvT -> (1, 28, 28), tanh.

    BatchNorm and ReLU after every layer but the last, as in DCGAN. ``w = cfg.width``.
    ``(B, z_dim) -> (B, 1, 28, 28)`` in [-1, 1].
    """

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.width
        self.project = nn.Sequential(
            nn.Linear(cfg.z_dim, 2 * w * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),  # (w, 14, 14)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),  # (1, 28, 28)
            nn.Tanh(),
        )
        self._w = w

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, 2 * self._w, 7, 7)  # (B, 2w, 7, 7)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """(1, 28, 28) -> Conv -> (w, 14, 14) -> Conv -> (2w, 7, 7) -> Linear -> logit.

    LeakyReLU(0.2) after each convolution; no BatchNorm, so a sample's logit does not depend
    on the rest of its batch, and no dropout (as in DCGAN; on a CPU, drawing a dropout mask per
    activation costs about as much as the convolutions). ``(B, 1, 28, 28) -> (B,)`` logits.
    """

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.width
        act = nn.LeakyReLU(cfg.leak)
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), act,  # (w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), act,  # (2w, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,)
