"""``genzoo plot curves RUN... --out FILE``: per-epoch curves of several runs side by side."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="figures from finished runs")
    psub = p.add_subparsers(dest="plot_cmd", metavar="COMMAND", required=True, parser_class=type(p))
    c = psub.add_parser("curves", help="train/val curves of runs, one panel per run")
    c.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    c.add_argument("--out", required=True, help="PNG file to write")
    c.add_argument("--metric", default="loss", help="metric of metrics.jsonl (default: loss)")
    c.add_argument("--titles", default=None, help="comma-separated panel titles (default: names)")
    c.add_argument("--ylabel", default=None, help="y-axis label (default: the metric)")
    c.add_argument("--sharey", action="store_true", help="one y-axis scale for all panels")
    c.set_defaults(handler=run_curves)


def run_curves(args: argparse.Namespace) -> int:
    from pathlib import Path

    from genzoo.errors import ConfigError
    from genzoo.training.rundir import RunDir
    from genzoo.viz import line_plot
    from genzoo.viz.curves import epoch_curves

    titles = args.titles.split(",") if args.titles else [Path(r).name for r in args.runs]
    if len(titles) != len(args.runs):
        raise ConfigError(f"--titles has {len(titles)} entries for {len(args.runs)} runs")
    panels = []
    for path in args.runs:
        series = epoch_curves(RunDir.open(path).read_metrics(), args.metric)
        if not series:
            raise ConfigError(f"{path}: no per-epoch {args.metric!r} in metrics.jsonl")
        panels.append(series)
    out = line_plot(
        panels, args.out, titles=titles, ylabel=args.ylabel or args.metric, sharey=args.sharey
    )
    print(out)
    return 0
