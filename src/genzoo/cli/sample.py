"""``genzoo sample RUN -n 64 --out FILE.png [family options]``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.cli.args import add_family_options
    from genzoo.cli.common import add_checkpoint_flag

    p = sub.add_parser(
        "sample",
        help="draw samples from a trained run into a PNG grid",
        description="Draw samples from a trained run. The options below a family's heading "
        "apply to runs of that family only; any other is refused.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", default=None, help="PNG file (default: RUN/figures/samples.png)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    add_checkpoint_flag(p)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.set_defaults(handler=run, family_options=add_family_options(p, "sample"))


def run(args: argparse.Namespace) -> int:
    from genzoo.cli.args import family_overrides
    from genzoo.errors import ConfigError
    from genzoo.runs import load_run
    from genzoo.training.runtime import resolve_device
    from genzoo.viz import save_grid

    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    run = load_run(args.run, args.checkpoint, resolve_device(args.device))
    options = family_overrides(args, args.family_options, run.family, "sample")
    images = run.sample(args.n, seed=args.seed, **options)
    out = Path(args.out) if args.out else Path(args.run) / "figures" / "samples.png"
    save_grid(images, out)
    print(out)
    return 0
