"""``genzoo interpolate RUN --path lerp|slerp|quantile --rows R --out FILE.png``.

Rows of images decoded along a latent path between two generated digits: the endpoints are
drawn from the prior N(0, I), decoded, and (when the evaluation classifier is available) paired
so that each row joins two different predicted classes. Works for every family that provides
``decode`` and ``latent_dim``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run", "load_classifier_or_reason"]


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
        help="prior draws to choose endpoints from (default: max(100, 20 * rows))",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="PNG file (default: RUN/figures/interp-PATH.png)")
    p.add_argument("--seed", type=int, default=0, help="seed of the endpoint draws (default: 0)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run)


def load_classifier_or_reason() -> tuple[Any, str]:
    """``(classifier, "")`` when ``genzoo.evaluation.classifier`` loads, else ``(None, why)``."""
    from genzoo.errors import GenzooError

    try:
        from genzoo.evaluation.classifier import load_classifier
    except ImportError as exc:
        return None, f"no evaluation classifier ({exc})"
    try:
        return load_classifier(), ""
    except (GenzooError, OSError, RuntimeError) as exc:
        return None, f"evaluation classifier unavailable ({exc})"


def run(args: argparse.Namespace) -> int:
    import torch

    from genzoo.api import load_run
    from genzoo.errors import ConfigError
    from genzoo.models.interpolation import choose_pairs, interpolate
    from genzoo.registry import get_family
    from genzoo.seeding import make_generator
    from genzoo.training.runtime import resolve_device
    from genzoo.viz import save_grid

    if args.rows < 1:
        raise ConfigError(f"--rows must be >= 1, got {args.rows}")
    if args.steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {args.steps}")
    n_cand = args.candidates if args.candidates is not None else max(100, 20 * args.rows)
    if n_cand < 2:
        raise ConfigError(f"--candidates must be >= 2, got {n_cand}")
    dev = resolve_device(args.device)
    model, cfg, _ = load_run(args.run, args.checkpoint, dev)
    family = get_family(cfg.family)
    if family.decode is None or family.latent_dim is None:
        raise ConfigError(f"the {cfg.family} family has no latent decoder to interpolate with")

    gen = make_generator(args.seed, "interpolate")
    z = torch.randn(n_cand, family.latent_dim(cfg.model), generator=gen).to(dev)  # (N, D)
    with torch.no_grad():
        images = torch.cat([family.decode(model, c) for c in z.split(256)])  # (N, 1, 28, 28)
    classifier, reason = load_classifier_or_reason()
    labels = None
    if classifier is not None:
        labels = torch.as_tensor(classifier.predict(images.float().cpu())).cpu()
    pairs = choose_pairs(labels, args.rows, gen, n=n_cand)

    rows = []
    with torch.no_grad():
        for i, j in pairs:
            path = interpolate(z[i], z[j], args.steps, args.path)  # (steps, D)
            rows.append(family.decode(model, path).float().cpu())
    out = Path(args.out) if args.out else Path(args.run) / "figures" / f"interp-{args.path}.png"
    save_grid(torch.cat(rows), out, nrow=args.steps)
    if labels is None:
        print(f"endpoints: random prior draws, not class-controlled: {reason}")
    else:
        shown = ", ".join(f"{int(labels[i])}->{int(labels[j])}" for i, j in pairs)
        print(f"endpoints: classes {shown} (evaluation classifier)")
    print(out)
    return 0
