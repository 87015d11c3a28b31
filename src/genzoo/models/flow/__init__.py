"""Normalizing flows (Dinh et al. 2017): transforms with exact log-dets, the report's coupling
flow (``arch="mlp"``) and the multi-scale RealNVP (``arch="realnvp"``)."""

from genzoo.models.flow.base import (
    CompositeTransform,
    IdentityTransform,
    InverseNotAvailable,
    InverseTransform,
    Transform,
)
from genzoo.models.flow.config import FlowConfig
from genzoo.models.flow.coupling import AffineCoupling, channel_mask, checkerboard_mask
from genzoo.models.flow.model import Flow, build_flow, preprocessing
from genzoo.models.flow.multiscale import FactorOut, realnvp_flow
from genzoo.models.flow.normalization import ActNorm
from genzoo.models.flow.preprocess import IntervalSqueeze, Logit, UniformDequantize
from genzoo.models.flow.reshape import Flatten, SpaceToDepth

__all__ = [
    "Transform",
    "CompositeTransform",
    "InverseTransform",
    "IdentityTransform",
    "InverseNotAvailable",
    "FlowConfig",
    "AffineCoupling",
    "checkerboard_mask",
    "channel_mask",
    "Flow",
    "build_flow",
    "preprocessing",
    "FactorOut",
    "realnvp_flow",
    "ActNorm",
    "UniformDequantize",
    "IntervalSqueeze",
    "Logit",
    "Flatten",
    "SpaceToDepth",
]
