"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

__all__ = ["add_runtime_flags"]


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--threads`` and ``--quiet``."""
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: the cores this process may use)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="plain progress lines instead of a live bar"
    )
