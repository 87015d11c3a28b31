"""Atomic file writes: a reader (or a process killed mid-write) sees the old file or the new
one, never a torn one. Used for checkpoints, ``config.json``, ``eval.json``, snapshots and
figures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_text", "TMP_MARK"]

TMP_MARK = ".tmp"  # temporary files are ``.NAME.tmpPID`` beside their target


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, fsync it and rename it onto
    ``path`` (``os.replace``, atomic on POSIX). On any exception (Ctrl-C and SIGTERM included)
    the temporary file is removed and ``path`` is left as it was. A stop (Ctrl-C, SIGTERM) that
    the writer turned into another error while unwinding (``torch.save``'s zip writer raises
    ``RuntimeError`` from its ``__exit__``) is raised as the stop it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as exc:
        stop = _stop_behind(exc)
        if stop is None:
            raise
        raise stop from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The ``KeyboardInterrupt`` (``Terminated`` included) that ``exc`` was raised while
    handling, if any."""
    seen: set[int] = set()
    cause = exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__context__
    return None


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """``atomic_write`` of ``text`` (UTF-8)."""
    return atomic_write(path, lambda f: f.write(text.encode()))
