"""Evaluate one run folder: the family's own test metrics plus sample quality, into eval.json.

Shared by ``genzoo evaluate`` and ``genzoo reproduce``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

__all__ = ["evaluate_run"]


def evaluate_run(
    run_dir: str | os.PathLike,
    *,
    device: torch.device,
    split: str = "test",
    checkpoint: str = "best",
    k: int | None = None,
    dequant_samples: int | None = None,
    seed: int = 0,
    samples: int = 10_000,
    quality: bool = True,
) -> dict[str, Any]:
    """Metrics of the run's ``checkpoint`` on ``split``; writes and returns ``RUN/eval.json``."""
    from genzoo.api import load_run
    from genzoo.data.datasets import load_dataset
    from genzoo.registry import get_family
    from genzoo.training.loop import evaluate_split
    from genzoo.training.rundir import RunDir

    model, cfg, state = load_run(run_dir, checkpoint, device)
    family = get_family(cfg.family)
    data = load_dataset(cfg.data.dataset, cfg.data.data_dir)
    if cfg.train.limit_eval is not None:
        data = data.subset({"val": cfg.train.limit_eval, "test": cfg.train.limit_eval})
    start = time.perf_counter()
    options = {"k": k, "dequant_samples": dequant_samples, "seed": seed}
    if family.evaluate is not None:
        metrics = family.evaluate(model, cfg, data, split, device, options)
    else:
        step = family.make_step(model, cfg.model, cfg.train)
        view = family.data_view(cfg.model)
        x, y = data.view(split, view), data.labels[split]
        metrics = evaluate_split(step, x, y, cfg.train.eval_batch_size, device)
    run = RunDir.open(run_dir)
    result: dict[str, Any] = {
        "family": cfg.family,
        "arch": getattr(cfg.model, "arch", None),
        "data_view": family.data_view(cfg.model),
        "split": split,
        "checkpoint_epoch": state["epochs_done"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_time_s": sum(
            r.get("time_s", 0.0) for r in run.read_metrics() if r.get("split") == "train"
        ),
        **metrics,
    }
    if quality and family.sample is not None:
        from genzoo.evaluation.quality import QualityConfig, run_quality

        qcfg = QualityConfig(samples=samples, seed=seed)
        result.update(
            run_quality(
                family.sample,
                model,
                cfg.data.dataset,
                qcfg,
                device,
                cfg.data.data_dir,
                result["data_view"],
            )
        )
    result["eval_time_s"] = time.perf_counter() - start
    run.write_json("eval.json", result)
    return result
