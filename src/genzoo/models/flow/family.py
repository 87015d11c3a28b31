"""Registers the flow family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.models.flow.config import FlowConfig
from genzoo.models.flow.evaluate import evaluate_flow
from genzoo.models.flow.model import Flow, build_flow
from genzoo.models.flow.step import FlowStep
from genzoo.registry import Family

__all__ = ["FAMILY"]


def _sample(
    model: Flow, n: int, generator: torch.Generator, temperature: float = 1.0, **_: Any
) -> Tensor:
    return model.sample(n, generator, temperature=temperature)


def _encode(model: Flow, x: Tensor) -> Tensor:
    return model.encode(x)


def _decode(model: Flow, z: Tensor) -> Tensor:
    return model.decode(z) / 255.0


FAMILY = Family(
    name="flow",
    description="normalizing flow (RealNVP couplings) with exact bits/dim",
    config_cls=FlowConfig,
    build=build_flow,
    make_step=FlowStep,
    data_view=lambda cfg: "uint8",
    train_defaults=TrainConfig(
        epochs=40, batch_size=128, lr=1e-3, sample_epochs=(0, 1, 13, 26, 40)
    ),
    sample=_sample,
    evaluate=evaluate_flow,
    encode=_encode,
    decode=_decode,
    latent_dim=lambda cfg: 784,
)
