"""``genzoo evaluate RUN``: test metrics into RUN/eval.json."""

from __future__ import annotations

import argparse
import json
import time

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run on the test split")
    p.add_argument("run", help="run folder")
    p.add_argument("--split", choices=["val", "test"], default="test")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument("--k", type=int, default=None, help="VAE: importance samples for the NLL")
    p.add_argument(
        "--dequant-samples", type=int, default=None, help="flows: dequantisation draws to average"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--samples",
        type=int,
        default=10_000,
        help="samples drawn for FID/KID/precision/recall/coverage (default: 10000)",
    )
    p.add_argument("--no-quality", action="store_true", help="skip the sample-quality metrics")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.api import load_run
    from genzoo.data.datasets import load_dataset
    from genzoo.registry import get_family
    from genzoo.training.loop import evaluate_split
    from genzoo.training.rundir import RunDir
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(args.device, args.threads)
    model, cfg, state = load_run(args.run, args.checkpoint, dev)
    family = get_family(cfg.family)
    data = load_dataset(cfg.data.dataset, cfg.data.data_dir)
    if cfg.train.limit_eval is not None:
        data = data.subset({"val": cfg.train.limit_eval, "test": cfg.train.limit_eval})
    start = time.perf_counter()
    options = {k: v for k, v in vars(args).items() if k in ("k", "dequant_samples", "seed")}
    if family.evaluate is not None:
        metrics = family.evaluate(model, cfg, data, args.split, dev, options)
    else:
        step = family.make_step(model, cfg.model, cfg.train)
        view = family.data_view(cfg.model)
        terms = evaluate_split(
            step,
            data.view(args.split, view),
            data.labels[args.split],
            cfg.train.eval_batch_size,
            dev,
        )
        metrics = {f"{k}": v for k, v in terms.items()}
    run_dir = RunDir.open(args.run)
    result = {
        "family": cfg.family,
        "arch": getattr(cfg.model, "arch", None),
        "data_view": family.data_view(cfg.model),
        "split": args.split,
        "checkpoint_epoch": state["epochs_done"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_time_s": sum(
            r.get("time_s", 0.0) for r in run_dir.read_metrics() if r.get("split") == "train"
        ),
        **metrics,
    }
    if not args.no_quality and family.sample is not None:
        from genzoo.evaluation.quality import QualityConfig, run_quality

        qcfg = QualityConfig(samples=args.samples, seed=args.seed)
        quality = run_quality(
            family.sample,
            model,
            cfg.data.dataset,
            qcfg,
            dev,
            cfg.data.data_dir,
            result["data_view"],
        )
        result.update(quality)
    result["eval_time_s"] = time.perf_counter() - start
    path = run_dir.write_json("eval.json", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0
