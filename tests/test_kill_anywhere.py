"""Kill anywhere (issue 13): SIGKILL a training run at seeded random moments spread over its
training steps, its checkpoint writes and its end-of-epoch evaluation, resume after every
kill, and end with exactly the records of an uninterrupted run and a folder where every file
parses.

Moments are found by polling the run's files (``steps.jsonl``, the checkpoint folder), not by
sleeping: a *step* kill fires once the log reaches a chosen step, a *checkpoint* kill while a
checkpoint is being written (its temporary file exists) or right after one was replaced, an
*evaluation* kill after the last step of an epoch, with a seeded random delay of up to 0.3 s
into the validation, records, checkpoints and figures that follow.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_reliability import HANG_GUARD_S, assert_intact, lock_record, start

STEPS_PER_EPOCH, EPOCHS = 16, 3
ARGS = ["train", "vae", "--epochs", str(EPOCHS), "--limit-train", str(64 * STEPS_PER_EPOCH)]
ARGS += ["--limit-eval", "256", "--batch-size", "64", "--hidden", "128", "--checkpoint-every"]
ARGS += ["3", "--log-every", "1", "--sample-epochs", "0,2", "--threads", "1", "--quiet"]
KINDS = ("step", "checkpoint", "evaluation")


def _last_step(run: Path) -> int:
    """The last step logged; only the last whole line is parsed (steps only grow in one file),
    so a poll every 2 ms takes little from the run it watches on a 2-core machine."""
    try:
        lines = (run / "steps.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        try:
            return json.loads(line)["step"]
        except ValueError:
            pass  # a line being written
    return 0


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _plan(kills: int, seed: int) -> list[tuple[str, int, float]]:
    """``(kind, step, delay)`` per kill, in the order of the run; steps spread over the run."""
    rng = random.Random(seed)
    total = EPOCHS * STEPS_PER_EPOCH
    steps = sorted(rng.sample(range(2, total), kills))
    kinds = [KINDS[i % len(KINDS)] for i in range(kills)]
    rng.shuffle(kinds)
    plan = []
    for kind, step in zip(kinds, steps, strict=True):
        if kind == "evaluation":  # the last step of that epoch
            step = -(-step // STEPS_PER_EPOCH) * STEPS_PER_EPOCH
        plan.append((kind, step, rng.uniform(0.0, 0.3) if kind == "evaluation" else 0.0))
    return sorted(plan, key=lambda moment: moment[1])  # in the order the run reaches them


def _trigger(proc: subprocess.Popen, run: Path, kind: str, step: int, delay: float) -> str:
    """Wait for the moment, then SIGKILL ``proc``; says where it struck ("" when ``proc``
    finished first)."""
    steps_before = _identity(run / "steps.jsonl")  # a resume rewrites it (new inode) first
    ckpt = run / "checkpoints"
    last_before = None
    guard = time.monotonic() + HANG_GUARD_S
    while proc.poll() is None:
        assert time.monotonic() < guard, "the run hangs"
        fresh = steps_before is None or _identity(run / "steps.jsonl") != steps_before
        if fresh and _last_step(run) >= step:
            if kind == "step":
                where = f"at step {_last_step(run)}"
                break
            if kind == "evaluation":
                time.sleep(delay)
                where = f"{delay:.2f} s after the last step of epoch {step // STEPS_PER_EPOCH}"
                break
            if last_before is None:
                last_before = _identity(ckpt / "last.pt")
            if any(".tmp" in p.name for p in ckpt.glob(".*")):
                where = "while a checkpoint was written"
                break
            if _identity(ckpt / "last.pt") != last_before:
                where = "right after a checkpoint was replaced"
                break
        time.sleep(0.002)
    else:
        return ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return f"{kind} kill {where}"


def _kill_anywhere(tmp_path: Path, kills: int, seed: int) -> None:
    # the uninterrupted reference trains meanwhile, on the other core
    ref = start(*ARGS, "--runs-dir", str(tmp_path), "--name", "ref", log=tmp_path / "ref.log")
    run = tmp_path / "cut"
    log = tmp_path / "log0"
    proc = start(*ARGS, "--runs-dir", str(tmp_path), "--name", "cut", log=log)
    landed = []
    # one moment more than ``kills``, kept in reserve: a poll starved by a loaded machine may
    # see a late moment only after the run has ended
    for i, (kind, step, delay) in enumerate(_plan(kills + 1, seed), start=1):
        if len(landed) == kills:
            break  # the reserve is not needed: every further resume is one more start-up
        where = _trigger(proc, run, kind, step, delay)
        if not where:
            break  # the run finished before this moment
        print(where)
        landed.append(where)
        holder = json.loads(lock_record(run) or "{}").get("pid")
        log = tmp_path / f"log{i}"
        proc = start("resume", str(run), "--threads", "1", "--quiet", log=log)
        if holder is not None:  # the killed writer's lock is taken over with one note
            while proc.poll() is None and f"pid {holder}" not in log.read_text():
                time.sleep(0.01)
            assert f"taking over the lock left by pid {holder}" in log.read_text()
    assert proc.wait(timeout=HANG_GUARD_S) == 0, log.read_text()[-800:]
    assert ref.wait(timeout=HANG_GUARD_S) == 0, (tmp_path / "ref.log").read_text()[-800:]
    assert len(landed) >= kills, landed
    for records in ("metrics.jsonl", "steps.jsonl"):
        assert (run / records).read_bytes() == (tmp_path / "ref" / records).read_bytes(), records
    assert_intact(run)
    assert lock_record(run) == ""


def test_kill_anywhere_quick(tmp_path):
    """Three kills, one of each kind (the default suite's part): seed 1 plans a step kill at
    step 6, an evaluation kill after epoch 1, a checkpoint kill from step 18, and a step kill
    at step 38 in reserve."""
    assert [kind for kind, _, _ in _plan(4, seed=1)][:3] == ["step", "evaluation", "checkpoint"]
    _kill_anywhere(tmp_path, kills=3, seed=1)


@pytest.mark.slow
def test_kill_anywhere(tmp_path):
    """Ten kills (eleven planned) across training steps, checkpoint writes and evaluation, then two
    of ``genzoo evaluate``."""
    _kill_anywhere(tmp_path, kills=10, seed=13)
    # and ``genzoo evaluate``, killed while it works: eval.json is absent or whole
    run, rng = tmp_path / "cut", random.Random(13)
    for i in range(2):
        log = tmp_path / f"eval{i}.log"
        proc = start("evaluate", str(run), "--k", "2", "--samples", "64", log=log)
        while proc.poll() is None and f'"pid": {proc.pid}' not in lock_record(run):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 3.0))  # into the evaluation, after the lock was taken
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (run / "eval.json").exists():
            json.loads((run / "eval.json").read_text())
    res = run_cli("evaluate", str(run), "--k", "2", "--samples", "64", timeout=HANG_GUARD_S)
    assert res.returncode == 0, res.stderr
    assert json.loads((run / "eval.json").read_text())["family"] == "vae"
    assert_intact(run)
