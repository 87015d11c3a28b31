"""Entry point of the ``genzoo`` command."""

from __future__ import annotations

import argparse
import sys

from genzoo.cli.args import Parser

__all__ = ["main", "build_parser"]


def build_parser() -> Parser:
    from genzoo import __version__
    from genzoo.cli import (
        compare,
        data,
        evaluate,
        evaluator,
        interpolate,
        plot,
        reproduce,
        sample,
        train,
    )

    parser = Parser(
        prog="genzoo",
        description="Train, evaluate, sample and compare VAEs, GANs "
        "and normalizing flows on images.",
    )
    parser.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    train.add_parser(sub)
    train.add_resume_parser(sub)
    evaluate.add_parser(sub)
    sample.add_parser(sub)
    data.add_parser(sub)
    plot.add_parser(sub)
    interpolate.add_parser(sub)
    evaluator.add_parser(sub)
    compare.add_parser(sub)
    reproduce.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 runtime error, 2 usage error, 130
    interrupt, 143 SIGTERM)."""
    from genzoo.cli.common import one_line_notices, pin_math_threads, stop_on_sigterm

    pin_math_threads()  # before anything imports torch
    from genzoo.errors import GenzooError, Terminated

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_on_sigterm(), one_line_notices():
            return int(args.handler(args) or 0)
    except GenzooError as exc:
        print(f"genzoo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        print(f"genzoo: stopped by SIGTERM; {_after_stop(args)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"genzoo: interrupted; {_after_stop(args)}", file=sys.stderr)
        return 130


def _after_stop(args: argparse.Namespace) -> str:
    """What a stopped command left and how to go on (a command's ``after_stop`` default)."""
    return getattr(args, "after_stop", "the last checkpoint is intact (genzoo resume RUN)")


if __name__ == "__main__":
    raise SystemExit(main())
