"""Transforms with one direction convention (as in nflows).

``forward(x) -> (z, logabsdet)`` maps data to noise and returns ``log |det dz/dx|`` per example,
shape ``(B,)``; ``inverse(z) -> (x, logabsdet)`` maps noise back to data and returns its own
log-det ``log |det dx/dz|``, which is minus the forward one. Public methods validate their input
and call the private ``_forward``/``_inverse``. Transforms never choose a device or a dtype: all
new tensors follow the input (``x.new_zeros``).

Every method takes an optional ``generator``; only stochastic transforms (dequantisation) use it.

>>> import torch
>>> t = CompositeTransform([IdentityTransform(), InverseTransform(IdentityTransform())])
>>> z, ld = t(torch.ones(2, 3))
>>> z.shape, ld.shape
(torch.Size([2, 3]), torch.Size([2]))
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError

__all__ = [
    "Transform",
    "CompositeTransform",
    "InverseTransform",
    "IdentityTransform",
    "InverseNotAvailable",
    "sum_except_batch",
]


class InverseNotAvailable(GenzooError):
    """The transform has no (tractable) inverse."""


def sum_except_batch(x: Tensor) -> Tensor:
    """Sum over every dimension but the first: ``(B, ...) -> (B,)``, in at least fp32."""
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x.reshape(x.shape[0], -1).sum(dim=1)


class Transform(nn.Module):
    """Base class: an invertible map with a tractable log-determinant."""

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Data -> noise: ``x`` ``(B, ...)`` -> ``(z, logabsdet (B,))``."""
        self._check(x)
        return self._forward(x, generator)

    def inverse(self, z: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Noise -> data: ``z`` ``(B, ...)`` -> ``(x, logabsdet (B,))`` (minus the forward one)."""
        self._check(z)
        return self._inverse(z, generator)

    def _check(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__} expects a tensor, got {type(x).__name__}")
        if x.dim() < 2:
            raise ValueError(
                f"{type(self).__name__} expects a batch (B, ...), got {tuple(x.shape)}"
            )

    # to implement ----------------------------------------------------------------------------
    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        raise InverseNotAvailable(f"{type(self).__name__} has no inverse")


class IdentityTransform(Transform):
    """``z = x`` with log-det 0."""

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return x, x.new_zeros(x.shape[0])

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return z, z.new_zeros(z.shape[0])


class CompositeTransform(Transform):
    """``t_n o ... o t_1``: forward applies the transforms in order, inverse in reverse order.

    Log-dets add up (in fp32 at least, whatever autocast does to the networks).
    """

    def __init__(self, transforms: Iterable[Transform]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0], dtype=_acc_dtype(x))
        for t in self.transforms:
            x, ld = t(x, generator)
            total = total + ld
        return x, total

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0], dtype=_acc_dtype(z))
        for t in reversed(self.transforms):
            z, ld = t.inverse(z, generator)
            total = total + ld
        return z, total


class InverseTransform(Transform):
    """The inverse of ``transform``: its ``inverse`` becomes ``forward`` and vice versa."""

    def __init__(self, transform: Transform) -> None:
        super().__init__()
        self.base = transform

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return self.base.inverse(x, generator)

    def _inverse(self, z: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return self.base(z, generator)


def _acc_dtype(x: Tensor) -> torch.dtype:
    """Log-dets accumulate in fp64 for fp64 inputs, else fp32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32
