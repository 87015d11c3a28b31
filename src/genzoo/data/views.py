"""Views of uint8 images that the model families train on.

- ``uint8``: the raw 8-bit images, ``(N, 1, 28, 28)`` uint8 (flows dequantise inside the model).
- ``binary``: Bernoulli draws with probability ``x / 255``, float32 in {0, 1}.
- ``unit``: float32 in [0, 1].
- ``signed``: float32 in [-1, 1] (GANs with a tanh generator).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genzoo.errors import ConfigError

__all__ = ["VIEWS", "to_view", "binarize", "Binarizer"]


class Binarizer:
    """Bernoulli draws with ``p = x / 255`` for fixed uint8 images ``x`` of any shape.

    Pixels at 0 and 255 are deterministic (p = 0 and p = 1), so only the gray pixels (about a
    tenth of MNIST's) need random numbers: an integer ``r`` uniform on {0, ..., 254} gives
    ``P(r < x) = x / 255`` exactly. The gray-pixel index is computed once, so a fresh draw of
    the whole training set costs tens of milliseconds. The output buffer is allocated once and
    reused: each call overwrites the tensor the previous call returned.
    """

    def __init__(self, x: Tensor) -> None:
        flat = x.reshape(-1)
        self.shape = x.shape
        self._out = (flat == 255).float()  # deterministic pixels are written once
        self._gray = ((flat > 0) & (flat < 255)).nonzero().squeeze(1)
        self._threshold = flat[self._gray]

    def __call__(self, generator: torch.Generator) -> Tensor:
        """A fresh draw, float32 in {0, 1}, shape of ``x`` (reuses the previous call's buffer)."""
        r = torch.empty(self._gray.shape[0], dtype=torch.uint8, device=self._gray.device)
        r.random_(0, 255, generator=generator)
        self._out[self._gray] = (r < self._threshold).float()
        return self._out.view(self.shape)


def binarize(x: Tensor, generator: torch.Generator) -> Tensor:
    """Bernoulli draws with ``p = x / 255`` for uint8 ``x`` of any shape; float32 in {0, 1}."""
    return Binarizer(x)(generator)


def _uint8(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return x


def _binary(x: Tensor, generator: torch.Generator | None) -> Tensor:
    if generator is None:
        raise ValueError("the binary view needs a generator")
    return binarize(x, generator)


def _unit(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return x.float() / 255.0


def _signed(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return x.float() / 127.5 - 1.0


VIEWS: dict[str, Callable[[Tensor, torch.Generator | None], Tensor]] = {
    "uint8": _uint8,
    "binary": _binary,
    "unit": _unit,
    "signed": _signed,
}


def to_view(x: Tensor, view: str, generator: torch.Generator | None = None) -> Tensor:
    """Convert uint8 images ``(N, 1, H, W)`` to ``view``; ``binary`` needs a generator."""
    try:
        fn = VIEWS[view]
    except KeyError:
        raise ConfigError(f"unknown data view {view!r}; choose one of {', '.join(VIEWS)}") from None
    return fn(x, generator)
