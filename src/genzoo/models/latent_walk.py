"""Interpolation grids for any family with a latent decoder (used by ``genzoo interpolate`` and
``genzoo reproduce``): endpoints drawn from N(0, I), paired across classes when the evaluation
classifier is available, decoded along a path from ``genzoo.models.interpolation``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError, GenzooError
from genzoo.models.interpolation import choose_pairs, interpolate
from genzoo.registry import get_family
from genzoo.seeding import make_generator

__all__ = ["interpolation_grid", "load_classifier_or_reason"]


def load_classifier_or_reason() -> tuple[Any, str]:
    """``(classifier, "")`` when the evaluation classifier loads, else ``(None, why)``."""
    try:
        from genzoo.evaluation.classifier import load_classifier
    except ImportError as exc:
        return None, f"no evaluation classifier ({exc})"
    try:
        return load_classifier(), ""
    except (GenzooError, OSError, RuntimeError) as exc:
        return None, f"evaluation classifier unavailable ({exc})"


@torch.no_grad()
def interpolation_grid(
    model: Any,
    cfg: Any,
    *,
    rows: int = 5,
    steps: int = 9,
    path: str = "lerp",
    seed: int = 0,
    candidates: int | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, str]:
    """``(images (rows * steps, 1, 28, 28) in [0, 1], description of the endpoints)``.

    ``cfg`` is the run's ``RunConfig``; ``candidates`` prior draws (default ``max(100, 20 *
    rows)``) are decoded and classified to pick endpoint pairs of different classes.
    """
    if rows < 1:
        raise ConfigError(f"--rows must be >= 1, got {rows}")
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {steps}")
    n_cand = candidates if candidates is not None else max(100, 20 * rows)
    if n_cand < 2:
        raise ConfigError(f"--candidates must be >= 2, got {n_cand}")
    family = get_family(cfg.family)
    if family.decode is None or family.latent_dim is None:
        raise ConfigError(f"the {cfg.family} family has no latent decoder to interpolate with")
    gen = make_generator(seed, "interpolate")
    z = torch.randn(n_cand, family.latent_dim(cfg.model), generator=gen).to(device)  # (N, D)
    images = torch.cat([family.decode(model, c) for c in z.split(256)])  # (N, 1, 28, 28)
    classifier, reason = load_classifier_or_reason()
    labels = None
    if classifier is not None:
        labels = torch.as_tensor(classifier.predict(images.float().cpu())).cpu()
    pairs = choose_pairs(labels, rows, gen, n=n_cand)
    grid = [
        family.decode(model, interpolate(z[i], z[j], steps, path)).float().cpu() for i, j in pairs
    ]
    if labels is None:
        text = f"endpoints: random prior draws, not class-controlled: {reason}"
    else:
        shown = ", ".join(f"{int(labels[i])}->{int(labels[j])}" for i, j in pairs)
        text = f"endpoints: classes {shown} (evaluation classifier)"
    return torch.cat(grid), text
