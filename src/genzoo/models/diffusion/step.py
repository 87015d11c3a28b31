"""The diffusion training step: Adam on ``L_simple``, then an EMA update of the weights.

Per-example terms: ``loss`` = ``L_simple`` (mean squared error of the noise prediction at a
uniform step). Training uses the trained weights, validation the EMA ones (what sampling
uses, so ``best.pt`` is chosen by them). The EMA weights live in the model (saved with it, so
``load_run`` samples from them); the number of updates, which sets the warm-up of the decay,
is in the step's state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.models.diffusion.config import DiffusionConfig
from genzoo.models.diffusion.model import Diffusion, simple_loss
from genzoo.training.distributed import unwrap
from genzoo.training.step import Step

__all__ = ["DiffusionStep", "ema_decay"]


def ema_decay(decay: float, updates: int) -> float:
    """The decay of update number ``updates`` (from 0): ``min(decay, (1 + n) / (10 + n))``, so
    the average forgets the random initialisation early in training."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class DiffusionStep(Step):
    def __init__(self, model: torch.nn.Module, cfg: DiffusionConfig, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self._diffusion: Diffusion = unwrap(model)
        self.optimizers = {"adam": self.adam(self._diffusion.net.parameters())}
        self.ema_updates = 0

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        xt, t, noise = self._diffusion.noisy(batch.x, generator)
        loss = simple_loss(self.model(xt, t), noise)
        self.minimize(loss.mean(), self.optimizers["adam"])
        decay = ema_decay(self.cfg.ema_decay, self.ema_updates)
        self._diffusion.ema.update(self._diffusion.net, decay)
        self.ema_updates += 1
        return {"loss": loss.detach()}

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        xt, t, noise = self._diffusion.noisy(batch.x, generator)
        return {"loss": simple_loss(self._diffusion.eps(xt, t), noise)}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "ema_updates": self.ema_updates}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.ema_updates = int(state.get("ema_updates", 0))
