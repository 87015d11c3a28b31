"""The flow's training step: Adam on the mean negative log-likelihood of 8-bit images.

Per-example terms: ``loss`` = ``-log p(x)`` in nats (8-bit discrete sense, dequantisation term
included) and ``bpd`` = bits per dimension.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.maths import bits_per_dim
from genzoo.training.distributed import unwrap
from genzoo.training.step import Step

__all__ = ["FlowStep"]


class FlowStep(Step):
    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}
        self._flow = unwrap(model)

    def _terms(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        nll = -self.model(batch.x, generator).float()
        return {"loss": nll, "bpd": bits_per_dim(nll, self._flow.dims)}

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        terms = self._terms(batch, generator)
        self.minimize(terms["loss"].mean(), self.optimizers["adam"])
        return {k: v.detach() for k, v in terms.items()}

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        return self._terms(batch, generator)
