"""Options and process set-up shared by several sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "add_checkpoint_flag",
    "add_runtime_flags",
    "pin_math_threads",
    "stop_on_sigterm",
    "terminated",
    "one_line_notices",
]

# Math libraries that may change their thread count from call to call (MKL by default, GNU
# OpenMP when OMP_DYNAMIC is true, from the load average) split sums differently, so a rerun
# differs in the last digits; fixed thread counts make reruns on one machine bit-identical.
PINNED = {"MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE"}
_RECEIVED: list[int] = []  # the signals ``stop_on_sigterm`` turned into ``Terminated``


def _checkpoint_name(text: str) -> str:
    """``training.rundir.checkpoint_name`` as an argparse type: a bad name is exit 2."""
    from genzoo.errors import ConfigError
    from genzoo.training.rundir import checkpoint_name

    try:
        return checkpoint_name(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_checkpoint_flag(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint best|last|epochE``."""
    parser.add_argument(
        "--checkpoint", type=_checkpoint_name, default="best", metavar="{best,last,epochE}",
        help="which checkpoint: best (else last), last, or epoch E's when training kept it "
        "(--keep-epochs) (default: best)",
    )  # fmt: skip


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--threads`` and ``--quiet``."""
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: $OMP_NUM_THREADS if set, else the cores this process may use)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="plain progress lines instead of a live bar"
    )


def pin_math_threads() -> None:
    """Set ``MKL_DYNAMIC=FALSE`` and ``OMP_DYNAMIC=FALSE`` unless the user set them. Must run
    before torch is imported (the libraries read them when loaded); child processes (``--nproc``
    workers) inherit them."""
    for key, value in PINNED.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``genzoo.errors.Terminated`` (a ``KeyboardInterrupt``)
    in the main thread, so that it unwinds like Ctrl-C: atomic writes finish or leave the old
    file, locks are released, and the command ends with one line and exit code 143. A second
    SIGTERM while unwinding is ignored (SIGKILL still ends the process). The previous handler
    is put back afterwards."""
    from genzoo.errors import Terminated

    def handler(signum: int, _frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)
        _RECEIVED.append(signum)
        raise Terminated(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def terminated() -> bool:
    """Whether this process received SIGTERM (its later errors are the stop's echoes)."""
    return bool(_RECEIVED)


@contextlib.contextmanager
def one_line_notices() -> Iterator[None]:
    """Within the block, genzoo's own notices (``GenzooWarning``) print as ``genzoo: note:
    ...`` on stderr; other warnings as usual."""
    from genzoo.errors import GenzooWarning

    shown = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, GenzooWarning):
            print(f"genzoo: note: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
