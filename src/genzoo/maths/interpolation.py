"""Paths between two latents, and the choice of endpoint pairs, for ``genzoo interpolate``.

Pure functions of tensors; they work for any family whose latent prior is N(0, I).

- ``lerp``: straight line ``(1 - t) z0 + t z1``.
- ``slerp``: great-circle path (Shoemake 1985; White 2016, "Sampling generative networks"):
  ``sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1`` with ``w`` the angle between the
  latents; between unit vectors every point has norm 1.
- ``quantile``: the report's path: map both latents into the unit cube with the normal CDF,
  take equidistant points per dimension there, and map them back with the normal quantile
  function, so every point is a typical N(0, I) draw per coordinate.

Each returns ``(T, D)`` for latents ``(D,)`` and times ``t`` ``(T,)`` in [0, 1]; at ``t = 0`` and
``t = 1`` the result is exactly ``z0`` and ``z1``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["lerp", "slerp", "quantile", "PATHS", "interpolate", "choose_pairs"]

_EPS = 1e-7


def _pin(path: Tensor, t: Tensor, z0: Tensor, z1: Tensor) -> Tensor:
    """Make the points at ``t == 0`` and ``t == 1`` exactly ``z0`` and ``z1``."""
    path = torch.where((t == 0).unsqueeze(1), z0.to(path.dtype), path)
    return torch.where((t == 1).unsqueeze(1), z1.to(path.dtype), path)


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation; ``(D,), (D,), (T,) -> (T, D)``."""
    t = t.to(z0.dtype).unsqueeze(1)  # (T, 1)
    return _pin((1 - t) * z0 + t * z1, t.squeeze(1), z0, z1)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation; ``(D,), (D,), (T,) -> (T, D)``.

    Falls back to ``lerp`` when the latents are (anti)parallel, where the great circle is
    undefined.
    """
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(torch.finfo(z0.dtype).tiny)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(torch.sin(omega).abs()) < _EPS:
        return lerp(z0, z1, t)
    tt = t.to(z0.dtype).unsqueeze(1)  # (T, 1)
    path = (torch.sin((1 - tt) * omega) * z0 + torch.sin(tt * omega) * z1) / torch.sin(omega)
    return _pin(path, t, z0, z1)


def quantile(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Equidistant points in the unit cube mapped through the normal quantile function.

    ``u_i = Phi(z_i)``, ``u(t) = (1 - t) u_0 + t u_1``, ``z(t) = Phi^-1(u(t))``, computed in
    float64; ``(D,), (D,), (T,) -> (T, D)``.
    """
    u0, u1 = torch.special.ndtr(z0.double()), torch.special.ndtr(z1.double())
    u = lerp(u0, u1, t.double()).clamp(1e-15, 1 - 1e-15)  # (T, D)
    return _pin(torch.special.ndtri(u).to(z0.dtype), t, z0, z1)


PATHS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "lerp": lerp,
    "slerp": slerp,
    "quantile": quantile,
}


def interpolate(z0: Tensor, z1: Tensor, steps: int = 9, path: str = "lerp") -> Tensor:
    """``steps`` equally spaced points from ``z0`` to ``z1``, endpoints included: ``(steps, D)``."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; choose one of {', '.join(PATHS)}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64, device=z0.device)
    t[0], t[-1] = 0.0, 1.0
    return PATHS[path](z0, z1, t)


def choose_pairs(
    labels: Tensor | None,
    rows: int,
    generator: torch.Generator | None = None,
    n: int = 0,
    scores: Tensor | None = None,
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)`` of candidates for ``rows`` interpolations.

    With ``labels`` ``(N,)`` (e.g. a classifier's predictions for N generated images), each pair
    joins two different classes, cycling through the class pairs so rows differ; within a
    class, candidates with the highest ``scores`` ``(N,)`` (e.g. the classifier's confidence)
    come first. Without labels (or with a single class present), random distinct pairs among
    ``n`` (or N) candidates.
    """
    total = n if labels is None else int(labels.shape[0])
    if total < 2:
        raise ValueError("need at least two candidates")
    classes = [] if labels is None else sorted(set(labels.tolist()))
    if len(classes) < 2:
        pairs = []
        for _ in range(rows):
            i, j = torch.randperm(total, generator=generator)[:2].tolist()
            pairs.append((i, j))
        return pairs
    order = torch.arange(total) if scores is None else torch.argsort(-scores.float(), stable=True)
    members = {c: [int(i) for i in order if int(labels[i]) == c] for c in classes}
    used = dict.fromkeys(classes, 0)
    k = len(classes)

    def take(c: int) -> int:
        idx = members[c][used[c] % len(members[c])]
        used[c] += 1
        return idx

    pairs = []
    for r in range(rows):
        a = classes[r % k]
        b = classes[(r % k + 1 + (r // k) % (k - 1)) % k]  # never a: offset in 1..k-1
        pairs.append((take(a), take(b)))
    return pairs
