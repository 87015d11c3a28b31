"""Training spine: checkpoints, safe loading, exact resume after a real crash, NaN guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from genzoo.api import make_config
from genzoo.config import TrainConfig
from genzoo.errors import CheckpointError, NonFiniteLossError
from genzoo.family import Family, register
from genzoo.runs import load_run
from genzoo.training import Step, fit, load_checkpoint, save_checkpoint
from tests.conftest import ROOT, run_cli

TINY = dict(limit_train=300, limit_eval=100, batch_size=50, eval_batch_size=100)


def test_checkpoint_round_trip(tmp_path):
    state = {"model": {"w": torch.randn(3, 4)}, "epochs_done": 2, "config": {"a": [1, 2]}}
    path = save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(path)
    assert torch.equal(back["model"]["w"], state["model"]["w"])
    assert back["epochs_done"] == 2 and back["config"] == {"a": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


class _Exploit:
    def __reduce__(self):
        return (os.mkdir, (str(self.target),))

    def __init__(self, target):
        self.target = target


def test_crafted_pickle_is_refused_and_never_executed(tmp_path, mnist):
    cfg = make_config("vae", hidden=16, epochs=1, **TINY)
    fit(cfg, tmp_path / "run", data=mnist, quiet=True)
    target = tmp_path / "pwned"
    torch.save({"format": "genzoo-checkpoint", "x": _Exploit(target)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not target.exists()
    # through the CLI: one line, exit 1, nothing executed
    (tmp_path / "evil.pt").replace(tmp_path / "run" / "checkpoints" / "best.pt")
    res = run_cli("sample", str(tmp_path / "run"), "-n", "4", "--out", str(tmp_path / "s.png"))
    assert res.returncode == 1 and "refused" in res.stderr and "Traceback" not in res.stderr
    assert not target.exists()


def test_train_writes_a_complete_run_folder(tmp_path, mnist):
    cfg = make_config("vae", hidden=32, z_dim=4, epochs=2, **TINY)
    result = fit(cfg, tmp_path / "run", data=mnist, quiet=True)
    run = result.run
    config = json.loads(run.config_path.read_text())
    assert config["family"] == "vae" and config["model"]["z_dim"] == 4
    assert {"genzoo", "torch", "python", "device"} <= set(config["env"])
    records = run.read_metrics()
    assert [(r["epoch"], r["split"]) for r in records] == [
        (1, "train"),
        (1, "val"),
        (2, "train"),
        (2, "val"),
    ]
    assert all({"loss", "recon", "kl"} <= set(r) for r in records)
    state = load_checkpoint(run.last)
    assert state["epochs_done"] == 2 and state["config"] == cfg.to_dict()
    assert {"model", "step", "global_step", "best_val"} <= set(state)
    loaded = load_run(run.path)
    assert loaded.config == cfg and not loaded.model.training and loaded.epochs_done == 2


def test_eval_step_changes_nothing_and_train_step_changes_weights(mnist):
    from genzoo.data import Batch
    from genzoo.family import get_family

    cfg = make_config("vae", hidden=16)
    fam = get_family("vae")
    torch.manual_seed(0)
    model = fam.build(cfg.model, cfg.shape)
    step = fam.make_step(model, cfg.model, cfg.train)
    batch = Batch(mnist.fixed_binary("val")[:32], mnist.labels["val"][:32])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step.eval_step(batch, torch.Generator().manual_seed(0))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    out = step.train_step(batch, torch.Generator().manual_seed(0))
    assert out["loss"].shape == (32,)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def _metrics_without_timing(run_dir):
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time_s", "examples_per_s")} for r in recs]


@pytest.mark.slow
def test_resume_after_a_real_kill_gives_identical_metrics(tmp_path, data_dir):
    """Slow: the default suite's ``test_kill_anywhere.py::test_kill_anywhere_quick`` SIGKILLs a
    real run mid-epoch after a mid-epoch checkpoint too (and at a checkpoint write and in the
    end-of-epoch evaluation), resumes, and compares ``metrics.jsonl`` and ``steps.jsonl``
    byte for byte; this is the same check on a longer run with one kill."""
    args = [
        "train",
        "vae",
        "--epochs",
        "3",
        "--limit-train",
        "12000",
        "--limit-eval",
        "500",
        "--hidden",
        "200",
        "--batch-size",
        "100",
        "--checkpoint-every",
        "15",
        "--log-every",
        "5",
        "--runs-dir",
        str(tmp_path),
        "--quiet",
        "--threads",
        "1",
    ]
    ref = run_cli(*args, "--name", "ref")
    assert ref.returncode == 0, ref.stderr

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    # Kill the run once it has logged step 170 (mid-epoch 2 of 3, after a mid-epoch
    # checkpoint). Waiting is on the log, not on the clock; a run that finished before the
    # poll saw step 170 (a starved test process) is simply started again.
    for attempt in range(3):
        cut = f"cut{attempt}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "genzoo", *args, "--name", cut],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _kill_at_step(proc, tmp_path / cut / "steps.jsonl", 170):
            break
    else:
        pytest.fail("three runs finished before the poll saw step 170")
    state = load_checkpoint(tmp_path / cut / "checkpoints" / "last.pt")
    assert state["epochs_done"] < 3
    res = run_cli("resume", str(tmp_path / cut), "--quiet", "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert _metrics_without_timing(tmp_path / cut) == _metrics_without_timing(tmp_path / "ref")


def _kill_at_step(proc: subprocess.Popen, steps: Path, step: int) -> bool:
    """SIGKILL ``proc`` (a crash: no clean-up runs) once ``steps`` logs ``step``; False when
    it ended by itself first. The overall limit only ends a hang."""
    hang_guard = time.monotonic() + 600
    try:
        while proc.poll() is None:
            if steps.exists() and any(
                json.loads(line)["step"] >= step for line in steps.read_text().splitlines() if line
            ):
                proc.send_signal(signal.SIGKILL)
                return True
            if time.monotonic() > hang_guard:
                proc.kill()
                pytest.fail(f"the run neither logged step {step} nor ended: it hangs")
            time.sleep(0.02)
        return False
    finally:
        proc.wait()


def test_resume_with_more_epochs_matches_a_run_given_them_from_the_start(tmp_path, capsys):
    from genzoo.cli.main import main

    args = ["train", "vae", "--limit-train", "600", "--limit-eval", "200", "--hidden", "32"]
    args += ["--batch-size", "100", "--runs-dir", str(tmp_path), "--quiet", "--threads", "1"]
    args += ["--sample-epochs="]  # no figures: the records are compared
    with ThreadPoolExecutor(2) as pool:  # two independent runs side by side
        runs = list(pool.map(lambda e: run_cli(*args, "--epochs", e, "--name", f"e{e}"), "31"))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-800:] for r in runs]
    ref, ext = tmp_path / "e3", tmp_path / "e1"
    res = run_cli("resume", str(ext), "--epochs", "3", "--quiet", "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "epochs: 1 -> 3" in res.stdout
    assert _metrics_without_timing(ext) == _metrics_without_timing(ref)
    # a budget below what is already trained is refused in one line (in-process: a usage
    # error needs no start-up of its own; an exception would fail the test)
    capsys.readouterr()
    assert main(["resume", str(ext), "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already trained 3 epochs" in err[0], err


# ---- NaN guard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ToyConfig:
    nan_at_step: int = 4


class _ToyModel(nn.Module):
    def __init__(self, cfg: _ToyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.w = nn.Parameter(torch.ones(1))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))


class _ToyStep(Step):
    def __init__(self, model, cfg, train):
        super().__init__(model, cfg, train)
        self.optimizers = {"sgd": torch.optim.SGD(model.parameters(), lr=0.1)}

    def train_step(self, batch, generator):
        self.model.calls += 1
        loss = (self.model.w * batch.x.flatten(1).mean(1)) ** 2
        if int(self.model.calls) >= self.cfg.nan_at_step:
            loss = loss * float("nan")
        self.minimize(loss.mean(), self.optimizers["sgd"])
        return {"loss": loss}

    def eval_step(self, batch, generator):
        return {"loss": (self.model.w * batch.x.flatten(1).mean(1)) ** 2}


class _ToyNaN(Family):
    name = "toy-nan"
    description = "a test family whose loss turns NaN"
    config_cls = _ToyConfig
    train_defaults = TrainConfig(epochs=3, batch_size=100, limit_train=300, limit_eval=100)

    def build(self, cfg, shape):
        return _ToyModel(cfg)

    def make_step(self, model, cfg, train):
        return _ToyStep(model, cfg, train)

    def data_view(self, cfg):
        return "unit"


register(_ToyNaN)


def test_nan_guard_stops_with_epoch_step_and_keeps_last_checkpoint(tmp_path, mnist):
    cfg = make_config("toy-nan", nan_at_step=5)  # 3 steps per epoch: NaN at epoch 2, step 5
    with pytest.raises(NonFiniteLossError) as exc:
        fit(cfg, tmp_path / "run", data=mnist, quiet=True)
    msg = str(exc.value)
    assert "epoch 2" in msg and "step 5" in msg and "last.pt" in msg
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["epochs_done"] == 1 and torch.isfinite(state["model"]["w"]).all()


def test_nan_guard_cli_exit_code(tmp_path, capsys):
    from genzoo.cli.main import main

    code = main(["train", "toy-nan", "--nan-at-step", "2", "--runs-dir", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("genzoo: error: nan loss at epoch 1, step 2")


def test_default_threads_take_omp_num_threads_when_set(monkeypatch):
    """OMP_NUM_THREADS, when a positive count, is the user's choice (torch takes it too);
    otherwise the cores this process may use, shared among torchrun's local processes."""
    from genzoo.training.runtime import default_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert default_threads() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    for ignored in ("0", "", "many"):
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert default_threads() == 4


def test_progress_without_a_bar_says_how_far_a_long_job_is(monkeypatch):
    import io

    import genzoo.training.progress as progress

    clock = iter(range(0, 1000, 25))  # each call: 25 s later
    monkeypatch.setattr(progress.time, "perf_counter", lambda: float(next(clock)))
    out = io.StringIO()
    prog = progress.Progress(10, "evaluate k=5000", False, stream=out, every_s=60.0)
    for _ in range(10):
        prog.update(100)
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluate k=5000: 3/10 batches, 4 ex/s, about 2.9 min left"
    rates = [progress.format_rate(r) for r in (0.93, 4.3, 12.6, 2618.4)]
    assert rates == ["0.93", "4.3", "13", "2618"]  # k=5000 NLLs: about 1 image/s, not "0"
    assert len(lines) == 3  # at most one line a minute
    silent = io.StringIO()
    quiet = progress.Progress(10, "epoch 1/2", False, stream=silent)  # every_s: off by default
    for _ in range(10):
        quiet.update(100)
    assert silent.getvalue() == ""
