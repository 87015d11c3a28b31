"""The VAE family: Gaussian encoder, N(0, I) prior, Bernoulli or discretised-logistic decoder."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.family import (
    CurveFigure,
    EvalPartial,
    Family,
    ImageFigure,
    ImageShape,
    Option,
    Series,
)
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.evaluate import DEFAULT_K, NAIVE_EXAMPLES, evaluate_vae
from genzoo.models.vae.likelihoods import make_likelihood
from genzoo.models.vae.model import VAE
from genzoo.models.vae.step import VAEStep
from genzoo.seeding import make_generator

__all__ = ["VAEFamily", "normal_quantile_grid", "FIGURE_SEED"]

FIGURE_SEED = 31337  # fixed noise of every sample grid, identical at every epoch
_GRID, _MANIFOLD, _RECON = 64, 20, 32


def normal_quantile_grid(n: int = 20) -> Tensor:
    """An ``n x n`` grid of 2-D latents ``(n * n, 2)`` through the normal quantile function.

    Coordinates are ``Phi^-1((i + 1/2) / n)``, symmetric around the origin (no infinite end
    points); rows go from high to low ``z_2`` (top to bottom), columns from low to high ``z_1``.
    """
    q = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


class VAEFamily(Family):
    name = "vae"
    description = "variational autoencoder, Gaussian encoder, Bernoulli or logistic decoder"
    config_cls = VAEConfig
    train_defaults = TrainConfig(
        epochs=40, batch_size=128, lr=1e-3, sample_epochs=(0, 10, 20, 30, 40)
    )
    precision_note = (
        "fp32: bf16 autocast made the MLP VAE's training epoch slower on a 2-core AMD EPYC "
        "without AMX (4.8x on 1 thread, 1.3x on 2; benchmarks/vae_epoch.py --precisions "
        "fp32,bf16) and no faster on a CPU with AMX (issue 16: 2.8 s bf16 vs 2.7 s fp32)"
    )
    sample_options = (
        Option("mean", bool, False, "decoder means instead of draws from the likelihood"),
    )
    resumable_evaluate = True  # k = 5000 on 10,000 images takes over an hour on a CPU
    evaluate_options = (
        Option("k", int, DEFAULT_K, "importance samples per image for the NLL", ge=1),
        Option(
            "naive_examples", int, NAIVE_EXAMPLES,
            "test images that also get the naive prior estimate (0: none)", ge=0,
        ),
    )  # fmt: skip
    figures = (
        CurveFigure(
            "curves",
            "Negative ELBO per epoch on the training set (single-sample, dynamic binarisation) "
            "and the validation set (fixed binarisation).",
            (Series("train", "loss", "train"), Series("val", "loss", "val")),
            ylabel="negative ELBO (nats)",
        ),
        ImageFigure(
            "samples", "Samples from the same prior draws at every epoch (draws from p(x|z))."
        ),
        ImageFigure("means", "The decoder's means for the same prior draws at every epoch."),
        ImageFigure(
            "manifold",
            "The learned manifold (2-D latents only): decoder means on a grid through the "
            "normal quantile function.",
            nrow=_MANIFOLD,
        ),
        ImageFigure(
            "recon",
            "Fixed validation images (odd rows) and their reconstructions from the posterior "
            "means (even rows).",
            nrow=8,
        ),
    )

    def build(self, cfg: VAEConfig, shape: ImageShape) -> VAE:
        return VAE(cfg, shape)

    def make_step(self, model: torch.nn.Module, cfg: VAEConfig, train: TrainConfig) -> VAEStep:
        return VAEStep(model, cfg, train)

    def config_for(self, cfg: VAEConfig, shape: ImageShape) -> VAEConfig:
        """The Bernoulli likelihood takes one channel: on colour images, the discretised
        logistic instead."""
        if shape[0] != 1 and cfg.likelihood == "bernoulli":
            return dataclasses.replace(cfg, likelihood="logistic")
        return cfg

    def data_view(self, cfg: VAEConfig) -> str:
        return make_likelihood(cfg.likelihood).view

    def sample(self, model: VAE, n: int, generator: torch.Generator, mean: bool = False) -> Tensor:
        return model.sample(n, generator, mean=mean)

    def evaluate(
        self, model: VAE, cfg: Any, data: Any, split: str, device: torch.device, seed: int = 0,
        k: int = DEFAULT_K, naive_examples: int = NAIVE_EXAMPLES,
        partial: EvalPartial | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        opts = {"k": k, "seed": seed, "naive_examples": naive_examples}
        m = evaluate_vae(model, cfg, data, split, device, opts, partial)
        common = {
            "nll_nats": m["nll"],
            "bpd": m["nll_bits_per_dim"],
            "neg_elbo_nats": m["neg_elbo"],
        }
        return {**m, **common}

    def latent_dim(self, cfg: VAEConfig, shape: ImageShape) -> int:
        return cfg.z_dim

    @torch.no_grad()
    def encode(self, model: VAE, x: Tensor) -> Tensor:
        """Data in the family's view ``(B, C, H, W)`` -> posterior means ``(B, D)``."""
        return model.encode(x)[0]

    @torch.no_grad()
    def decode(self, model: VAE, z: Tensor) -> Tensor:
        """Latents ``(B, D)`` -> decoder means ``(B, C, H, W)`` in [0, 1]."""
        return model.mean_image(z)

    @torch.no_grad()
    def snapshots(self, model: VAE, cfg: VAEConfig, val_x: Tensor) -> dict[str, Tensor]:
        device = next(model.parameters()).device
        out = {
            "samples": model.sample(_GRID, make_generator(FIGURE_SEED, "vae", device=device)),
            "means": model.sample(
                _GRID, make_generator(FIGURE_SEED, "vae", device=device), mean=True
            ),
            "recon": self._reconstructions(model, val_x[:_RECON]),
        }
        if cfg.z_dim == 2:
            p = next(model.parameters())
            z = normal_quantile_grid(_MANIFOLD).to(device=p.device, dtype=p.dtype)
            out["manifold"] = model.mean_image(z)
        return out

    @staticmethod
    def _reconstructions(model: VAE, x: Tensor) -> Tensor:
        """Rows of 8 originals, each followed by a row of their reconstructions (mean of z)."""
        recon = model.mean_image(model.encode(x)[0])
        orig = model.likelihood.encoder_input(x)
        rows = [t for i in range(0, x.shape[0], 8) for t in (orig[i : i + 8], recon[i : i + 8])]
        return torch.cat(rows)
