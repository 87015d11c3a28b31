"""Test-set bits/dim bound of a diffusion model on the 8-bit images."""

from __future__ import annotations

import math
from typing import Any

import torch

from genzoo.maths import bits_per_dim
from genzoo.models.diffusion.bound import STRATA_POWER, estimate_bound, strata
from genzoo.models.diffusion.model import Diffusion
from genzoo.seeding import make_generator

__all__ = ["evaluate_bound", "DEFAULT_BOUND_IMAGES", "DEFAULT_BOUND_T", "EVAL_CHUNK"]

DEFAULT_BOUND_IMAGES = 1000
DEFAULT_BOUND_T = 25
EVAL_CHUNK = 250  # images per network call


@torch.no_grad()
def evaluate_bound(
    model: Diffusion, data: Any, split: str, device: torch.device, *, seed: int, images: int,
    t_samples: int,
) -> dict[str, Any]:  # fmt: skip
    """The variational bound (``bound.estimate_bound``) on the first ``images`` images of
    ``split`` (0: all), in float64, with the EMA weights.

    ``bpd``, ``nll_nats`` and ``neg_elbo_nats`` all hold the bound (``bpd_is_bound``: an
    upper bound on the 8-bit NLL, not the NLL; ``likelihood_view``: of the 8-bit images, not
    of the ``signed`` view the model trains on); ``bpd_stderr`` is its standard error over the
    images (it includes the variance of the stratified steps when ``t_samples`` > 0).
    """
    x = data.view(split, "signed")
    x = x[:images] if images else x
    gen = make_generator(seed, "diffusion-bound", device=device)
    model.eval()
    per_image, parts = [], {"prior": [], "decoder": [], "steps": []}
    cfg = model.cfg
    for xb in x.split(EVAL_CHUNK):
        x0 = ((xb.double() + 1) * 127.5).round().div(127.5).sub(1).to(device)  # exact 8-bit levels
        nats, p = estimate_bound(model.eps, model.schedule, x0, gen, cfg.variance, t_samples)
        per_image.append(nats.cpu())
        for k in parts:
            parts[k].append(p[k].cpu())
    nats = torch.cat(per_image)
    mean = nats.mean().item()
    stderr = nats.std().item() / math.sqrt(nats.numel()) if nats.numel() > 1 else float("nan")
    exact = t_samples == 0 or t_samples >= cfg.timesteps - 1
    edges = strata(cfg.timesteps, t_samples)
    return {
        "bpd": bits_per_dim(mean, model.dims),
        "nll_nats": mean,
        "neg_elbo_nats": mean,
        "bpd_is_bound": True,
        "likelihood_view": "uint8",  # the bound is on the 8-bit images, not the [-1, 1] view
        "bpd_stderr": bits_per_dim(stderr, model.dims),
        **{f"{k}_bpd": bits_per_dim(torch.cat(v).mean().item(), model.dims)
           for k, v in parts.items()},
        "bound_estimator": "every step (exact sum)" if exact else (
            f"stratified: one uniform step per image in each of {len(edges) - 1} strata of "
            f"the steps, narrowest at small t (edges 1 + (T-1) (k/K)^{STRATA_POWER:g})"
        ),
        "bound_images": int(nats.numel()),
        "bound_t_samples": 0 if exact else len(edges) - 1,
        "timesteps": cfg.timesteps,
    }  # fmt: skip
