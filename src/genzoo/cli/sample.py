"""``genzoo sample RUN -n 64 --out FILE.png``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid")
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", default=None, help="PNG file (default: RUN/figures/samples.png)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument("--mean", action="store_true", help="VAE: decoder means instead of draws")
    p.add_argument("--temperature", type=float, default=1.0, help="flows: prior temperature")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.api import load_run
    from genzoo.errors import ConfigError
    from genzoo.registry import get_family
    from genzoo.seeding import make_generator
    from genzoo.training.runtime import resolve_device
    from genzoo.viz import save_grid

    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    if args.temperature <= 0:
        raise ConfigError(f"--temperature must be > 0, got {args.temperature}")
    dev = resolve_device(args.device)
    model, cfg, _ = load_run(args.run, args.checkpoint, dev)
    family = get_family(cfg.family)
    if family.sample is None:
        raise ConfigError(f"the {cfg.family} family cannot sample")
    gen = make_generator(args.seed, "sample", device=dev)
    images = family.sample(model, args.n, gen, mean=args.mean, temperature=args.temperature)
    out = Path(args.out) if args.out else Path(args.run) / "figures" / "samples.png"
    save_grid(images, out)
    print(out)
    return 0
