"""The VAE's training step: Adam on the mean single-sample negative ELBO (optionally with a KL
warm-up or free bits), or on minus the IWAE bound with ``k_train`` samples."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.models.vae.objectives import free_bits_kl, kl_per_dim, kl_weight
from genzoo.training.step import Step

__all__ = ["VAEStep"]


class VAEStep(Step):
    """Per-example terms ``loss`` (negative ELBO, or minus the IWAE bound), ``recon`` and
    ``kl``, each ``(B,)`` nats; ``kl_weight`` too while a KL warm-up is on. ``loss`` is the
    bound itself, never the warmed-up or free-bits objective, so epochs stay comparable."""

    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}
        self._k = cfg.k_train if cfg.objective == "iwae" else 0

    def _terms(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        out = self.model(batch.x, generator, self._k)
        return {"loss": out.loss, "recon": out.recon, "kl": out.kl}

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        out = self.model(batch.x, generator, self._k)
        terms = {"loss": out.loss, "recon": out.recon, "kl": out.kl}
        cfg = self.cfg
        if self._k or (cfg.kl_warmup == 0 and cfg.free_bits == 0):
            objective = out.loss.mean()
        else:
            beta = kl_weight(self.epochs_done, cfg.kl_warmup)
            if cfg.free_bits > 0:
                kl = free_bits_kl(kl_per_dim(out.mu, out.logvar).to(out.recon.dtype), cfg.free_bits)
            else:
                kl = out.kl.mean()
            objective = out.recon.mean() + beta * kl
            if cfg.kl_warmup > 0:
                terms["kl_weight"] = out.kl.new_full(out.kl.shape, beta)
        self.minimize(objective, self.optimizers["adam"])
        return terms

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        return self._terms(batch, generator)
