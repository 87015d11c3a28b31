"""Class coverage of generated samples: how evenly a classifier spreads them over the classes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ClassCoverage", "class_coverage"]


@dataclass(frozen=True)
class ClassCoverage:
    """``kl``: KL(histogram || uniform) in nats (0 = perfectly even, log K = one class only);
    ``rarest_share``: share of the least predicted class (1/K when even, 0 when one is missing);
    ``shares``: the normalised histogram, one entry per class."""

    kl: float
    rarest_share: float
    shares: list[float]


def class_coverage(labels: Tensor, num_classes: int = 10) -> ClassCoverage:
    """Coverage of predicted class ``labels`` ``(N,)`` (int) over ``num_classes`` classes."""
    if labels.numel() == 0:
        raise ValueError("class_coverage needs at least one label")
    counts = torch.bincount(labels.reshape(-1).long().cpu(), minlength=num_classes).double()
    p = counts / counts.sum()
    nz = p > 0
    kl = float((p[nz] * (p[nz] * num_classes).log()).sum())
    return ClassCoverage(max(kl, 0.0), float(p.min()), [float(v) for v in p])
