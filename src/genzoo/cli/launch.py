"""``genzoo train ... --nproc N``: N data-parallel workers on this machine, through PyTorch's
elastic launcher (``torch.distributed.launcher.api``, the engine behind torchrun).

``launch`` writes the fully resolved run (config, folder, resume flag, runtime options) to a
spec file and has torchelastic start ``python -m genzoo.cli.launch SPEC.json`` N times: a
standalone c10d rendezvous on a free port, no restarts, torchrun's environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...), so every rank trains the same run and joins the
process group exactly as under ``torchrun`` (``train_process``). When a worker fails,
torchelastic stops the others and the job ends with one line naming the rank that failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["launch", "train_process", "worker_main"]


def train_process(
    cfg: Any,
    run_dir: Path,
    resume: bool,
    device: str,
    threads: int | None,
    quiet: bool,
    compile: bool = False,
) -> int:
    """Train in this process; joins the process group when torchrun's environment says so.

    Shared by the plain CLI, torchrun workers and ``--nproc`` workers. Only rank 0 prints.
    ``compile`` passes the step's (DDP-wrapped) networks through ``torch.compile``.
    """
    import torch.distributed as dist

    from genzoo.training.distributed import (
        ddp_wrapper,
        env_world,
        init_from_env,
        lost_contact,
        shutdown,
    )
    from genzoo.training.loop import fit
    from genzoo.training.runtime import setup_runtime

    dev = setup_runtime(device, threads)
    rank, world, _ = env_world()
    try:
        dev = init_from_env(dev)
        if world > 1:
            # every rank must agree on the run folder and on resuming before rank 0 writes
            if cfg is not None:  # ``train``: rank 0's name and resume decision hold
                box = [cfg.name, str(run_dir), resume]
                dist.broadcast_object_list(box, src=0)
                cfg = dataclasses.replace(cfg, name=box[0])
                run_dir, resume = Path(box[1]), bool(box[2])
        if rank == 0:
            print(f"run folder: {run_dir}", flush=True)
        wrap = _compiled(ddp_wrapper(dev) if world > 1 else None) if compile else None
        try:
            result = fit(cfg, run_dir, resume=resume, device=dev, quiet=quiet, wrap_model=wrap)
        except Exception as exc:
            if world > 1 and (err := lost_contact(exc)) is not None:
                raise err from None
            raise
        if world > 1:
            dist.barrier()  # nobody tears the group down while another rank still needs it
        if rank == 0:
            where = result.run.path if result.run else run_dir
            finite = math.isfinite(result.best_val)
            best = f"  best val loss {result.best_val:.4f}" if finite else ""
            print(f"done: {where}{best}", flush=True)
    finally:
        shutdown()
    return 0


def _compiled(wrap: Any) -> Any:
    import torch

    def compiled(module: Any, **options: Any) -> Any:
        return torch.compile(wrap(module, **options) if wrap is not None else module)

    return compiled


# ------------------------------------------------------------------------------------ workers
def worker_main(argv: list[str] | None = None) -> int:
    """Entry point of one ``--nproc`` worker: ``python -m genzoo.cli.launch SPEC.json``.

    Prints one line per error and leaves it in torchelastic's error file, marked as this
    rank's own failure or as lost contact with another rank; the launcher names the rank
    that failed first from these.
    """
    from genzoo.cli.common import one_line_notices, pin_math_threads, stop_on_sigterm, terminated

    pin_math_threads()  # inherited from the launcher's environment too; before torch loads
    from genzoo.config import RunConfig
    from genzoo.errors import Terminated

    argv = sys.argv[1:] if argv is None else argv
    rank = os.environ.get("RANK", "?")
    try:
        spec = json.loads(Path(argv[0]).read_text())
        cfg = RunConfig.from_dict(spec["config"]) if spec["config"] is not None else None
        with stop_on_sigterm(), one_line_notices():  # the launcher stops workers by SIGTERM
            return train_process(
                cfg,
                Path(spec["run_dir"]),
                spec["resume"],
                spec["device"],
                spec["threads"],
                spec["quiet"],
                spec.get("compile", False),
            )
    except Terminated as exc:
        return exc.exit_code  # the launcher prints the job's one line
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line per rank; the launcher summarises
        if terminated():  # a collective that failed as the other ranks stopped: no line
            return 128 + signal.SIGTERM
        return _worker_error(exc, rank)


def _worker_error(exc: Exception, rank: str) -> int:
    """Print ``worker_main``'s error ``exc`` in one line and record it for the launcher."""
    from genzoo.errors import GenzooError, NonFiniteLossError
    from genzoo.training.distributed import RankFailedError, ReplicaMismatchError, lost_contact

    debug = bool(os.environ.get("GENZOO_DEBUG"))
    if isinstance(exc, GenzooError):
        own = isinstance(exc, ReplicaMismatchError) or not isinstance(exc, RankFailedError)
        _record(exc, own)
        collective = isinstance(exc, (NonFiniteLossError, ReplicaMismatchError))
        # a collective error is the same on every rank; lost contact is the launcher's line
        if (rank == "0" or not collective) and (own or debug):
            print(f"genzoo: error: [rank {rank}] {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    own = lost_contact(exc) is None
    _record(exc, own)
    if debug:
        traceback.print_exc()
    elif not own:  # another rank failed: the launcher's line names it
        return 1
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    print(
        f"genzoo: error: [rank {rank}] {type(exc).__name__}: {first[:300]}",
        file=sys.stderr,
        flush=True,
    )
    return 1


def _record(exc: BaseException, own: bool) -> None:
    """Write ``exc`` to ``TORCHELASTIC_ERROR_FILE`` (set by torchelastic and torchrun) in its
    plain format, plus ``own``: False when this rank failed on losing contact with another."""
    if path := os.environ.get("TORCHELASTIC_ERROR_FILE"):
        message = f"{type(exc).__name__}: {exc}"
        data = {"message": message, "timestamp": int(time.time()), "own": own}
        with contextlib.suppress(OSError):
            Path(path).write_text(json.dumps(data))


# ----------------------------------------------------------------------------------- launcher
_GRACE_S = 5  # seconds between SIGTERM and SIGKILL when the launcher itself is stopped
_MONITOR_S = 0.1  # how often torchelastic polls the workers
# Signals that torchelastic forwards to the workers. SIGINT is left out: Ctrl-C stays a
# KeyboardInterrupt here, and torchelastic SIGTERMs the workers on the way out.
_FORWARDED = ("SIGTERM", "SIGHUP", "SIGQUIT")


def launch(nproc: int, spec: dict[str, Any]) -> int:
    """Run ``nproc`` workers of ``spec`` on localhost through torchelastic; 0 when all succeed.

    Raises ``RankFailedError`` (one line) when a worker fails; torchelastic has then stopped
    the others. SIGTERM (SIGHUP, SIGQUIT) of the launcher stops the workers with the same
    signal, Ctrl-C with SIGTERM.
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from genzoo.training.distributed import RankFailedError

    with (
        tempfile.TemporaryDirectory(prefix="genzoo-launch-") as tmp,
        _quiet_torchelastic(),
        _signal_handlers_restored(),
    ):
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        config = LaunchConfig(
            min_nodes=1,
            max_nodes=1,
            nproc_per_node=nproc,
            run_id=f"genzoo-{uuid.uuid4().hex[:12]}",
            rdzv_backend="c10d",
            rdzv_endpoint="localhost:0",  # a store on a free port, as torchrun --standalone
            max_restarts=0,
            monitor_interval=_MONITOR_S,
            logs_specs=DefaultLogsSpecs(log_dir=str(Path(tmp) / "logs")),  # error files only
            signals_to_handle=",".join(_FORWARDED),
            shutdown_timeout=_GRACE_S,
        )
        try:
            elastic_launch(config, sys.executable)("-m", "genzoo.cli.launch", str(spec_path))
        except ChildFailedError as exc:
            raise RankFailedError(f"data-parallel job failed: {_summary(exc.failures)}") from None
        except SignalException as exc:
            print(
                f"genzoo: stopped by {exc.sigval.name}; the last checkpoint is intact "
                "(genzoo resume RUN)",
                file=sys.stderr,
            )
            raise SystemExit(128 + int(exc.sigval)) from None
        except Exception as exc:  # noqa: BLE001 - rendezvous or start-up failure, one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RankFailedError(
                f"could not start the workers: {type(exc).__name__}: {first[:200]}"
            ) from None
    return 0


def _summary(failures: dict[int, Any]) -> str:
    """``rank R was killed by SIGKILL; stopped the other K rank(s)`` from torchelastic's
    ``{global rank: ProcessFailure}``, which also holds the ranks it stopped (SIGTERM) and
    those that exited on losing contact with the failed one.

    The cause is, in this order: a rank killed by another signal than SIGTERM, a rank whose
    error file holds an error of its own, one without an error file (killed by SIGTERM, or
    failed before or after ``worker_main``), one that lost contact with another rank; the
    lowest rank of its kind.
    """

    def kind(item: tuple[int, Any]) -> tuple[int, int]:
        rank, f = item
        if f.exitcode < 0 and f.exitcode != -signal.SIGTERM:
            return 0, rank
        own = f.error_file_data.get("own")  # see _record; absent without an error file
        return {True: 1, False: 3}.get(own, 2), rank

    rank, cause = min(failures.items(), key=kind)
    stopped = sum(r != rank and f.exitcode == -signal.SIGTERM for r, f in failures.items())
    return f"rank {rank} {_describe(cause.exitcode)}" + (
        f"; stopped the other {stopped} rank(s)" if stopped else ""
    )


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@contextlib.contextmanager
def _quiet_torchelastic() -> Iterator[None]:
    """Keep torchelastic's log records (every start, signal and failure, at INFO to ERROR) off
    the terminal: genzoo reports failures in one line. ``GENZOO_DEBUG=1`` shows them."""
    if os.environ.get("GENZOO_DEBUG"):
        yield
        return
    loggers = [
        logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher")
    ]
    saved = [(log, log.propagate) for log in loggers]
    sink = logging.NullHandler()
    for log in loggers:
        log.addHandler(sink)
        log.propagate = False
    try:
        yield
    finally:
        for log, propagate in saved:
            log.removeHandler(sink)
            log.propagate = propagate


@contextlib.contextmanager
def _signal_handlers_restored() -> Iterator[None]:
    """torchelastic installs handlers for the forwarded signals and leaves them; put ours back."""
    saved = {name: signal.getsignal(getattr(signal, name)) for name in _FORWARDED}
    try:
        yield
    finally:
        for name, handler in saved.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread; C handler
                signal.signal(getattr(signal, name), handler)


if __name__ == "__main__":
    raise SystemExit(worker_main())
