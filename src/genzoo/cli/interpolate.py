"""``genzoo interpolate RUN --path lerp|slerp|quantile --rows R --out FILE.png``.

Rows of images decoded along a latent path between two generated digits: the endpoints are
drawn from the prior N(0, I), decoded, and (when the evaluation classifier is available) paired
so that each row joins two different predicted classes. Works for every family that provides
``decode`` and ``latent_dim``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "interpolate", help="decode latent paths between generated digits into a PNG grid"
    )
    p.add_argument("run", help="run folder")
    p.add_argument("--path", choices=["lerp", "slerp", "quantile"], default="lerp")
    p.add_argument("--rows", type=int, default=5, help="interpolations (default: 5)")
    p.add_argument(
        "--steps", type=int, default=9, help="images per row, endpoints included (default: 9)"
    )
    p.add_argument(
        "--candidates", type=int, default=None,
        help="prior draws to choose endpoints from (default: max(200, 40 * rows))",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="PNG file (default: RUN/figures/interp-PATH.png)")
    p.add_argument("--seed", type=int, default=0, help="seed of the endpoint draws (default: 0)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.runs import load_run
    from genzoo.runs.interpolate import interpolation_grid
    from genzoo.training.runtime import resolve_device
    from genzoo.viz import save_grid

    dev = resolve_device(args.device)
    images, text = interpolation_grid(
        load_run(args.run, args.checkpoint, dev), rows=args.rows, steps=args.steps,
        path=args.path, seed=args.seed, candidates=args.candidates,
    )  # fmt: skip
    out = Path(args.out) if args.out else Path(args.run) / "figures" / f"interp-{args.path}.png"
    save_grid(images, out, nrow=args.steps)
    print(text)
    print(out)
    return 0
