"""Data-parallel training on CPU with gloo: N processes with batch B/N follow one process with
batch B; a dead rank ends the job with an error; multi-process checkpoints resume in one.

Multi-process runs start real processes (the ``--nproc`` launcher, or ``mp.spawn`` for a toy
family that exists only in this file), on tiny data with one thread each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from genzoo.api import make_config
from genzoo.config import TrainConfig
from genzoo.data.datasets import ImageData
from genzoo.errors import ConfigError
from genzoo.family import Family, get_family, register
from genzoo.training.distributed import unwrap, unwrapped_state_dict
from genzoo.training.loop import fit
from genzoo.training.step import Step
from genzoo.training.syncbn import DistributedBatchNorm, global_mean_var

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = ["--limit-train", "512", "--limit-eval", "256", "--batch-size", "64", "--quiet"]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENZOO_DIST_TIMEOUT": "30", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return env


def _genzoo(*args: str, torchrun: bool = False, **popen: object) -> subprocess.Popen:
    """``genzoo ARGS`` in a subprocess; with ``torchrun``, as 2 ranks of torch's launcher."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd = [sys.executable, *(launcher if torchrun else []), "-m", "genzoo", *args]
    return subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def _steps(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "steps.jsonl").read_text().splitlines()]


def _distributes(family: str) -> bool:
    """False for a family whose step calls sub-networks without overriding distribute."""
    step_cls = get_family(family).make_step
    return family not in SUBNETWORKS or (
        getattr(step_cls, "distribute", Step.distribute) is not Step.distribute
    )


def _have(family: str) -> bool:
    try:
        get_family(family)
    except ConfigError:
        return False
    return True


# ----------------------------------------------------------- real families through the CLI
# Per-rank noise (reparameterisation, latent codes) differs from one process's, so losses
# agree within a tolerance, not exactly; the loss must also fall by far more than it.
TOLERANCE = {
    "vae": 0.01,
    "gan": 0.05,
    "flow": 0.01,
}  # relative, on each of the first few per-step losses
SUBNETWORKS = {"gan"}  # steps that call sub-networks: they must override Step.distribute
FLAGS = {"vae": ["--epochs", "2"], "gan": ["--epochs", "1"], "flow": ["--epochs", "1"]}


@pytest.fixture(scope="module")
def two_proc_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """One 2-process run per available family (started together, to overlap their start-up):
    ``{family: (run folder, stderr if it failed else "")}``. The VAE's goes through torchrun,
    the others through ``--nproc 2``."""
    root = tmp_path_factory.mktemp("ddp")
    runs, procs = {}, {}
    for fam in [f for f in TOLERANCE if _have(f) and _distributes(f)]:
        args = ["train", fam, *FLAGS[fam], *TINY, "--log-every", "1"]
        args += ["--runs-dir", str(root), "--name", f"{fam}-2"]
        torchrun = fam == "vae"
        procs[fam] = _genzoo(*args, *([] if torchrun else ["--nproc", "2"]), torchrun=torchrun)
        runs[fam] = root / f"{fam}-2"
    out = {}
    for fam, p in procs.items():
        stdout, stderr = p.communicate(timeout=240)
        ok = p.returncode == 0 and "done:" in stdout
        out[fam] = (runs[fam], "" if ok else stderr or f"exit {p.returncode}")
    return out


def _run_of(two_proc_runs: dict[str, tuple[Path, str]], family: str) -> Path:
    run, failure = two_proc_runs[family]
    assert not failure, failure
    return run


@pytest.mark.parametrize("family", list(TOLERANCE))
def test_two_processes_follow_one(family, two_proc_runs, tmp_path):
    if not _have(family):
        pytest.skip(f"no {family!r} family yet")
    if not _distributes(family):
        pytest.xfail(f"the {family} step calls sub-networks but does not override distribute")
    torch.set_num_threads(1)
    flags = dict(zip(FLAGS[family][::2], FLAGS[family][1::2], strict=True))
    cfg = make_config(
        family,
        epochs=int(flags["--epochs"]),
        limit_train=512,
        limit_eval=256,
        batch_size=64,
        log_every=1,
    )
    fit(cfg, tmp_path / "one", device="cpu", quiet=True)
    two_run = _run_of(two_proc_runs, family)
    one, two = _steps(tmp_path / "one"), _steps(two_run)
    assert [r["step"] for r in one] == [r["step"] for r in two]
    assert list(one[0]) == list(two[0])  # same keys, same order
    tol = TOLERANCE[family]
    for a, b in list(zip(one, two, strict=True))[:6]:
        assert abs(a["loss"] - b["loss"]) <= tol * abs(a["loss"]), (a, b)
    if family == "vae":  # learning happened, by much more than the tolerance
        assert two[-1]["loss"] < (1 - 20 * tol) * two[0]["loss"]
    # checkpoints hold unwrapped weights: they load into a fresh model
    state = torch.load(two_run / "checkpoints" / "last.pt", weights_only=True)
    assert not any(k.startswith("module.") or ".module." in k for k in state["model"])
    get_family(family).build(make_config(family).model).load_state_dict(state["model"])
    config = json.loads((two_run / "config.json").read_text())
    assert config["env"]["world_size"] == 2 and config["env"]["backend"] == "gloo"


def test_two_process_checkpoint_resumes_in_one(two_proc_runs, tmp_path):
    """A finished 2-process run, extended by one epoch, continues in one process."""
    run = tmp_path / "resumed"
    subprocess.run(["cp", "-r", str(_run_of(two_proc_runs, "vae")), str(run)], check=True)
    config = json.loads((run / "config.json").read_text())
    config["train"]["epochs"] += 1
    (run / "config.json").write_text(json.dumps(config))
    torch.set_num_threads(1)
    result = fit(None, run, resume=True, device="cpu", quiet=True)  # type: ignore[arg-type]
    epochs = [r["epoch"] for r in result.history if r["split"] == "val"]
    assert epochs == [1, 2, 3]
    before = [r for r in result.history if r["split"] == "val"]
    assert before[-1]["loss"] < before[0]["loss"]


# (whom to signal, signal, exit code, the job's last line on stderr)
STOPS = {
    "rank-killed": (
        "rank 1",
        signal.SIGKILL,
        1,
        "genzoo: error: data-parallel job failed: rank 1 was killed by SIGKILL",
    ),
    "ctrl-c": (
        "launcher",
        signal.SIGINT,
        130,
        "genzoo: interrupted; the last checkpoint is intact",
    ),
    "sigterm": ("launcher", signal.SIGTERM, 143, "genzoo: stopped by SIGTERM; the last checkpoint"),
}
ELASTIC_LOGS = ("torch.distributed", "Sending process", "ChildFailedError", "Traceback")


@pytest.mark.parametrize("stop", list(STOPS))
def test_stopped_job_ends_in_one_line(stop, tmp_path):
    """SIGKILL one rank mid-training, or Ctrl-C / SIGTERM the launcher: the job ends non-zero
    with one line (naming the rank), every worker is stopped, nothing else of torchelastic's
    reaches the terminal, and the last checkpoint still resumes (in one process)."""
    whom, sig, code, line = STOPS[stop]
    run = tmp_path / "killed"
    args = ["train", "vae", "--epochs", "400", *TINY, "--log-every", "1"]
    job = _genzoo(
        *args,
        "--checkpoint-every",
        "5",
        "--runs-dir",
        str(tmp_path),
        "--name",
        "killed",
        "--nproc",
        "2",
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").exists():
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    children = subprocess.run(
        ["pgrep", "-P", str(job.pid)], capture_output=True, text=True
    ).stdout.split()
    environ = {p: Path(f"/proc/{p}/environ").read_bytes() for p in children}
    # the workers were started by torch's elastic launcher, as under torchrun
    assert len(children) == 2 and all(b"TORCHELASTIC_RUN_ID=" in e for e in environ.values())
    rank1 = [p for p in children if b"RANK=1\0" in environ[p]]
    assert len(rank1) == 1
    t0 = time.monotonic()
    os.kill(int(rank1[0]) if whom == "rank 1" else job.pid, sig)
    _, err = job.communicate(timeout=60)
    assert job.returncode == code
    assert time.monotonic() - t0 < 30  # no hang; measured about 1.3 s
    last = err.strip().splitlines()[-1]
    assert last.startswith(line), err
    assert not any(m in err for m in ELASTIC_LOGS), err
    for p in children:
        assert not Path(f"/proc/{p}").exists() or "zombie" in Path(f"/proc/{p}/status").read_text()
    # the interrupted 2-process checkpoint (possibly mid-epoch) resumes in one process
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    config = json.loads((run / "config.json").read_text())
    config["train"]["epochs"] = state["epochs_done"] + 1
    (run / "config.json").write_text(json.dumps(config))
    torch.set_num_threads(1)
    result = fit(None, run, resume=True, device="cpu", quiet=True)  # type: ignore[arg-type]
    assert result.history[-1]["epoch"] == state["epochs_done"] + 1


def _failures(folder: Path, *ranks: tuple[int, Exception | None, bool]) -> dict:
    """torchelastic's records of failed workers, ``(exit code, error, own)`` per rank, where
    ``worker_main`` recorded ``error`` (None: no error file) in the error file."""
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    from genzoo.cli.launch import _record

    folder.mkdir()
    out = {}
    for rank, (exitcode, error, own) in enumerate(ranks):
        path = folder / f"error-{rank}.json"
        if error is not None:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("TORCHELASTIC_ERROR_FILE", str(path))
                _record(error, own)
        out[rank] = ProcessFailure(rank, pid=1000 + rank, exitcode=exitcode, error_file=str(path))
    return out


def test_failed_rank_is_the_cause_not_the_ranks_that_lost_contact(tmp_path):
    """Several ranks end at once; the line names the one that failed first."""
    from genzoo.cli.launch import _summary
    from genzoo.training.distributed import RankFailedError

    lost = RankFailedError("lost contact with another rank")
    sigterm, sigkill = -signal.SIGTERM, -signal.SIGKILL
    # rank 1 killed; rank 0 lost contact, then was stopped
    failures = _failures(tmp_path / "a", (sigterm, lost, False), (sigkill, None, False))
    assert _summary(failures) == "rank 1 was killed by SIGKILL; stopped the other 1 rank(s)"
    # rank 1 failed by itself; rank 0 lost contact and exited by itself
    failures = _failures(tmp_path / "b", (1, lost, False), (1, ValueError("bad"), True))
    assert _summary(failures) == "rank 1 exited with code 1"
    # rank 1 SIGTERMed from outside (no error file); rank 0 lost contact
    failures = _failures(tmp_path / "c", (1, lost, False), (sigterm, None, False))
    assert _summary(failures) == "rank 1 was killed by SIGTERM"
    # every rank raised the same collective error: the lowest rank
    failures = _failures(tmp_path / "d", (1, ValueError("nan"), True), (1, ValueError("nan"), True))
    assert _summary(failures) == "rank 0 exited with code 1"


def test_nproc_must_be_positive(capsys):
    from genzoo.cli.main import main

    assert main(["train", "vae", *TINY, "--nproc", "0"]) == 2
    assert "--nproc must be >= 1" in capsys.readouterr().err


# ------------------------------------------- exact equivalence: a deterministic toy family
# Two sub-networks with BatchNorm and two optimizers, like a GAN, in float64 and without
# noise: 2 processes must match 1 process to rounding. Exercises Step.distribute overrides,
# synchronised BatchNorm on CPU and the averaging of gradients.


@dataclass(frozen=True)
class ToyConfig:
    hidden: int = 8


class Toy(nn.Module):
    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.a = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.BatchNorm1d(h), nn.Tanh())
        self.b = nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.Tanh(), nn.Linear(h, 1))
        self.double()


class ToyStep(Step):
    def __init__(self, model: Toy, cfg: ToyConfig, train: TrainConfig) -> None:
        super().__init__(model, cfg, train)
        self.a, self.b = model.a, model.b
        self.optimizers = {
            "a": self.adam(model.a.parameters()),
            "b": self.adam(model.b.parameters()),
        }

    def distribute(self, wrap):
        self.a, self.b = wrap(self.model.a), wrap(self.model.b)

    def train_step(self, batch, generator):
        x = batch.x.double()
        target = x.flatten(1).mean(1, keepdim=True)
        loss_b = (self.b(self.a(x).detach()) - target).pow(2).squeeze(1)  # (B,)
        self.minimize(loss_b.mean(), self.optimizers["b"])
        loss_a = (self.b(self.a(x)) + target).pow(2).squeeze(1)  # (B,)
        self.minimize(loss_a.mean(), self.optimizers["a"])
        return {"loss": loss_b.detach(), "loss_a": loss_a.detach()}

    @torch.no_grad()
    def eval_step(self, batch, generator):
        x = batch.x.double()
        return {"loss": (self.b(self.a(x)) - x.flatten(1).mean(1, keepdim=True)).pow(2).squeeze(1)}


class ToyFamily(Family):
    name = "toy2"
    description = "test family"
    config_cls = ToyConfig
    train_defaults = TrainConfig(epochs=2, batch_size=32, lr=1e-2)

    def build(self, cfg):
        return Toy(cfg)

    def make_step(self, model, cfg, train):
        return ToyStep(model, cfg, train)

    def data_view(self, cfg):
        return "signed"


TOY = ToyFamily()


def _toy_data() -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = {
        s: torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
        for s, n in (("train", 128), ("val", 64), ("test", 64))
    }
    labels = {s: torch.zeros(len(x), dtype=torch.long) for s, x in images.items()}
    return ImageData("toy", images, labels)


def _toy_run(run_dir: Path) -> None:
    register(TOY)
    fit(make_config("toy2", log_every=1), run_dir, device="cpu", data=_toy_data(), quiet=True)


def _toy_worker(rank: int, world: int, store: str, run_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        _toy_run(Path(run_dir))
    finally:
        dist.destroy_process_group()


def test_toy_two_networks_two_processes_match_one_exactly(tmp_path):
    torch.set_num_threads(1)
    _toy_run(tmp_path / "one")
    mp.spawn(_toy_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "two")), nprocs=2)
    one, two = _steps(tmp_path / "one"), _steps(tmp_path / "two")
    assert len(one) == len(two) == 8
    for a, b in zip(one, two, strict=True):
        for k in ("loss", "loss_a"):
            # one process logs float32-rounded means; the weights below are float64 exact
            assert b[k] == pytest.approx(a[k], rel=1e-6), (k, a, b)
    sa = torch.load(tmp_path / "one/checkpoints/last.pt", weights_only=True)["model"]
    sb = torch.load(tmp_path / "two/checkpoints/last.pt", weights_only=True)["model"]
    assert list(sa) == list(sb)  # same keys: no "module." anywhere
    for k in sa:  # BatchNorm running statistics included
        torch.testing.assert_close(sb[k], sa[k], rtol=1e-7, atol=1e-9)  # Adam amplifies rounding


def test_global_mean_var_without_group_is_plain_statistics():
    x = torch.randn(5, 3, 4, 2, dtype=torch.float64)
    mean, var, n = global_mean_var(x, [0, 2, 3])
    ref_var, ref_mean = torch.var_mean(x, dim=[0, 2, 3], correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    assert n.item() == 40
    bn = DistributedBatchNorm(3).double()
    torch.testing.assert_close(bn(x), nn.BatchNorm2d(3).double()(x))


def test_unwrapped_state_dict_strips_nested_wrappers():
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(2, 2)

    model = Holder()
    keys = list(model.state_dict())

    class FakeDDP(torch.nn.parallel.DistributedDataParallel):
        def __init__(self, module: nn.Module) -> None:  # no process group needed
            nn.Module.__init__(self)
            self.module = module

    model.inner = FakeDDP(model.inner)
    assert list(model.state_dict()) == ["inner.module.weight", "inner.module.bias"]
    assert list(unwrapped_state_dict(model)) == keys
    assert list(unwrapped_state_dict(FakeDDP(Holder()))) == keys
    inner = Holder()
    assert unwrap(FakeDDP(inner)) is inner and unwrap(inner) is inner
    assert unwrap(model) is model  # only the outer wrapper is removed
