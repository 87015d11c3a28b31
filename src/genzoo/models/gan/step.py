"""The GAN's training step: alternating discriminator and generator updates, two Adams.

Each step draws fresh latents for each objective (Goodfellow et al. 2014, algorithm 1 with
k = 1): D takes one step on a real batch and a batch of fakes from ``z1``, then G takes one step
on fakes from a new ``z2``, judged by the just-updated D.

Terms returned per example ``(B,)``: ``loss_d``, ``loss_g``, ``d_real`` = D(x),
``d_fake`` = D(G(z1)) (probabilities, before D's update) and ``loss = loss_d + loss_g``. The sum
is only the loop's NaN/Inf guard (a non-finite value in either objective stops training); a GAN
has no single quantity to minimise.

Validation (``eval_step``) reports the same terms for validation images against fresh fakes,
with dropout off and BatchNorm on running statistics, but deliberately **no** ``"loss"`` key:
the loop then never writes ``best.pt`` (selecting a GAN by D's validation loss would pick the
epoch where D wins, i.e. the worst generator), and ``sample``/``evaluate`` fall back to
``last.pt``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.models.gan.losses import (
    discriminator_loss,
    generator_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    r1_penalty,
)
from genzoo.models.gan.model import GAN
from genzoo.training.distributed import unwrap
from genzoo.training.step import Step

__all__ = ["GANStep"]


def _unwrap(model: torch.nn.Module) -> GAN:
    return unwrap(model)  # type: ignore[return-value]  # the GAN inside DistributedDataParallel


class GANStep(Step):
    """Owns two optimizers, ``"d"`` (discriminator) and ``"g"`` (generator)."""

    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        gan = _unwrap(model)
        self.gan = gan
        self.optimizers = {
            "d": self.adam(gan.discriminator.parameters()),
            "g": self.adam(gan.generator.parameters()),
        }
        self.g_net, self.d_net = gan.generator, gan.discriminator  # DDP-wrapped by distribute

    def distribute(self, wrap: Any) -> None:
        """Wrap G and D separately: the step calls them, not the GAN module's forward.

        D's update goes through the wrapped D (gradients averaged over ranks); G's update calls
        the plain D with its parameters frozen, so DDP never waits for D gradients there.
        """
        self.g_net = wrap(self.gan.generator)
        self.d_net = wrap(self.gan.discriminator)

    def _latents(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return torch.randn(
            x.shape[0], self.cfg.z_dim, generator=generator, device=x.device, dtype=x.dtype
        )  # (B, z_dim)

    def _d_logits(self, x: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        fake = fake.to(x.dtype)
        if getattr(self.gan.discriminator, "batch_dependent", False):
            # BatchNorm in D: real and fake normalised apart (as in DCGAN), so the fakes' batch
            # statistics match the ones G's update sees; still one call (one DDP forward)
            logits = self.d_net(torch.cat([x, fake]), groups=2)  # (2B,)
        else:
            logits = self.d_net(torch.cat([x, fake]))  # (2B,), one pass over both
        return logits[: x.shape[0]], logits[x.shape[0] :]

    def _d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        if self.cfg.loss == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits)
        return discriminator_loss(real_logits, fake_logits)

    def _g_loss(self, fake_logits: Tensor) -> Tensor:
        if self.cfg.loss == "hinge":
            return hinge_generator_loss(fake_logits)
        return generator_loss(fake_logits, self.cfg.g_loss)

    def _r1_due(self) -> bool:
        """R1 on this step? Counted from D's optimizer state, so a resumed run keeps step."""
        if self.cfg.r1 <= 0:
            return False
        state = self.optimizers["d"].state
        first = next(iter(self.gan.discriminator.parameters()))
        done = int(state[first]["step"]) if first in state else 0
        return done % self.cfg.r1_every == 0

    def d_step(self, x: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """One discriminator update on real ``x`` ``(B, C, H, W)`` and fresh fakes."""
        with torch.no_grad():
            fake = self.g_net(self._latents(x, generator))
        r1 = self._r1_due()
        if r1:
            x = x.detach().requires_grad_(True)
        real_logits, fake_logits = self._d_logits(x, fake)
        loss_d = self._d_loss(real_logits, fake_logits)
        objective = loss_d
        if r1:  # lazy: every r1_every steps with gamma scaled by r1_every
            gamma = self.cfg.r1 * self.cfg.r1_every
            objective = loss_d + r1_penalty(real_logits, x, gamma)
        self.minimize(objective.mean(), self.optimizers["d"])
        return {
            "loss_d": loss_d.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()),
            "d_fake": torch.sigmoid(fake_logits.detach().float()),
        }

    def g_step(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """One generator update on fresh fakes (D frozen); returns ``loss_g`` ``(B,)``."""
        disc = self.gan.discriminator
        disc.requires_grad_(False)  # gradients flow through D to G, none accumulate in D
        try:
            fake_logits = disc(self.g_net(self._latents(x, generator)))  # D unwrapped: no grads
            loss_g = self._g_loss(fake_logits)
            self.minimize(loss_g.mean(), self.optimizers["g"])
        finally:
            disc.requires_grad_(True)
        self.gan.update_ema()
        return loss_g.detach()

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        terms = self.d_step(batch.x, generator)
        terms["loss_g"] = self.g_step(batch.x, generator)
        terms["loss"] = terms["loss_d"] + terms["loss_g"]
        return terms

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        x = batch.x
        fake = self.g_net(self._latents(x, generator))
        real_logits, fake_logits = self._d_logits(x, fake)
        return {
            "loss_d": self._d_loss(real_logits, fake_logits),
            "loss_g": self._g_loss(fake_logits),
            "d_real": torch.sigmoid(real_logits.float()),
            "d_fake": torch.sigmoid(fake_logits.float()),
        }
