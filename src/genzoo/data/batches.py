"""Epoch batching by slicing in-memory tensors, deterministic from (seed, epoch).

The batch size is global: under data parallelism each of ``world`` ranks takes its contiguous
share of every global batch, so N processes with batch B/N see exactly the examples that one
process with batch B sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.data.views import Binarizer, to_view
from genzoo.seeding import make_generator

__all__ = ["Batch", "EpochBatches"]


@dataclass
class Batch:
    """A batch of images ``x`` ``(B, 1, H, W)`` in the family's view and labels ``y`` ``(B,)``."""

    x: Tensor
    y: Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(self.x.to(device, non_blocking=True), self.y.to(device, non_blocking=True))

    def __len__(self) -> int:
        return self.x.shape[0]


class EpochBatches:
    """The training batches of one epoch.

    The permutation and (for the ``binary`` view) the dynamic binarisation are drawn from
    generators seeded by ``(seed, epoch)``, so an epoch is identical whenever it is replayed,
    which is what makes resuming exact. Batches are slices of the in-memory tensors. Pass the
    same ``binarizer`` every epoch to avoid recomputing its index.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        view: str,
        batch_size: int,
        seed: int,
        epoch: int,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
        binarizer: Binarizer | None = None,
    ) -> None:
        self.batch_size, self.rank, self.world = batch_size, rank, world
        n = images.shape[0]
        if shuffle:
            perm = torch.randperm(n, generator=make_generator(seed, "shuffle", epoch))
        else:
            perm = torch.arange(n)
        # drop a final global batch too small to give every rank an example
        n_batches = n // batch_size + (1 if n % batch_size >= world else 0)
        self.n_batches = n_batches
        self._perm = perm[: min(n, n_batches * batch_size)]
        if view == "binary":
            # binarise every example once per epoch, independent of how batches are split
            binarizer = binarizer if binarizer is not None else Binarizer(images)
            self._x = binarizer(make_generator(seed, "binarize", epoch))
        else:
            self._x = to_view(images, view)
        self._y = labels

    def __len__(self) -> int:
        return self.n_batches

    def indices(self, i: int) -> Tensor:
        """Example indices of this rank's share of global batch ``i``."""
        idx = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
        return torch.tensor_split(idx, self.world)[self.rank]

    def __iter__(self) -> Iterator[Batch]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[Batch]:
        """Batches ``start, start + 1, ...`` (resuming in the middle of an epoch)."""
        for i in range(start, self.n_batches):
            idx = self.indices(i)
            yield Batch(self._x[idx], self._y[idx])


def eval_batches(
    x: Tensor, y: Tensor, batch_size: int, rank: int = 0, world: int = 1
) -> list[Batch]:
    """Fixed-order batches over ``x``; under data parallelism each rank takes a contiguous shard."""
    xs = torch.tensor_split(x, world)[rank]
    ys = torch.tensor_split(y, world)[rank]
    return [
        Batch(xs[i : i + batch_size], ys[i : i + batch_size]) for i in range(0, len(xs), batch_size)
    ]
