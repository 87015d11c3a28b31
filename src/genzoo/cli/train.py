"""``genzoo train FAMILY [flags]`` and ``genzoo resume RUN``.

Both run in this process, as one rank of ``torchrun --nproc-per-node N -m genzoo train ...``
(the process group is joined here, in the CLI layer), or start ``--nproc N`` local workers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from genzoo.cli.args import add_config_flags, collect_overrides
from genzoo.cli.common import add_runtime_flags
from genzoo.config import DataConfig, TrainConfig

__all__ = ["add_parser", "run", "add_resume_parser", "run_resume"]

_NPROC_HELP = (
    "data-parallel processes on this machine (default: 1); --batch-size stays the global "
    "batch, and --threads is per process (default: cores / N)"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.family import family_names, get_family

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
        _add_scale_flags(fp)
        add_runtime_flags(fp)
        fp.set_defaults(handler=run)


def _add_scale_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=int, default=1, help=_NPROC_HELP)
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the networks (off by default: no gain measured on CPU)",
    )


def _start(cfg: object, run_dir: Path, resume: bool, args: argparse.Namespace) -> int:
    """Train here (one process, or one torchrun rank), or launch ``--nproc`` workers."""
    from genzoo.cli.launch import launch, train_process
    from genzoo.errors import ConfigError
    from genzoo.training.distributed import env_world
    from genzoo.training.runlock import check_unlocked

    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc == 1:
        return train_process(
            cfg, run_dir, resume, args.device, args.threads, args.quiet, args.compile
        )
    if env_world()[1] > 1:
        raise ConfigError("--nproc cannot be combined with torchrun; use one or the other")
    check_unlocked(run_dir)  # rank 0 takes the lock; refuse now rather than from a worker
    spec = {
        "config": cfg.to_dict() if cfg is not None else None,  # type: ignore[attr-defined]
        "run_dir": str(run_dir),
        "resume": resume,
        "device": args.device,
        "threads": args.threads,
        "quiet": args.quiet,
        "compile": args.compile,
    }
    return launch(args.nproc, spec)


def run(args: argparse.Namespace) -> int:
    from genzoo.api import make_config

    overrides = collect_overrides(args, args.model_fields + args.train_fields + args.data_fields)
    default = f"{args.family}-{time.strftime('%Y%m%d-%H%M%S')}"
    name = default if args.name is None else args.name  # --name "" is refused, not replaced
    cfg = make_config(args.family, seed=args.seed, name=name, **overrides)  # checks the name
    run_dir = Path(args.runs_dir) / name
    resume = args.resume and (run_dir / "config.json").exists()
    return _start(cfg, run_dir, resume, args)


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue a run from its last checkpoint")
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="train to this many epochs in total (default: the run's own budget)",
    )
    _add_scale_flags(p)
    add_runtime_flags(p)
    p.set_defaults(handler=run_resume)


def run_resume(args: argparse.Namespace) -> int:
    from genzoo.training.rundir import RunDir

    if args.epochs is not None:
        before = RunDir.open(args.run).set_epochs(args.epochs)
        if before != args.epochs:
            print(f"epochs: {before} -> {args.epochs}", flush=True)
    return _start(None, Path(args.run), True, args)
