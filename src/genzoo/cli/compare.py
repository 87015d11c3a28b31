"""``genzoo compare RUN... [--format md|csv] [--out FILE]``: one table across families."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="one table of evaluated runs (from RUN/eval.json) with the real-vs-real floor",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders with an eval.json")
    p.add_argument("--format", choices=["md", "csv"], default="md", help="(default: md)")
    p.add_argument("--out", default=None, help="write the table to FILE instead of stdout")
    p.add_argument("--no-floor", action="store_true", help="leave out the real-vs-real floor row")
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (for the floor)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from genzoo.runs.compare import NotEvaluatedWarning, comparison
    from genzoo.training.runtime import setup_runtime

    if not args.no_floor:
        setup_runtime("cpu", args.threads)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NotEvaluatedWarning)
            table = comparison(args.runs, floor=not args.no_floor, data_dir=args.data_dir)
    finally:
        for w in caught:  # a run without eval.json: one line each; other warnings as usual
            if issubclass(w.category, NotEvaluatedWarning):
                print(f"genzoo: {w.message}", file=sys.stderr)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    text = table.markdown() if args.format == "md" else table.csv()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
