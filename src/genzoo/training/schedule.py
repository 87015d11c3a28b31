"""Learning-rate schedules: pure functions of the global step, applied before every update.

A schedule scales each optimizer parameter group's base learning rate (kept in the group as
``initial_lr``, as PyTorch's own schedulers do, so it travels with the optimizer state in
checkpoints). Being a function of the step alone, a resumed run follows exactly the schedule of
an uninterrupted one. ``genzoo resume --epochs N`` changes the total and therefore the curve from
that point on.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable

import torch

from genzoo.config import LRSchedule

__all__ = ["SCHEDULES", "lr_factor", "apply_lr"]

SCHEDULES: tuple[str, ...] = typing.get_args(LRSchedule)


def lr_factor(kind: str, step: int, total: int) -> float:
    """Multiplier of the base learning rate for the update after ``step`` completed updates.

    ``constant``: 1. ``cosine``: ``(1 + cos(pi * step / total)) / 2``, from 1 at the first update
    to 0 after the last (Loshchilov & Hutter 2017, without restarts).
    """
    if kind == "constant" or total <= 0:
        return 1.0
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(max(step, 0), total) / total))
    raise ValueError(f"unknown lr schedule {kind!r}; choose from {', '.join(SCHEDULES)}")


def apply_lr(optimizers: Iterable[torch.optim.Optimizer], factor: float) -> None:
    """Set every parameter group's ``lr`` to ``initial_lr * factor``."""
    for opt in optimizers:
        for group in opt.param_groups:
            base = group.setdefault("initial_lr", group["lr"])
            group["lr"] = base * factor
