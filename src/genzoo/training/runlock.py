"""One writer per run folder: an advisory ``fcntl.flock`` on ``RUN/.lock``, held for as long
as a process writes the folder (training, resuming, evaluating into ``eval.json``).

The lock file records who holds it (pid, host, start time, command), so a second writer is
refused in one line that names the holder. The kernel drops a ``flock`` when its process ends,
however it ends, so a lock left by a killed process is free; its record is still in the file,
and the next writer takes it over with a one-line ``StaleLockWarning``. Readers (``sample``,
``compare``, ``load_run``) never lock: every file they read is replaced atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genzoo.errors import GenzooWarning, RunLockedError

__all__ = [
    "run_lock",
    "check_unlocked",
    "lock_holder",
    "pid_alive",
    "StaleLockWarning",
    "LOCK_NAME",
]

LOCK_NAME = ".lock"

# folders this process holds: resolved path -> [fd, depth]; the lock is re-entrant, so that
# ``reproduce`` can hold a stage's folder while ``fit`` and ``evaluate_run`` take it again
_HELD: dict[Path, list[int]] = {}


class StaleLockWarning(GenzooWarning):
    """A run folder's lock record was left by a process that ended without releasing it."""


def _read(fd: int) -> dict[str, Any] | None:
    try:
        text = os.pread(fd, 4096, 0).decode()
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process (it left no record)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("since", 0))))
    command = f" ({info['command']})" if info.get("command") else ""
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {since}{command}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def _busy(folder: Path, holder: dict[str, Any] | None) -> RunLockedError:
    return RunLockedError(
        f"{folder} is being written by {_describe(holder)}; wait for it to end or stop it "
        "(sample and compare work meanwhile)"
    )


def _acquire(folder: Path) -> int:
    """Lock ``folder`` (created if missing) for this process; returns the lock file's fd."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise _busy(folder, holder) from None
    except OSError as exc:
        os.close(fd)
        raise RunLockedError(f"{folder / LOCK_NAME}: cannot lock ({exc.strerror})") from None
    previous = _read(fd)
    if previous is not None:
        pid, host = previous.get("pid"), previous.get("host")
        here = host == socket.gethostname() and isinstance(pid, int)
        gone = "which has ended" if here and not pid_alive(pid) else "which no longer holds it"
        warnings.warn(
            f"{folder}: taking over the lock left by {_describe(previous)}, {gone}",
            StaleLockWarning,
            stacklevel=3,
        )
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.time(),
        "command": " ".join(["genzoo", *sys.argv[1:3]]) if sys.argv[1:] else "",
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    os.fsync(fd)
    return fd


def _release(fd: int) -> None:
    """Clear the record first, then unlock: a free lock with a record means a crash."""
    try:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _key(folder: str | os.PathLike) -> Path:
    path = Path(folder).absolute()
    return path.parent.resolve() / path.name  # the folder itself may not exist yet


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold ``folder``'s write lock for the ``with`` block (creating the folder if needed).

    Raises ``RunLockedError`` (one line naming the holder) when another process holds it.
    Re-entrant within a process.
    """
    key = _key(folder)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    fd = _acquire(key)
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        _release(fd)


def check_unlocked(folder: str | os.PathLike) -> None:
    """Raise ``RunLockedError`` now when another process holds ``folder``'s lock (a check
    before starting workers that will take it); takes nothing."""
    path = Path(folder) / LOCK_NAME
    if not path.is_file() or _key(folder) in _HELD:
        return
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(Path(folder), _read(fd)) from None
    finally:
        os.close(fd)  # closing releases the probe's lock


def lock_holder(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The record in ``folder``'s lock file (held now, or left by a crash); None when free."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _read(fd)
    finally:
        os.close(fd)
