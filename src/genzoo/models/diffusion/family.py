"""The diffusion family: DDPM (Ho et al. 2020) with DDIM sampling and a bits/dim bound."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.family import CurveFigure, Family, ImageFigure, ImageShape, Option, Series
from genzoo.models.diffusion.config import DiffusionConfig
from genzoo.models.diffusion.evaluate import (
    DEFAULT_BOUND_IMAGES,
    DEFAULT_BOUND_T,
    EVAL_CHUNK,
    evaluate_bound,
)
from genzoo.models.diffusion.model import Diffusion, randn
from genzoo.models.diffusion.sample import ancestral, ddim
from genzoo.models.diffusion.step import DiffusionStep
from genzoo.seeding import make_generator

__all__ = ["DiffusionFamily", "DEFAULT_STEPS", "FIGURE_STEPS"]

DEFAULT_STEPS = 50  # DDIM steps of `sample` (and so of evaluate's FID); 0: ancestral over all T
FIGURE_STEPS = 25  # DDIM steps of the figures' samples (cheap: drawn at every sample epoch)
_GRID, _CHAINS, _STRIP = 64, 8, 8  # figure samples; denoising chains and states per chain


class DiffusionFamily(Family):
    name = "diffusion"
    description = "denoising diffusion (DDPM, U-Net) with DDIM sampling and a bits/dim bound"
    config_cls = DiffusionConfig
    # Sized for an hour of 2 CPU cores. The first default U-Net (16 x (1, 2, 4), 2 blocks,
    # 0.91M weights) trained at 2.67 s per step of 128 on one thread: hours for 15 epochs. The
    # cheaper one now in DiffusionConfig (16 x (1, 2, 2), 1 block, 0.27M) was measured
    # 2026-12-03 (AMD EPYC, AVX2, torch 2.13, --threads 2, alone): 28 epochs in 2,422 s
    # (70-85 s an epoch on a quiet machine), EMA val loss 0.0357 after epoch 1, 0.0231 at the
    # end; FID 24.6 (10,000 DDIM-50 samples, genzoo features; the MLP GAN's is 25.8) and a
    # test bound of 1.69 bits/dim. The cosine decay ends at the last step: --epochs sets
    # the budget. lr 1e-3 (a small U-Net), grad_clip 1 (Ho et al.'s).
    train_defaults = TrainConfig(
        epochs=28, batch_size=128, lr=1e-3, lr_schedule="cosine", grad_clip=1.0,
        sample_epochs=(0, 1, 4, 14, 28),
    )  # fmt: skip
    sample_options = (
        Option("steps", int, DEFAULT_STEPS, "DDIM steps (0: ancestral sampling over all T)", ge=0),
        Option("eta", float, 0.0, "DDIM noise: 0 deterministic, 1 like ancestral", ge=0),
    )
    evaluate_options = (
        Option("bound_images", int, DEFAULT_BOUND_IMAGES,
               "test images of the bits/dim bound (0: all)", ge=0),
        Option("bound_t", int, DEFAULT_BOUND_T,
               "steps sampled per image for the bound, stratified (0: all T, exact)", ge=0),
    )  # fmt: skip
    figures = (
        ImageFigure("samples", f"Samples (DDIM, {FIGURE_STEPS} steps) from fixed noise."),
        ImageFigure(
            "denoising",
            f"Denoising from x_T (left) to x_0 (right), DDIM with {FIGURE_STEPS} steps: one row "
            "per chain.",
            nrow=_STRIP,
        ),
        CurveFigure(
            "loss",
            "Simple loss (mean squared error of the predicted noise) per epoch: train with "
            "the trained weights, validation with the EMA weights.",
            (Series("train", "loss", "train"), Series("val (EMA)", "loss", "val")),
            ylabel="MSE",
            title="L_simple",
        ),
    )

    def build(self, cfg: DiffusionConfig, shape: ImageShape) -> Diffusion:
        return Diffusion(cfg, shape)

    def make_step(
        self, model: torch.nn.Module, cfg: DiffusionConfig, train: TrainConfig
    ) -> DiffusionStep:
        return DiffusionStep(model, cfg, train)

    def data_view(self, cfg: DiffusionConfig) -> str:
        return "signed"

    def sample(
        self, model: Diffusion, n: int, generator: torch.Generator,
        steps: int = DEFAULT_STEPS, eta: float = 0.0,
    ) -> Tensor:  # fmt: skip
        return _draw(model, n, generator, steps, eta)

    def evaluate(
        self, model: Diffusion, cfg: Any, data: Any, split: str, device: torch.device,
        seed: int = 0, bound_images: int = DEFAULT_BOUND_IMAGES, bound_t: int = DEFAULT_BOUND_T,
    ) -> dict[str, Any]:  # fmt: skip
        return evaluate_bound(
            model, data, split, device, seed=seed, images=bound_images, t_samples=bound_t
        )

    @torch.no_grad()
    def snapshots(self, model: Diffusion, cfg: DiffusionConfig, val_x: Tensor) -> dict[str, Tensor]:
        gen = make_generator(0, "diffusion-figure-noise", device=val_x.device)
        states: list[Tensor] = []
        x0 = _draw(model, _GRID, gen, FIGURE_STEPS, 0.0, states)
        keep = torch.linspace(0, len(states) - 1, _STRIP).round().long().tolist()
        strip = torch.stack([states[i][:_CHAINS] for i in keep], 1)  # (chains, strip, C, H, W)
        return {"samples": x0, "denoising": _to_unit(strip.flatten(0, 1))}


def _to_unit(x: Tensor) -> Tensor:
    return ((x + 1) / 2).clamp(0, 1)


def _draw(
    model: Diffusion, n: int, generator: torch.Generator, steps: int, eta: float,
    trajectory: list[Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """``n`` samples ``(n, C, H, W)`` in [0, 1] with the EMA weights: DDIM with ``steps``
    steps, or ancestral over all T when ``steps`` is 0; ``x_T`` and every later state come
    from ``generator``. The network sees at most ``EVAL_CHUNK`` images at a time."""
    ref = next(model.parameters())
    x_T = randn((n, *model.shape), generator, ref)

    def eps_fn(x: Tensor, t: Tensor) -> Tensor:
        chunks = zip(x.split(EVAL_CHUNK), t.split(EVAL_CHUNK), strict=True)
        return torch.cat([model.eps(xc, tc) for xc, tc in chunks])

    sched, var = model.schedule, model.cfg.variance
    if steps == 0:
        x = ancestral(eps_fn, sched, x_T, generator, var, trajectory)
    else:
        x = ddim(eps_fn, sched, x_T, generator, steps, eta, trajectory)
    return _to_unit(x)
