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
    result = {
        "family": cfg.family,
        "split": args.split,
        "checkpoint_epoch": state["epochs_done"],
        "parameters": sum(p.numel() for p in model.parameters()),
        **metrics,
        "eval_time_s": time.perf_counter() - start,
    }
    path = RunDir.open(args.run).write_json("eval.json", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0
