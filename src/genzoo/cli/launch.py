"""``genzoo train ... --nproc N``: start N data-parallel workers on this machine, like torchrun.

The launcher hosts the rendezvous store on a free port (no port race), starts the workers with
torchrun's environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...) and watches
them: when one exits with an error the others are stopped and the job ends with one line
naming the rank. A worker is ``python -m genzoo.cli.launch SPEC.json``; the spec holds the
fully resolved run (config, folder, resume flag, runtime options), so every rank trains the
same run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["launch", "train_process", "worker_main"]

_GRACE_S = 5.0  # seconds between SIGTERM and SIGKILL when stopping the other ranks


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
    """Entry point of one ``--nproc`` worker: ``python -m genzoo.cli.launch SPEC.json``."""
    from genzoo.config import RunConfig
    from genzoo.errors import GenzooError, NonFiniteLossError
    from genzoo.training.distributed import ReplicaMismatchError

    COLLECTIVE_ERRORS = (NonFiniteLossError, ReplicaMismatchError)  # noqa: N806

    argv = sys.argv[1:] if argv is None else argv
    rank = os.environ.get("RANK", "?")
    try:
        spec = json.loads(Path(argv[0]).read_text())
        cfg = RunConfig.from_dict(spec["config"]) if spec["config"] is not None else None
        return train_process(
            cfg,
            Path(spec["run_dir"]),
            spec["resume"],
            spec["device"],
            spec["threads"],
            spec["quiet"],
            spec.get("compile", False),
        )
    except GenzooError as exc:
        if rank == "0" or not isinstance(exc, COLLECTIVE_ERRORS):  # same message on every rank
            print(f"genzoo: error: [rank {rank}] {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line per rank; the launcher summarises
        if os.environ.get("GENZOO_DEBUG"):
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"genzoo: error: [rank {rank}] {type(exc).__name__}: {first[:300]}",
            file=sys.stderr,
            flush=True,
        )
        return 1


# ----------------------------------------------------------------------------------- launcher
def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every live process, then SIGKILL whatever is left after a grace period."""
    live = [p for p in procs if p.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + _GRACE_S
    for p in live:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _stop_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit so the workers are stopped too; returns the old handler."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


def launch(nproc: int, spec: dict[str, Any], poll_s: float = 0.1) -> int:
    """Run ``nproc`` workers of ``spec`` on localhost; 0 when all succeed.

    Raises ``RankFailedError`` (one line) when a worker fails; the others are stopped.
    """
    import torch.distributed as dist

    from genzoo.training.distributed import RankFailedError

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    base = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(store.port),
        "TORCHELASTIC_USE_AGENT_STORE": "True",  # workers connect to this store as clients
        "WORLD_SIZE": str(nproc),
        "LOCAL_WORLD_SIZE": str(nproc),
        "GROUP_RANK": "0",
    }
    procs: list[subprocess.Popen] = []
    previous = _stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="genzoo-launch-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        try:
            for r in range(nproc):
                env = {**base, "RANK": str(r), "LOCAL_RANK": str(r)}
                cmd = [sys.executable, "-m", "genzoo.cli.launch", str(spec_path)]
                procs.append(subprocess.Popen(cmd, env=env))
            while True:
                codes = [p.poll() for p in procs]
                failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
                if failed:
                    # a rank killed by a signal is the cause; others lost contact with it
                    rank, code = min(failed, key=lambda rc: (rc[1] >= 0, rc[0]))
                    others = sum(c is None for c in codes)
                    _stop(procs)
                    stopped = f"; stopped the other {others} rank(s)" if others else ""
                    raise RankFailedError(
                        f"data-parallel job failed: rank {rank} {_describe(code)}{stopped}"
                    )
                if all(c == 0 for c in codes):
                    return 0
                time.sleep(poll_s)
        except KeyboardInterrupt:
            _stop(procs)
            raise
        finally:
            _stop(procs)
            del store
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(worker_main())
