"""The VAE's training step: Adam on the mean single-sample negative ELBO, plus its figures."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.models.vae.figures import VAEFigures
from genzoo.training.distributed import unwrap
from genzoo.training.step import Step

__all__ = ["VAEStep"]


class VAEStep(Step):
    """Per-example terms ``loss`` (negative ELBO), ``recon`` and ``kl``, each ``(B,)`` nats.

    Figures (rank 0, when a run folder is written): curves at every sample epoch and at the end;
    sample grids (and for 2-D latents the manifold) at ``train_cfg.sample_epochs``;
    reconstructions of the first validation digits (taken from the first evaluation batch, which
    is the fixed binarisation of the first validation images).
    """

    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}
        self.figures = VAEFigures()
        self._val_x: Tensor | None = None

    @property
    def vae(self) -> Any:
        """The VAE itself, also when the model is wrapped (e.g. DistributedDataParallel)."""
        return unwrap(self.model)

    def _terms(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        out = self.model(batch.x, generator)
        return {"loss": out.loss, "recon": out.recon, "kl": out.kl}

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        terms = self._terms(batch, generator)
        self.minimize(terms["loss"].mean(), self.optimizers["adam"])
        return terms

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        if self._val_x is None:
            self._val_x = batch.x[: self.figures.n_recon].clone()
        return self._terms(batch, generator)

    def on_epoch_end(self, epoch: int) -> None:
        if self.run is None or epoch not in self.train_cfg.sample_epochs:
            return
        folder, vae = self.run.figures, self.vae
        was_training = vae.training
        vae.eval()
        self.figures.samples(vae, epoch, folder)
        if vae.cfg.z_dim == 2:
            self.figures.latent_manifold(vae, epoch, folder)
        if self._val_x is not None:
            self.figures.reconstructions(vae, self._val_x, epoch, folder)
        if epoch > 0:
            self.figures.curves(self.run.read_metrics(), folder, self._title())
        vae.train(was_training)

    def on_train_end(self) -> None:
        if self.run is None:
            return
        self.figures.curves(self.run.read_metrics(), self.run.figures, self._title())
        self.figures.summary(self.run.figures)

    def _title(self) -> str:
        c = self.vae.cfg
        return f"VAE {c.arch} z={c.z_dim} {c.likelihood}"
