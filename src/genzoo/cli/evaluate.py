"""``genzoo evaluate RUN [family options]``: test metrics into RUN/eval.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.cli.args import add_family_options
    from genzoo.cli.common import add_checkpoint_flag, add_runtime_flags

    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained run on the test split",
        description="Evaluate a trained run into RUN/eval.json: the family's likelihood "
        "metrics and sample quality. The options below a family's heading apply to runs of "
        "that family only; any other is refused.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--split", choices=["val", "test"], default="test", help="data split (default: test)"
    )
    add_checkpoint_flag(p)
    p.add_argument("--seed", type=int, default=0, help="seed of every estimate (default: 0)")
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples drawn for FID/KID/precision/recall/coverage (default: 10000, or the "
        "run's --limit-eval when smaller: tiny runs get a tiny evaluation)",
    )
    p.add_argument(
        "--images",
        type=int,
        default=None,
        help="the family's metrics on the first N images of the split only (default: all)",
    )
    p.add_argument("--no-quality", action="store_true", help="skip the sample-quality metrics")
    add_runtime_flags(p)
    p.set_defaults(
        handler=run,
        family_options=add_family_options(p, "evaluate"),
        sample_options=add_family_options(p, "sample", " (of the quality samples)"),
        after_stop="the run's files are intact; the same command continues a VAE's NLL "
        "where it stopped",
    )


def run(args: argparse.Namespace) -> int:
    from genzoo.cli.args import family_overrides
    from genzoo.runs import load_run
    from genzoo.runs.evaluate import evaluate_run
    from genzoo.training.rundir import RunDir
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(args.device, args.threads)
    loaded = load_run(args.run, args.checkpoint, dev)
    options = family_overrides(args, args.family_options, loaded.family, "evaluate")
    sampler = family_overrides(args, args.sample_options, loaded.family, "sample")
    result = evaluate_run(
        loaded, split=args.split, seed=args.seed, samples=args.samples,
        quality=not args.no_quality, sample_options=sampler, images=args.images,
        checkpoint=args.checkpoint, **options,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
    print(f"wrote {Path(args.run) / RunDir.eval_name(args.checkpoint)}")
    if result.get("quality_skipped"):
        print(f"sample-quality metrics skipped: {result['quality_skipped']}", file=sys.stderr)
    return 0
