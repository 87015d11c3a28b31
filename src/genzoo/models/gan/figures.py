"""The GAN's figures: sample grids from fixed noise, a panel over epochs, loss and D curves.

Files written to ``RUN/figures/``:

- ``samples_epoch{E:03d}.png``: 5x5 samples from the same 25 latents at each sample epoch
  (report figure 4); ``samples_panel.png``: all of them side by side;
- ``losses.png``: D and G losses per epoch and smoothed per step, with D's equilibrium value
  log 4 marked (report figure 5);
- ``d_outputs.png``: mean D(x) and D(G(z)) per epoch and smoothed per step (1/2 marked).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.models.gan.losses import EQUILIBRIUM_D_LOSS
from genzoo.seeding import make_generator
from genzoo.viz import grid_panels, line_plot, save_grid

__all__ = ["GANFigures", "smooth"]

_GRID = 25  # 5x5 samples
_FIXED_NOISE_SEED = 0
_EPOCH = re.compile(r"\d+")


def smooth(values: Sequence[float], alpha: float = 0.1) -> list[float]:
    """Bias-corrected exponential moving average of ``values`` (as in TensorBoard)."""
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        avg = (1 - alpha) * avg + alpha * v
        weight = (1 - alpha) * weight + alpha
        out.append(avg / weight)
    return out


def _series(records: list[dict[str, Any]], key: str, x: str) -> tuple[list[float], list[float]]:
    pts = [(r[x], r[key]) for r in records if key in r and x in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def _read_png(path: Any) -> Tensor:
    from PIL import Image

    with Image.open(path) as img:
        arr = torch.from_numpy(np.array(img.convert("L"), dtype=np.float32))  # (H, W)
    return (arr / 255.0)[None, None]  # (1, 1, H, W)


class GANFigures:
    """Draws the figures of one run; ``sample_epochs`` says when to draw sample grids."""

    def __init__(self, sample_epochs: Sequence[int]) -> None:
        self.sample_epochs = set(sample_epochs)
        self.last_epoch: int | None = None
        self._noise: Tensor | None = None

    def fixed_noise(self, z_dim: int, device: torch.device) -> Tensor:
        """The same 25 latents ``(25, z_dim)`` for every epoch and every run."""
        if self._noise is None:
            gen = make_generator(_FIXED_NOISE_SEED, "gan", "fixed-noise")
            self._noise = torch.randn(_GRID, z_dim, generator=gen)
        return self._noise.to(device)

    def samples(self, gan: Any, run: Any, epoch: int) -> None:
        device = next(gan.parameters()).device
        images = gan.decode(self.fixed_noise(gan.cfg.z_dim, device))
        save_grid(images, run.figures / f"samples_epoch{epoch:03d}.png", nrow=5)

    def panel(self, run: Any) -> None:
        grids = sorted(run.figures.glob("samples_epoch*.png"))
        if not grids:
            return
        panels = [(f"epoch {int(_EPOCH.findall(p.stem)[-1])}", _read_png(p)) for p in grids]
        grid_panels(panels, run.figures / "samples_panel.png", nrow=1, ncols=min(len(panels), 6))

    def curves(self, run: Any) -> None:
        epochs = run.read_metrics()
        train = [r for r in epochs if r.get("split") == "train"]
        val = [r for r in epochs if r.get("split") == "val"]
        steps = run.read_metrics(steps=True)
        if not train:
            return
        per_epoch_loss = {
            "D (train)": _series(train, "loss_d", "epoch"),
            "G (train)": _series(train, "loss_g", "epoch"),
            "D (val)": _series(val, "loss_d", "epoch"),
        }
        per_epoch_d = {
            "D(x) (train)": _series(train, "d_real", "epoch"),
            "D(G(z)) (train)": _series(train, "d_fake", "epoch"),
            "D(x) (val)": _series(val, "d_real", "epoch"),
            "D(G(z)) (val)": _series(val, "d_fake", "epoch"),
        }
        loss_panels = [per_epoch_loss]
        d_panels = [per_epoch_d]
        titles = ["per epoch"]
        if steps:
            xs, d = _series(steps, "loss_d", "step")
            _, g = _series(steps, "loss_g", "step")
            _, dr = _series(steps, "d_real", "step")
            _, df = _series(steps, "d_fake", "step")
            loss_panels.append({"D": (xs, smooth(d)), "G": (xs, smooth(g))})
            d_panels.append({"D(x)": (xs, smooth(dr)), "D(G(z))": (xs, smooth(df))})
            titles.append("per step, smoothed (x axis: step)")
        line_plot(
            loss_panels, run.figures / "losses.png", titles=titles, ylabel="loss (nats)",
            hlines={"log 4 (D at equilibrium)": EQUILIBRIUM_D_LOSS},
        )  # fmt: skip
        d_titles = [t.replace("per", "mean D output per") for t in titles]
        line_plot(
            d_panels, run.figures / "d_outputs.png", titles=d_titles, ylabel="probability",
            hlines={"1/2": 0.5},
        )  # fmt: skip

    def epoch_end(self, gan: Any, run: Any, epoch: int) -> None:
        """Grid, panel and curves at the sample epochs (epoch 0 = untrained)."""
        self.last_epoch = epoch
        if epoch in self.sample_epochs:
            self.samples(gan, run, epoch)
            self.panel(run)
            self.curves(run)

    def train_end(self, gan: Any, run: Any) -> None:
        """A grid of the final epoch (when not drawn already), the panel and the curves."""
        if self.last_epoch is not None and self.last_epoch not in self.sample_epochs:
            self.samples(gan, run, self.last_epoch)
        self.panel(run)
        self.curves(run)
