"""The interface between the generic loop and a model family: a ``Step`` owns the model's
optimizers and knows how to take one training step and one evaluation step.

Steps return **per-example** terms: a dict of ``(B,)`` tensors that must contain ``"loss"``
(the quantity minimised, used for the NaN guard and model selection). The loop averages them
over the epoch, weighted by examples, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch

__all__ = ["Step"]

_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_FUSED_DEVICES = ("cpu", "cuda", "mps", "xpu")  # where torch documents fused Adam


def _fusable(params: list[Any]) -> bool:
    """Whether torch's fused Adam takes these parameters (tensors, not param-group dicts, all
    floating point on one device of a type it supports)."""
    if not params or not all(isinstance(p, Tensor) for p in params):
        return False
    devices = {p.device for p in params}
    return (
        len(devices) == 1
        and next(iter(devices)).type in _FUSED_DEVICES
        and all(p.dtype in _FUSED_DTYPES for p in params)
    )


class Step:
    """Base class of family steps. Subclasses set ``self.optimizers`` and implement the steps."""

    def __init__(self, model: nn.Module, cfg: Any, train: TrainConfig) -> None:
        self.model = model
        self.cfg = cfg
        self.train_cfg = train
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.global_step = 0  # updates done before the current one (``set_position``)
        self.steps_per_epoch = 0

    # to implement ----------------------------------------------------------------------------
    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        """One optimisation step on ``batch``; returns per-example terms ``(B,)``."""
        raise NotImplementedError

    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        """Per-example terms ``(B,)`` on ``batch`` without changing any weight (no grad)."""
        raise NotImplementedError

    # optional ----------------------------------------------------------------------------
    def distribute(self, wrap: Callable[..., nn.Module]) -> None:
        """Wrap the networks this step calls for data-parallel training (DDP).

        Called by ``fit`` once, after the optimizers exist and any checkpoint is loaded, only
        when a process group of more than one rank exists. ``wrap(module, sync_batchnorm=True)``
        returns ``module`` wrapped in DDP (BatchNorm layers synchronised across ranks).
        Gradients are averaged only for calls through the wrapper's forward, so a step that
        calls sub-networks (``self.model.generator(z)``) overrides this and keeps the wrapped
        sub-networks as attributes of its own, e.g. ``self.g = wrap(self.model.generator)``,
        calling ``self.g(z)`` in ``train_step`` (prefer this to assigning wrappers into
        ``self.model``; ``fit`` strips DDP's ``module.`` from saved keys either way). The
        default wraps the whole model: ``self.model(...)`` synchronises, and attribute access
        (``self.model.sample``) still reaches the model. Pass ``sync_batchnorm=False`` for a
        network whose BatchNorm statistics should stay per rank.
        """
        self.model = wrap(self.model)

    def set_position(self, global_step: int, steps_per_epoch: int) -> None:
        """Called by the loop before every ``train_step``: updates done so far and updates per
        epoch, for schedules a step owns (the VAE's KL warm-up). Both are restored on resume,
        so such a schedule needs no state of its own."""
        self.global_step, self.steps_per_epoch = global_step, steps_per_epoch

    @property
    def epochs_done(self) -> float:
        """Epochs done before the current update, fractional (0 before any ``set_position``)."""
        return self.global_step / self.steps_per_epoch if self.steps_per_epoch else 0.0

    # shared helpers -----------------------------------------------------------------------
    def adam(self, params: Any, lr: float | None = None) -> torch.optim.Adam:
        """Adam with the run's learning rate and betas, fused where the parameters allow.

        The fused kernel updates every parameter in one pass (on CPU about 3x faster than the
        default per-tensor loop, a third of a small MLP's step); its updates agree with the
        unfused ones to rounding. A checkpoint restores the implementation it was saved with
        (``fused`` is a param-group setting), so a resumed run stays exact.
        """
        params = list(params)
        return torch.optim.Adam(
            params,
            lr=self.train_cfg.lr if lr is None else lr,
            betas=self.train_cfg.betas,
            fused=_fusable(params) or None,
        )

    def minimize(self, loss: Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Zero grads, backpropagate the scalar ``loss``, clip if configured, step."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.train_cfg.grad_clip is not None:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.train_cfg.grad_clip)
        optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])
