"""Data parallelism over ``torch.distributed``: process-group set-up for the CLI, the model
wrapper handed to a family's ``Step.distribute``, and collectives that are no-ops in a single
process.

Library code never starts processes or a process group by itself: the CLI (or a user's script)
calls ``init_from_env`` / ``shutdown``; ``fit`` only looks at whether a group exists.
"""

from __future__ import annotations

import datetime
import inspect
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from genzoo.errors import ConfigError, GenzooError
from genzoo.training.syncbn import convert_batchnorm

__all__ = [
    "rank_and_world",
    "all_reduce_sum",
    "any_rank",
    "gather_objects",
    "is_main",
    "env_world",
    "init_from_env",
    "shutdown",
    "DDP",
    "ddp_wrapper",
    "unwrap",
    "unwrapped_state_dict",
    "check_replicas",
    "RankFailedError",
    "ReplicaMismatchError",
    "lost_contact",
    "DEFAULT_TIMEOUT_S",
]

DEFAULT_TIMEOUT_S = 300.0  # a collective waiting longer than this fails instead of hanging


class RankFailedError(GenzooError):
    """Another process of a data-parallel job failed or stopped answering."""


class ReplicaMismatchError(RankFailedError):
    """The ranks' copies of the weights differ (raised on every rank at once)."""


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over all processes (in place); returns it unchanged in a single process.

    CPU tensors work under nccl too (they travel through the current GPU).
    """
    if rank_and_world()[1] > 1:
        if t.device.type == "cpu" and dist.get_backend() == "nccl":
            on_gpu = t.to(torch.device("cuda", torch.cuda.current_device()))
            dist.all_reduce(on_gpu, op=dist.ReduceOp.SUM)
            t.copy_(on_gpu.cpu())
        else:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def any_rank(flag: bool) -> bool:
    """True when ``flag`` is true on at least one process (a collective under DDP)."""
    if rank_and_world()[1] == 1:
        return flag
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0])).item() > 0)


def gather_objects(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` without a group)."""
    world = rank_and_world()[1]
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


# ------------------------------------------------------------------ process group (CLI only)
def env_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` announced by torchrun or ``genzoo train --nproc``."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    return rank, world, local


def init_from_env(device: torch.device, timeout_s: float | None = None) -> torch.device:
    """Join the process group described by torchrun's environment variables.

    gloo on CPU, nccl on CUDA (each rank on ``cuda:LOCAL_RANK``). Returns this rank's device.
    ``timeout_s`` (default ``GENZOO_DIST_TIMEOUT`` or 300 s) bounds every collective, so a rank
    that stops answering ends the job with an error rather than a hang.
    """
    rank, world, local = env_world()
    if world <= 1 or dist.is_initialized():
        return device
    if timeout_s is None:
        timeout_s = float(os.environ.get("GENZOO_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local} needs GPU {local} but only {torch.cuda.device_count()} "
                "are visible; use fewer processes"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    timeout = datetime.timedelta(seconds=timeout_s)
    try:
        dist.init_process_group(backend=backend, timeout=timeout, rank=rank, world_size=world)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RankFailedError(f"could not join the process group ({first[:200]})") from None
    return device


_COMM_MARKERS = ("gloo", "nccl", "connection", "timed out", "timeout", "processgroup", "socket")


def lost_contact(exc: BaseException) -> RankFailedError | None:
    """A one-line ``RankFailedError`` when ``exc`` is a collective that failed because another
    rank died or stopped answering (gloo/nccl errors, timeouts); None for anything else."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    dist_error = getattr(dist, "DistError", ())
    if isinstance(exc, dist_error) or (
        isinstance(exc, RuntimeError) and any(m in text.lower() for m in _COMM_MARKERS)
    ):
        return RankFailedError(f"lost contact with another rank (it failed or hung): {first[:160]}")
    return None


def shutdown() -> None:
    """Leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------- wrapping
class DDP(DistributedDataParallel):
    """``DistributedDataParallel`` that forwards unknown attributes to the wrapped module, so a
    family's ``self.model.sample(...)`` or ``self.model.cfg`` keeps working after wrapping.
    Only calls through ``forward`` (``self.model(...)``) synchronise gradients."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


# torch 2.13 renamed ``broadcast_buffers`` (deprecated) to ``forward_sync_buffers``
_NO_FORWARD_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else {"broadcast_buffers": False}
)


def ddp_wrapper(device: torch.device) -> Callable[..., nn.Module]:
    """The ``wrap`` function that ``fit`` hands to ``Step.distribute`` under a process group.

    ``wrap(module, sync_batchnorm=True)`` turns the module's BatchNorm layers into
    synchronised ones (statistics over the global batch, as in one process) and returns it
    wrapped in DDP. Buffers are not broadcast from rank 0 at each forward: synchronised
    statistics keep them equal, and broadcasting would modify BatchNorm buffers in place
    between a GAN's forward passes.
    """

    def wrap(module: nn.Module, sync_batchnorm: bool = True) -> nn.Module:
        if sync_batchnorm:
            module = convert_batchnorm(module, device)
        ids = [device.index] if device.type == "cuda" else None
        return DDP(module, device_ids=ids, **_NO_FORWARD_BUFFER_SYNC)

    return wrap


def check_replicas(model: nn.Module, epoch: int, rtol: float = 1e-6) -> None:
    """Raise ``RankFailedError`` when the ranks' copies of ``model``'s parameters differ.

    Under DDP every rank applies the same averaged gradients to the same weights, so the
    copies stay identical. They drift apart when a step calls a network that its
    ``Step.distribute`` did not wrap (its gradients are never averaged) or initialises
    parameters from its own share of the data. A collective: an all-gather of two numbers per
    parameter tensor.
    """
    if rank_and_world()[1] == 1:
        return
    with torch.no_grad():
        prints = [
            torch.stack([p.double().sum(), p.double().square().sum()]) for p in model.parameters()
        ]
        mine = torch.stack(prints).cpu() if prints else torch.zeros(0, 2, dtype=torch.float64)
    everyone = gather_objects(mine)
    for other in everyone[1:]:
        if not torch.allclose(other, everyone[0], rtol=rtol, atol=1e-9):
            bad = int((~torch.isclose(other, everyone[0], rtol=rtol, atol=1e-9)).any(1).sum())
            names = [n for n, _ in model.named_parameters()]
            first = next(
                names[i]
                for i in range(len(names))
                if not torch.allclose(other[i], everyone[0][i], rtol=rtol, atol=1e-9)
            )
            raise ReplicaMismatchError(
                f"after epoch {epoch} the ranks' weights differ ({bad} tensors, first "
                f"{first!r}): the family's step calls a network that its Step.distribute "
                "does not wrap, or initialises weights from its own share of the data"
            )


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper; ``module`` itself if unwrapped."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def unwrapped_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` without the ``module.`` segments that DDP wrappers add, wherever
    in the tree a family placed them, so checkpoints load into an unwrapped model."""
    model = unwrap(model)
    state = model.state_dict()
    wrapped = [n for n, m in model.named_modules() if isinstance(m, DistributedDataParallel)]
    for name in sorted(wrapped, key=len, reverse=True):
        old = f"{name}.module."
        meta = getattr(state, "_metadata", None)
        state = type(state)((_strip(k, old, name), v) for k, v in state.items())
        if meta is not None:
            state._metadata = type(meta)((_strip(k, old, name), v) for k, v in meta.items())
    return state


def _strip(key: str, old: str, name: str) -> str:
    if key.startswith(old):
        return f"{name}.{key[len(old) :]}"
    return name if key == old[:-1] else key
