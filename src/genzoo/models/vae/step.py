"""The VAE's training step: Adam on the mean single-sample negative ELBO."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.training.step import Step

__all__ = ["VAEStep"]


class VAEStep(Step):
    """Per-example terms ``loss`` (negative ELBO), ``recon`` and ``kl``, each ``(B,)`` nats."""

    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}

    def _terms(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        out = self.model(batch.x, generator)
        return {"loss": out.loss, "recon": out.recon, "kl": out.kl}

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        terms = self._terms(batch, generator)
        self.minimize(terms["loss"].mean(), self.optimizers["adam"])
        return terms

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        return self._terms(batch, generator)
