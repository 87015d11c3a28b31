"""``genzoo evaluate RUN``: test metrics into RUN/eval.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
        default=None,
        help="samples drawn for FID/KID/precision/recall/coverage (default: 10000, or the "
        "run's --limit-eval when smaller: tiny runs get a tiny evaluation)",
    )
    p.add_argument("--no-quality", action="store_true", help="skip the sample-quality metrics")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.evaluation.run_eval import evaluate_run
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(args.device, args.threads)
    result = evaluate_run(
        args.run, device=dev, split=args.split, checkpoint=args.checkpoint, k=args.k,
        dequant_samples=args.dequant_samples, seed=args.seed, samples=args.samples,
        quality=not args.no_quality,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
    print(f"wrote {Path(args.run) / 'eval.json'}")
    return 0
