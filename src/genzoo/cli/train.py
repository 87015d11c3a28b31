"""``genzoo train FAMILY [flags]`` and ``genzoo resume RUN``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from genzoo.cli.args import add_config_flags, collect_overrides
from genzoo.cli.common import add_runtime_flags
from genzoo.config import DataConfig, TrainConfig

__all__ = ["add_parser", "run", "add_resume_parser", "run_resume"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.registry import family_names, get_family

    p = sub.add_parser("train", help="train a model family", description="Train a model.")
    fams = p.add_subparsers(dest="family", metavar="FAMILY", required=True, parser_class=type(p))
    for name in family_names():
        fam = get_family(name)
        fp = fams.add_parser(name, help=fam.description, description=f"Train a {fam.description}.")
        fp.set_defaults(
            model_fields=add_config_flags(fp, fam.config_cls, title="model"),
            train_fields=add_config_flags(fp, TrainConfig, fam.train_defaults, title="training"),
            data_fields=add_config_flags(fp, DataConfig, title="data"),
        )
        fp.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
        fp.add_argument("--name", default=None, help="run name (default: FAMILY-DATE-TIME)")
        fp.add_argument("--runs-dir", default="runs", help="parent of run folders (default: runs)")
        fp.add_argument(
            "--resume",
            action="store_true",
            help="continue the run folder named by --name from its last checkpoint",
        )
        fp.add_argument("--nproc", type=int, default=1, help="data-parallel processes (default: 1)")
        add_runtime_flags(fp)
        fp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.api import make_config
    from genzoo.errors import ConfigError
    from genzoo.training.loop import fit
    from genzoo.training.runtime import setup_runtime

    overrides = collect_overrides(args, args.model_fields + args.train_fields + args.data_fields)
    name = args.name or f"{args.family}-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg = make_config(args.family, seed=args.seed, name=name, **overrides)
    run_dir = Path(args.runs_dir) / name
    resume = args.resume and (run_dir / "config.json").exists()
    if args.nproc != 1:
        raise ConfigError("--nproc > 1 is not available yet; use torchrun (see README)")
    dev = setup_runtime(args.device, args.threads)
    print(f"run folder: {run_dir}", flush=True)
    result = fit(cfg, run_dir, resume=resume, device=dev, quiet=args.quiet)
    print(
        f"done: {result.run.path if result.run else run_dir}  best val loss {result.best_val:.4f}"
    )
    return 0


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue a run from its last checkpoint")
    p.add_argument("run", help="run folder")
    add_runtime_flags(p)
    p.set_defaults(handler=run_resume)


def run_resume(args: argparse.Namespace) -> int:
    from genzoo.training.loop import fit
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(args.device, args.threads)
    result = fit(None, args.run, resume=True, device=dev, quiet=args.quiet)  # type: ignore[arg-type]
    print(f"done: {args.run}  best val loss {result.best_val:.4f}")
    return 0
