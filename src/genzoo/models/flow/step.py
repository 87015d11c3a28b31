"""The flow's training step: Adam on the mean negative log-likelihood of 8-bit images.

Per-example terms: ``loss`` = ``-log p(x)`` in nats (8-bit discrete sense, dequantisation term
included) and ``bpd`` = bits per dimension. Figures: the bits/dim curve (train and val) after
every epoch, and sample grids from fixed noise at ``sample_epochs`` at temperatures 1.0 and 0.7.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.maths import bits_per_dim
from genzoo.seeding import make_generator
from genzoo.training.distributed import unwrap
from genzoo.training.step import Step

__all__ = ["FlowStep", "FIGURE_TEMPERATURES"]

FIGURE_TEMPERATURES = (1.0, 0.7)
FIGURE_SAMPLES = 64


class FlowStep(Step):
    def __init__(self, model: torch.nn.Module, cfg: Any, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}
        self._flow = unwrap(model)
        self._noise: Tensor | None = None

    def _terms(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        nll = -self.model(batch.x, generator).float()
        return {"loss": nll, "bpd": bits_per_dim(nll, self._flow.dims)}

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        terms = self._terms(batch, generator)
        self.minimize(terms["loss"].mean(), self.optimizers["adam"])
        return {k: v.detach() for k, v in terms.items()}

    @torch.no_grad()
    def eval_step(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        return self._terms(batch, generator)

    # figures --------------------------------------------------------------------------------
    def fixed_noise(self) -> Tensor:
        """``(64, D)`` standard normal noise, identical at every epoch and in every run."""
        if self._noise is None:
            ref = next(self._flow.parameters())
            gen = make_generator(0, "flow-figure-noise")
            z = torch.randn(FIGURE_SAMPLES, self._flow.dims, generator=gen)
            self._noise = z.to(ref.device, ref.dtype)
        return self._noise

    @torch.no_grad()
    def on_epoch_end(self, epoch: int) -> None:
        if self.run is None:
            return
        from genzoo.viz import grid_panels, save_grid

        if epoch in self.train_cfg.sample_epochs:
            was_training = self._flow.training
            self._flow.eval()
            for t in FIGURE_TEMPERATURES:
                pixels = self._flow.decode(t * self.fixed_noise()).round().to(torch.uint8).cpu()
                name = f"samples_T{t:g}_epoch{epoch:03d}"
                save_grid(pixels.float() / 255.0, self.run.figures / f"{name}.png")
                torch.save(pixels, self._sample_dir() / f"{name}.pt")  # kept for the panels
                grid_panels(self._panels(t), self.run.figures / f"samples_T{t:g}.png", nrow=8)
            self._flow.train(was_training)
        self._plot_curve()

    def _sample_dir(self) -> Any:
        path = self.run.figures / "sample_tensors"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _panels(self, t: float) -> list[tuple[str, Tensor]]:
        """Sample grids of every epoch drawn so far (also before a resume), oldest first."""
        files = sorted(self._sample_dir().glob(f"samples_T{t:g}_epoch*.pt"))
        return [
            (
                f"epoch {int(f.stem.rsplit('epoch', 1)[1])}, T={t:g}",
                torch.load(f, weights_only=True).float() / 255.0,
            )
            for f in files
        ]

    def _plot_curve(self) -> None:
        from genzoo.viz import line_plot

        series: dict[str, tuple[list[float], list[float]]] = {}
        for rec in self.run.read_metrics():
            if "bpd" in rec and rec.get("split") in ("train", "val"):
                xs, ys = series.setdefault(rec["split"], ([], []))
                xs.append(rec["epoch"])
                ys.append(rec["bpd"])
        if series:
            line_plot(
                [series],
                self.run.figures / "bpd.png",
                ylabel="bits/dim",
                titles=["negative log-likelihood (8-bit)"],
                hlines={"course bar 1.85": 1.85},
            )

    def on_train_end(self) -> None:
        if self.run is not None:
            self._plot_curve()
