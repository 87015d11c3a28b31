"""The VAE's figures: sample grids from fixed noise, the learned 2-D manifold, reconstructions
and negative-ELBO curves. Computes tensors from the model and hands them to ``genzoo.viz``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.models.vae.model import VAE
from genzoo.seeding import make_generator
from genzoo.viz import image_file_panels, line_plot, save_grid
from genzoo.viz.curves import epoch_curves

__all__ = ["normal_quantile_grid", "VAEFigures", "FIGURE_SEED"]

FIGURE_SEED = 31337  # fixed noise of every sample grid, identical at every epoch


def normal_quantile_grid(n: int = 20) -> Tensor:
    """An ``n x n`` grid of 2-D latents ``(n * n, 2)`` through the normal quantile function.

    Coordinates are ``Phi^-1((i + 1/2) / n)``, symmetric around the origin (no infinite end
    points); rows go from high to low ``z_2`` (top to bottom), columns from low to high ``z_1``.
    """
    q = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


class VAEFigures:
    """Draws figures into a run's ``figures/`` folder: one PNG per kind and epoch
    (``{kind}_epoch{E:03d}.png``), and summary panels composed from those files."""

    KINDS = ("samples", "means", "manifold", "recon")

    def __init__(self, n_samples: int = 64, manifold: int = 20, n_recon: int = 32) -> None:
        self.n_samples, self.manifold, self.n_recon = n_samples, manifold, n_recon

    def _keep(
        self, kind: str, epoch: int, images: Tensor, folder: Path, nrow: int | None = None
    ) -> None:
        save_grid(images, folder / f"{kind}_epoch{epoch:03d}.png", nrow=nrow)

    @torch.no_grad()
    def samples(self, model: VAE, epoch: int, folder: Path) -> None:
        """Draws and decoder means from the same fixed noise at every epoch."""
        device = next(model.parameters()).device
        draws = model.sample(self.n_samples, make_generator(FIGURE_SEED, "vae", device=device))
        means = model.sample(
            self.n_samples, make_generator(FIGURE_SEED, "vae", device=device), mean=True
        )
        self._keep("samples", epoch, draws, folder)
        self._keep("means", epoch, means, folder)

    @torch.no_grad()
    def latent_manifold(self, model: VAE, epoch: int, folder: Path) -> None:
        """Decoder means on the quantile grid (2-D latents only)."""
        p = next(model.parameters())
        z = normal_quantile_grid(self.manifold).to(device=p.device, dtype=p.dtype)
        self._keep("manifold", epoch, model.mean_image(z), folder, nrow=self.manifold)

    @torch.no_grad()
    def reconstructions(self, model: VAE, x: Tensor, epoch: int, folder: Path) -> None:
        """Rows of 8 originals, each followed by a row of their reconstructions (mean of z)."""
        mu, _ = model.encode(x)
        recon = model.mean_image(mu)
        orig = model.likelihood.encoder_input(x)
        rows = [t for i in range(0, x.shape[0], 8) for t in (orig[i : i + 8], recon[i : i + 8])]
        self._keep("recon", epoch, torch.cat(rows), folder, nrow=8)

    def curves(self, records: list[dict[str, Any]], folder: Path, title: str = "") -> None:
        """Negative ELBO per epoch, train and validation."""
        series = epoch_curves(records, "loss")
        if series:
            line_plot(
                [series], folder / "curves.png", titles=[title], ylabel="negative ELBO (nats)"
            )

    def summary(self, folder: Path, ncols: int = 5) -> None:
        """One figure per kind with its grids at every drawn epoch side by side.

        Composed from the per-epoch PNGs on disk, so a resumed run's panels include the epochs
        drawn before the interruption.
        """
        for kind in self.KINDS:
            files = sorted(folder.glob(f"{kind}_epoch*.png"))
            if not files:
                continue
            items = [(f"epoch {int(p.stem.rsplit('epoch', 1)[1])}", p) for p in files]
            rows = [items[i : i + ncols] for i in range(0, len(items), ncols)]
            image_file_panels(rows, folder / f"{kind}.png")
