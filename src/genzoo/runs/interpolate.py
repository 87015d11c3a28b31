"""Interpolation grids for any family with a latent decoder (used by ``genzoo interpolate`` and
``genzoo reproduce``): endpoints drawn from N(0, I), paired across classes when the evaluation
classifier is available and takes the run's image shape, decoded along a path from
``genzoo.maths.interpolation``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError, GenzooError
from genzoo.maths.interpolation import choose_pairs, interpolate
from genzoo.runs.run import Run
from genzoo.seeding import make_generator

__all__ = ["interpolation_grid", "load_classifier_or_reason", "classify"]


def load_classifier_or_reason(run: Run | None = None) -> tuple[Any, str]:
    """``(classifier, "")`` when an evaluation classifier loads, else ``(None, why)``.

    Without ``run``: the shipped MNIST network. With ``run``: the evaluation network of the
    run's data set (``evaluation.evaluators``), so other data sets are never classified by
    the MNIST network.
    """
    try:
        from genzoo.evaluation.classifier import load_classifier
        from genzoo.evaluation.evaluators import find_evaluator
    except ImportError as exc:
        return None, f"no evaluation classifier ({exc})"
    try:
        if run is None:
            return load_classifier(), ""
        from genzoo.data.datasets import load_configured

        source = run.config.data
        net, reason = find_evaluator(load_configured(source), "cpu", source, run.config.shape)
        return net, reason and f"evaluation classifier unavailable ({reason})"
    except (GenzooError, OSError, RuntimeError) as exc:
        return None, f"evaluation classifier unavailable ({exc})"


@torch.no_grad()
def classify(classifier: Any, images: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """``(labels (N,), confidence (N,) or None)`` of images ``(N, C, H, W)`` in [0, 1].

    Uses the softmax of the classifier's logits when it is a module, else its ``predict``;
    ``(None, None)`` without a classifier.
    """
    if classifier is None:
        return None, None
    if isinstance(classifier, torch.nn.Module):
        device = next(classifier.parameters()).device
        logits = torch.cat([classifier(c.to(device)).cpu() for c in images.split(1000)])
        conf, labels = torch.softmax(logits.float(), dim=1).max(dim=1)
        return labels, conf
    return torch.as_tensor(classifier.predict(images)).cpu(), None


@torch.no_grad()
def interpolation_grid(
    run: Run,
    *,
    rows: int = 5,
    steps: int = 9,
    path: str = "lerp",
    seed: int = 0,
    candidates: int | None = None,
) -> tuple[Tensor, str]:
    """``(images (rows * steps, C, H, W) in [0, 1], description of the endpoints)``.

    ``candidates`` prior draws (default ``max(200, 40 *
    rows)``) are decoded and classified to pick endpoint pairs of different classes, the most
    confidently classified draws first. Without a classifier for the run's images (another
    shape, or none installed) the endpoints are random draws, and the description says so.
    """
    if rows < 1:
        raise ConfigError(f"--rows must be >= 1, got {rows}")
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {steps}")
    n_cand = candidates if candidates is not None else max(200, 40 * rows)
    if n_cand < 2:
        raise ConfigError(f"--candidates must be >= 2, got {n_cand}")
    family, model = run.family, run.model
    dim = family.latent_dim(run.config.model, run.config.shape)
    if not family.can_decode or dim is None:
        raise ConfigError(f"the {family.name} family has no latent decoder to interpolate with")
    gen = make_generator(seed, "interpolate")
    z = torch.randn(n_cand, dim, generator=gen).to(run.device)  # (N, D)
    images = torch.cat([family.decode(model, c) for c in z.split(256)])  # (N, C, H, W)
    classifier, reason = load_classifier_or_reason(run)
    labels, scores = classify(classifier, images.float().cpu())
    pairs = choose_pairs(labels, rows, gen, n=n_cand, scores=scores)
    grid = [
        family.decode(model, interpolate(z[i], z[j], steps, path)).float().cpu() for i, j in pairs
    ]
    if labels is None:
        text = f"endpoints: random prior draws, not class-controlled: {reason}"
    else:
        shown = ", ".join(f"{int(labels[i])}->{int(labels[j])}" for i, j in pairs)
        text = f"endpoints: classes {shown} (evaluation classifier)"
    return torch.cat(grid), text
