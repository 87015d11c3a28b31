"""Configuration of the flow family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_fields, opt

__all__ = ["FlowConfig"]


@dataclass(frozen=True)
class FlowConfig:
    """Flow architecture and preprocessing.

    ``arch="mlp"`` is the report's flow: ``pairs`` pairs of checkerboard affine couplings with
    ``D -> hidden -> hidden -> 2*D`` ReLU conditioners (``D = C*H*W``, 784 on MNIST).
    ``arch="realnvp"`` is the multi-scale flow of Dinh et al. (2017) with ``scales`` factor-out
    levels (H and W must be divisible by ``2**scales``) and residual conditioners of
    ``channels`` channels and ``blocks`` blocks, ActNorm after each coupling if ``actnorm``.
    ``compact``: the mlp conditioners skip the always-zero inputs and discarded outputs of the
    masked coupling (the same function and training, 18.1M instead of 27.7M weights, faster).
    ``alpha``: the squeeze ``alpha + (1 - 2 alpha) x`` before the logit; 1e-6 (RealNVP
    used 0.05, which trains far worse with the report's tanh-bounded couplings: see preprocess).
    """

    arch: Literal["mlp", "realnvp"] = opt("mlp", "mlp (the report's couplings) or realnvp")
    # alpha = 0 lets fp32 dequantised pixels reach exactly 0 or 1: an infinite logit
    alpha: float = opt(1e-6, "squeeze alpha + (1 - 2 alpha) x before the logit", gt=0, lt=0.5)
    pairs: int = opt(4, "pairs of checkerboard couplings (mlp only)", ge=1)
    hidden: int = opt(1024, "width of the coupling conditioners (mlp only)", ge=1)
    compact: bool = opt(True, "mlp conditioners skip the masked inputs and outputs")
    scales: int = opt(
        2, "factor-out levels; H and W divisible by 2**scales (realnvp only)", ge=1, le=4
    )
    channels: int = opt(64, "channels of the residual conditioners (realnvp only)", ge=1)
    blocks: int = opt(4, "residual blocks per conditioner (realnvp only)", ge=1)
    actnorm: bool = opt(True, "ActNorm after each coupling (realnvp only)")

    def __post_init__(self) -> None:
        check_fields(self)
