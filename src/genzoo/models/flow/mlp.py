"""The report's coupling flow: alternating checkerboard affine couplings with MLP conditioners."""

from __future__ import annotations

from genzoo.models.flow.base import CompositeTransform, Transform
from genzoo.models.flow.coupling import AffineCoupling, checkerboard_mask
from genzoo.models.flow.nets import MLPNet
from genzoo.models.flow.reshape import Flatten

__all__ = ["mlp_flow"]


def mlp_flow(
    shape: tuple[int, int, int] = (1, 28, 28), pairs: int = 4, hidden: int = 1024, depth: int = 2
) -> Transform:
    """``(B, C, H, W) -> (B, C*H*W)``: flatten, then ``pairs`` x (checkerboard, complement).

    Each coupling net is ``D -> hidden -> hidden -> 2D`` with ReLU (``depth`` hidden layers), the
    last layer zero-initialised; log-scales are ``tanh`` of the raw output (bounded by 1).
    The defaults are the report's 8 layers on MNIST (about 27M parameters).
    """
    c, h, w = shape
    d = c * h * w
    layers: list[Transform] = [Flatten(shape)]
    for i in range(2 * pairs):
        mask = checkerboard_mask(h, w, parity=i % 2).expand(c, h, w).reshape(-1)
        layers.append(AffineCoupling(mask, MLPNet(d, hidden, 2 * d, depth)))
    return CompositeTransform(layers)
