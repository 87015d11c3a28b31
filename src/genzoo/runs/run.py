"""A trained run, loaded: its config, family and model, ready to sample and evaluate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import RunConfig
from genzoo.family import Family, get_family, resolve_options
from genzoo.seeding import make_generator

__all__ = ["Run", "load_run"]


@dataclass
class Run:
    """A run folder with the model of one of its checkpoints, in eval mode on ``device``."""

    path: Path  # absolute
    config: RunConfig
    family: Family
    model: nn.Module
    checkpoint: dict[str, Any]  # the loaded checkpoint (epochs_done, global_step, ...)
    device: torch.device

    @property
    def epochs_done(self) -> int:
        return int(self.checkpoint["epochs_done"])

    def sample(
        self, n: int, generator: torch.Generator | None = None, *, seed: int = 0, **options: Any
    ) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1]; ``options``: the family's declared ones
        (e.g. ``temperature`` for a flow); anything else is a ``ConfigError``. Without a
        ``generator``, one seeded by ``seed``."""
        opts = resolve_options(self.family.name, "sample", self.family.sample_options, options)
        gen = generator or make_generator(seed, "sample", device=self.device)
        with torch.no_grad():
            return self.family.sample(self.model, n, gen, **opts)

    def evaluate(
        self,
        *,
        split: str = "test",
        seed: int = 0,
        samples: int | None = None,
        quality: bool = True,
        sample_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Metrics on ``split``, written to ``RUN/eval.json`` and returned: the family's own
        (likelihoods under ``nll_nats``, ``bpd``, ``neg_elbo_nats``), plus FID, KID,
        precision/recall and class coverage of ``samples`` samples when ``quality``.
        ``options``: the family's declared evaluate options (e.g. ``k`` for a VAE); anything
        else is a ``ConfigError``. ``sample_options``: the family's sample options for the
        quality samples (e.g. ``{"steps": 20}``). See ``genzoo.runs.evaluate.evaluate_run``."""
        from genzoo.runs.evaluate import evaluate_run

        return evaluate_run(
            self, split=split, seed=seed, samples=samples, quality=quality,
            sample_options=sample_options, **options,
        )  # fmt: skip

    def metrics(self, steps: bool = False) -> list[dict[str, Any]]:
        """The run's per-epoch records (``metrics.jsonl``), or per-step ones."""
        from genzoo.training.rundir import RunDir

        return RunDir(self.path).read_metrics(steps)


def load_run(
    path: str | os.PathLike, checkpoint: str = "best", device: str | torch.device = "cpu"
) -> Run:
    """Load run folder ``path`` (``best.pt``, else ``last.pt``) onto ``device``."""
    from genzoo.training.checkpoint import load_checkpoint
    from genzoo.training.rundir import RunDir
    from genzoo.training.runtime import resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    folder = RunDir.open(path)
    state = load_checkpoint(folder.checkpoint(checkpoint))
    cfg = RunConfig.from_dict(state["config"])
    family = get_family(cfg.family)
    model = family.build(cfg.model, cfg.shape)
    model.load_state_dict(state["model"])
    kept = {k: v for k, v in state.items() if k not in ("model", "step", "partial")}
    # absolute, so that the Run stays valid when a notebook changes its working folder
    return Run(Path(path).absolute(), cfg, family, model.to(dev).eval(), kept, dev)
