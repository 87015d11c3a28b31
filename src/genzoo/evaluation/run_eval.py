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
    samples: int | None = None,
    quality: bool = True,
) -> dict[str, Any]:
    """Metrics of the run's ``checkpoint`` on ``split``; writes and returns ``RUN/eval.json``.

    ``samples`` (default 10,000, or the run's ``limit_eval`` when smaller) are drawn for FID,
    KID, precision/recall and class coverage; likelihood metrics come from the family under the
    common names ``nll_nats``, ``bpd`` and ``neg_elbo_nats``.
    """
    from genzoo.api import load_run
    from genzoo.data.datasets import load_dataset
    from genzoo.evaluation.quality import QualityConfig, run_quality
    from genzoo.evaluation.record import standardise
    from genzoo.registry import get_family
    from genzoo.training.loop import evaluate_split
    from genzoo.training.rundir import RunDir

    if samples is not None:
        QualityConfig(samples=samples)  # validates before any slow work
    model, cfg, state = load_run(run_dir, checkpoint, device)
    default = QualityConfig.samples  # 10,000; a tiny run (--limit-eval) gets a tiny evaluation
    samples = samples or max(16, min(default, cfg.train.limit_eval or default))
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
        **standardise(metrics),
    }
    if quality and family.sample is not None:
        qcfg = QualityConfig(samples=samples, seed=seed)
        data_dir, view = cfg.data.data_dir, result["data_view"]
        quality_metrics = run_quality(
            family.sample, model, cfg.data.dataset, qcfg, device, data_dir, view
        )
        result.update(quality_metrics)
    result["eval_time_s"] = time.perf_counter() - start
    run.write_json("eval.json", result)
    return result
