"""Process-level set-up, done once by the CLI or ``fit``: device, threads, denormals, seeds."""

from __future__ import annotations

import contextlib
import os
import platform
import sys

import torch
import torch.distributed as dist

from genzoo.errors import ConfigError

__all__ = ["resolve_device", "setup_runtime", "environment", "default_threads"]


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is a ConfigError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda requested but no CUDA device is available")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda") from None


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when it is set to a positive count (the user's choice, as torch
    itself takes it); else the cores this process may use (respects CPU affinity and
    cgroup-pinned sets), divided by the number of data-parallel processes on this machine
    (torchrun's ``LOCAL_WORLD_SIZE``)."""
    with contextlib.suppress(ValueError):
        asked = int(os.environ.get("OMP_NUM_THREADS", ""))
        if asked >= 1:
            return asked
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local_world = 1
    return max(1, cores // local_world)


def setup_runtime(device: str = "auto", threads: int | None = None) -> torch.device:
    """Resolve the device, set the thread count and flush denormals on CPU.

    Denormal floats make late CPU training several times slower; flushing them to zero changes
    no result that matters at float32 precision. ``threads`` is per process (under data
    parallelism the default shares the cores among the processes of this machine).
    """
    dev = resolve_device(device)
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    else:
        torch.set_num_threads(default_threads())
    if dev.type == "cpu":
        torch.set_flush_denormal(True)
    return dev


def environment(device: torch.device) -> dict[str, str | int]:
    """Versions and machine facts recorded in every run folder."""
    from genzoo import __version__

    env: dict[str, str | int] = {
        "genzoo": __version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if dist.is_available() and dist.is_initialized():
        env["world_size"] = dist.get_world_size()
        env["backend"] = str(dist.get_backend())
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env
