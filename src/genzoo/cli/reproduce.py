"""``genzoo reproduce --preset quick|paper|best [--out reports/NAME]``."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.cli.common import add_runtime_flags
    from genzoo.reproduce.presets import PRESETS

    p = sub.add_parser(
        "reproduce",
        help="train, evaluate and report every figure of the course report",
        description="Train (or reuse, or resume) the report's models, evaluate them and write "
        "report.md and a self-contained report.html. Re-running continues an interrupted run.",
    )
    p.add_argument(
        "--preset", choices=list(PRESETS), default="quick",
        help="; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()),
    )  # fmt: skip
    p.add_argument("--out", default=None, help="report folder (default: reports/PRESET)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (or GENZOO_DATA_DIR)")
    add_runtime_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.reproduce import reproduce
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(args.device, args.threads)
    out = args.out or f"reports/{args.preset}"
    _, html = reproduce(
        args.preset, out, device=dev, seed=args.seed, data_dir=args.data_dir, quiet=args.quiet
    )
    print(html)
    return 0
