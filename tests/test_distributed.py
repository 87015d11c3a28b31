"""Data-parallel training on CPU with gloo: N processes with batch B/N follow one process with
batch B; a dead rank ends the job with an error; multi-process checkpoints resume in one.

Multi-process runs start real processes (the ``--nproc`` launcher, or ``mp.spawn`` for a toy
family that exists only in this file), on tiny data with one thread each.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from genzoo.api import make_config
from genzoo.config import RunConfig, TrainConfig
from genzoo.data.batches import Batch
from genzoo.data.datasets import ImageData
from genzoo.data.views import to_view
from genzoo.family import Family, get_family, register
from genzoo.family.registry import GROUP
from genzoo.seeding import make_generator
from genzoo.training.distributed import unwrap, unwrapped_state_dict
from genzoo.training.loop import fit
from genzoo.training.step import Step
from genzoo.training.syncbn import DistributedBatchNorm, global_mean_var
from tests.test_reliability import assert_intact, lock_record

SRC = Path(__file__).resolve().parents[1] / "src"
HANG_GUARD_S = 600  # ends a hung subprocess; never what a test measures
# no figures at epoch 0 (the family defaults draw there): a run's final figures are enough here
TINY = ["--limit-train", "512", "--limit-eval", "256", "--batch-size", "64", "--quiet"]
TINY += ["--sample-epochs="]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENZOO_DIST_TIMEOUT": "30", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return env


def _genzoo(*args: str, torchrun: bool = False, **popen: object) -> subprocess.Popen:
    """``genzoo ARGS`` in a subprocess; with ``torchrun``, as 2 ranks of torch's launcher."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd = [sys.executable, *(launcher if torchrun else []), "-m", "genzoo", *args]
    popen = {"env": _env(), "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    popen.setdefault("preexec_fn", _ctrl_c_as_at_a_terminal)
    return subprocess.Popen(cmd, text=True, **popen)  # type: ignore[call-overload]


def _ctrl_c_as_at_a_terminal() -> None:
    """SIGINT at its default in the child, as in a job started from a terminal: a test suite
    started in the background (``cmd &`` in a script) passes on an ignored SIGINT, and the
    Ctrl-C test's job would then not stop at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _steps(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "steps.jsonl").read_text().splitlines()]


# ----------------------------------------------------------- real families through the CLI
# The shipped families, all of which take part in every test below (a missing one fails).
FAMILIES = ("vae", "gan", "flow", "diffusion")
TINY_UNET = {"channels": 8, "channel_mult": (1, 2), "groups": 4, "blocks": 1, "timesteps": 100}
FLAGS = {
    "vae": ["--epochs", "2"],
    "gan": ["--epochs", "1"],
    "flow": ["--epochs", "1"],
    "diffusion": ["--epochs", "1", "--channels", "8", "--channel-mult", "1,2", "--groups", "4",
                  "--blocks", "1", "--timesteps", "100"],
}  # fmt: skip


def test_every_shipped_family_is_tested():
    shipped = sorted(ep.name for ep in entry_points(group=GROUP))
    assert shipped == sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_step_gradients_are_averaged_for_every_network_it_trains(family):
    """Under DDP, gradients are averaged only for parameters reached through a wrapper's
    forward. After ``step.distribute`` with a recording wrapper, one training step may give a
    gradient only to parameters of wrappers it called: a step that calls sub-networks
    (``self.model.generator(z)``) without overriding ``Step.distribute`` fails here."""
    fam = get_family(family)
    cfg = make_config(family, batch_size=8)
    torch.manual_seed(0)
    model = fam.build(cfg.model, cfg.shape)
    step = fam.make_step(model, cfg.model, cfg.train)
    called: list[_Recorder] = []
    wrappers: list[_Recorder] = []

    def wrap(module: nn.Module, sync_batchnorm: bool = True) -> nn.Module:
        wrappers.append(_Recorder(module, called))
        return wrappers[-1]

    step.distribute(wrap)
    assert wrappers, "distribute wrapped nothing"
    x = torch.randint(0, 256, (8, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    batch = Batch(to_view(x.to(torch.uint8), fam.data_view(cfg.model), make_generator(0, "b")),
                  torch.zeros(8, dtype=torch.long))  # fmt: skip
    step.train_step(batch, make_generator(0, "step"))
    averaged = {id(p) for w in called for p in w.module.parameters()}
    trained = [n for n, p in model.named_parameters() if p.grad is not None]
    assert trained, "the step gave no parameter a gradient"
    missed = [
        n for n, p in model.named_parameters() if p.grad is not None and id(p) not in averaged
    ]
    assert not missed, (
        f"the {family} step trains {missed[:3]}... through calls that bypass the networks its "
        "Step.distribute wrapped: their gradients would not be averaged across ranks"
    )


class _Recorder(nn.Module):
    """A stand-in for DDP that records which wrapped modules were called through it."""

    def __init__(self, module: nn.Module, called: list[_Recorder]) -> None:
        super().__init__()
        self.module, self._called = module, called

    def forward(self, *args: object, **kwargs: object) -> object:
        self._called.append(self)
        return self.module(*args, **kwargs)

    def __getattr__(self, name: str) -> object:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


@pytest.fixture(scope="module")
def two_proc_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """One 2-process CLI run per family (started together, to overlap their start-up):
    ``{family: (run folder, stderr if it failed else "")}``. The VAE's goes through torchrun,
    the others through ``--nproc 2``."""
    root = tmp_path_factory.mktemp("ddp")
    runs, procs = {}, {}
    for fam in FAMILIES:
        args = ["train", fam, *FLAGS[fam], *TINY, "--log-every", "1"]
        args += ["--runs-dir", str(root), "--name", f"{fam}-2"]
        torchrun = fam == "vae"
        procs[fam] = _genzoo(*args, *([] if torchrun else ["--nproc", "2"]), torchrun=torchrun)
        runs[fam] = root / f"{fam}-2"
    out = {}
    for fam, p in procs.items():
        stdout, stderr = p.communicate(timeout=HANG_GUARD_S)
        ok = p.returncode == 0 and "done:" in stdout
        out[fam] = (runs[fam], "" if ok else stderr or f"exit {p.returncode}")
    return out


def _run_of(two_proc_runs: dict[str, tuple[Path, str]], family: str) -> Path:
    run, failure = two_proc_runs[family]
    assert not failure, failure
    return run


@pytest.mark.parametrize("family", FAMILIES)
def test_two_process_cli_run_saves_a_loadable_run(family, two_proc_runs):
    """The launched job logs every step once with one process's keys, its checkpoint holds
    unwrapped weights that load into a fresh model, and its config records the world.
    (Agreement with one process is checked tightly below, without per-rank noise.)"""
    two_run = _run_of(two_proc_runs, family)
    two = _steps(two_run)
    config = json.loads((two_run / "config.json").read_text())
    saved = RunConfig.from_dict(config)  # the run's own (tiny) model settings
    assert [r["step"] for r in two] == list(range(1, len(two) + 1))
    assert list(two[0]) == _step_keys(saved)  # same keys, same order as one process
    if family == "vae":  # learning happened
        assert two[-1]["loss"] < 0.8 * two[0]["loss"]
    state = torch.load(two_run / "checkpoints" / "last.pt", weights_only=True)
    assert not any(k.startswith("module.") or ".module." in k for k in state["model"])
    get_family(family).build(saved.model, saved.shape).load_state_dict(state["model"])
    assert config["env"]["world_size"] == 2 and config["env"]["backend"] == "gloo"


def _step_keys(cfg: RunConfig) -> list[str]:
    """The keys of one process's per-step record (one step of ``cfg``'s model on 4 images):
    step, epoch, then the step's terms."""
    fam = get_family(cfg.family)
    torch.manual_seed(0)
    model = fam.build(cfg.model, cfg.shape)
    step = fam.make_step(model, cfg.model, cfg.train)
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    batch = Batch(to_view(x, fam.data_view(cfg.model), make_generator(0, "b")), torch.zeros(4))
    return ["step", "epoch", *step.train_step(batch, make_generator(0, "s"))]


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
    reaches the terminal, and the last checkpoint still resumes (in one process). Stopped
    from the launcher, the workers unwind: that line is the job's only ``genzoo:`` line, rank
    0, which holds the run's lock, releases it (a worker SIGKILLed by the launcher's grace
    period could not) and every file parses."""
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
        env=_env(GENZOO_DIST_TIMEOUT="3600"),
    )
    hang_guard = time.monotonic() + HANG_GUARD_S  # not the thing tested: only ends a hang
    while not (run / "checkpoints" / "last.pt").exists():
        assert job.poll() is None, job.communicate()
        if time.monotonic() > hang_guard:
            job.kill()
            pytest.fail(f"no checkpoint after {HANG_GUARD_S} s: the job hangs")
        time.sleep(0.2)
    children = subprocess.run(
        ["pgrep", "-P", str(job.pid)], capture_output=True, text=True
    ).stdout.split()
    environ = {p: Path(f"/proc/{p}/environ").read_bytes() for p in children}
    # the workers were started by torch's elastic launcher, as under torchrun
    assert len(children) == 2 and all(b"TORCHELASTIC_RUN_ID=" in e for e in environ.values())
    rank1 = [p for p in children if b"RANK=1\0" in environ[p]]
    assert len(rank1) == 1
    rank0 = [int(p) for p in children if b"RANK=0\0" in environ[p]]
    assert json.loads(lock_record(run))["pid"] == rank0[0]  # the writing rank holds the lock
    for env in environ.values():  # the launcher pinned the math libraries' thread counts
        assert b"MKL_DYNAMIC=FALSE" in env and b"OMP_DYNAMIC=FALSE" in env
    os.kill(int(rank1[0]) if whom == "rank 1" else job.pid, sig)
    # No hang: the job's collectives wait an hour (GENZOO_DIST_TIMEOUT below), so ending at
    # all shows that the survivors were stopped, not timed out (measured: about 1.3 s).
    _, err = job.communicate(timeout=HANG_GUARD_S)
    assert job.returncode == code
    last = err.strip().splitlines()[-1]
    assert last.startswith(line), err
    assert not any(m in err for m in ELASTIC_LOGS), err
    for p in children:
        assert not Path(f"/proc/{p}").exists() or "zombie" in Path(f"/proc/{p}/status").read_text()
    # the job's only genzoo: line (a survivor that lost contact with rank 1 prints none)
    assert [ln for ln in err.splitlines() if ln.startswith("genzoo:")] == [last], err
    if whom == "launcher":  # the workers unwound quietly, rank 0 released the lock
        assert lock_record(run) == ""
        assert_intact(run)
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

    def build(self, cfg, shape):
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


@contextlib.contextmanager
def _process_group(rank: int, world: int, store: str) -> Iterator[None]:
    """A gloo group for an ``mp.spawn`` worker, left as ``genzoo train --nproc`` leaves it: a
    barrier first, so that no rank exits while another still runs. Without it a rank that
    finished first was, now and then, killed by SIGABRT at exit ("terminate called without an
    active exception", 1 job in ~15 here; the CI failure of b1995b0)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _toy_worker(rank: int, world: int, store: str, run_dir: str) -> None:
    with _process_group(rank, world, store):
        _toy_run(Path(run_dir))


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


# ------------------------------------ tight agreement: the real families, one vs two processes
# Two processes must follow one to rounding. In a real job each rank draws its noise (VAE
# reparameterisation, GAN latents, flow dequantisation) from its own stream, so the two runs
# see different noise and agree only statistically. Here every rank draws the *global* batch's
# noise from one shared stream and keeps its own slice, exactly the noise one process draws for
# the same examples; the GAN's dropout (drawn from each rank's torch RNG) is off. Everything
# else is the real thing: the family's model and step, its distribute, DDP and gloo, the
# synchronised BatchNorm (GAN generator), ActNorm's data-dependent initialisation from global
# statistics (realnvp), the sharding of batches and the reduction of logged terms. Models are
# float64, so the only differences left are the order of reductions (a sum over 16 examples
# vs. two sums over 8 averaged by DDP), amplified a little by Adam.
AGREE = {  # test-family name: (shipped family, overrides)
    "vae": ("vae", {"hidden": 64}),
    "gan": ("gan", {"dropout": 0.0}),
    "gan-dcgan": ("gan", {"arch": "dcgan", "width": 4, "z_dim": 8}),  # BatchNorm in D, grouped
    "flow": ("flow", {"hidden": 64, "pairs": 2}),
    "flow-realnvp": ("flow", {"arch": "realnvp", "channels": 8, "blocks": 1, "scales": 1}),
    "diffusion": ("diffusion", TINY_UNET),
}
# 8 steps of 16 examples (8 a rank): float64 convolutions on the CPU cost most of this test, and
# 8 examples a rank shard, average and synchronise BatchNorm as 32 did
AGREE_TRAIN = {"epochs": 2, "limit_train": 64, "limit_eval": 32, "batch_size": 16}
AGREE_TRAIN |= {"log_every": 1, "sample_epochs": ()}
RTOL_LOSS = 1e-6  # one process logs float32 means (`_step_record`): 16 roundings of 6e-8
RTOL_WEIGHTS, ATOL_WEIGHTS = 1e-9, 1e-9  # after 8 Adam steps; measured at most 1e-10 (realnvp)


def _float64_family(name: str) -> Family:
    """The shipped family ``AGREE[name][0]`` under the name ``name + "-f64"``, with its model
    in float64 and float image batches converted to float64."""
    base = type(get_family(AGREE[name][0]))

    class Float64(base):  # type: ignore[misc, valid-type]
        def build(self, cfg, shape):
            return super().build(cfg, shape).double()

        def make_step(self, model, cfg, train):
            step = super().make_step(model, cfg, train)
            for method in ("train_step", "eval_step"):
                setattr(step, method, _in_float64(getattr(step, method)))
            return step

        def snapshots(self, model, cfg, val_x):
            return {}  # figures are not compared

    Float64.name = f"{name}-f64"
    return Float64()


def _in_float64(step_fn):
    def call(batch: Batch, generator: torch.Generator):
        x = batch.x.double() if batch.x.is_floating_point() else batch.x
        return step_fn(Batch(x, batch.y), generator)

    return call


class _GlobalNoise:
    """Patches for one process of ``world``: the loop's training generator becomes rank 0's on
    every rank, and a draw of ``(n, ...)`` from it (``torch.randn``/``torch.rand``) becomes
    this rank's slice of a draw of ``(n * world, ...)``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, rank: int, world: int) -> None:
        import genzoo.training.loop as loop

        self.rank, self.world, self.mine = rank, world, set()
        make = loop.make_generator

        def make_generator(seed, purpose, *keys, device="cpu"):
            if purpose != "step":
                return make(seed, purpose, *keys, device=device)
            epoch, _rank = keys
            gen = make(seed, purpose, epoch, 0, device=device)
            self.mine.add(id(gen))
            return gen

        monkeypatch.setattr(loop, "make_generator", make_generator)
        for fn in ("randn", "rand"):
            monkeypatch.setattr(torch, fn, self._sliced(getattr(torch, fn)))
        monkeypatch.setattr(torch, "randint", self._sliced_randint(torch.randint))

    def _sliced(self, draw):
        def sliced(*size, generator=None, **kw):
            if generator is None or id(generator) not in self.mine or self.world == 1:
                return draw(*size, generator=generator, **kw)
            shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
            n = shape[0]
            full = draw((n * self.world, *shape[1:]), generator=generator, **kw)
            return full[self.rank * n : (self.rank + 1) * n]

        return sliced

    def _sliced_randint(self, draw):
        def sliced(*args, generator=None, **kw):  # (high, size) or (low, high, size)
            if generator is None or id(generator) not in self.mine or self.world == 1:
                return draw(*args, generator=generator, **kw)
            *bounds, size = args
            n = size[0]
            full = draw(*bounds, (n * self.world, *size[1:]), generator=generator, **kw)
            return full[self.rank * n : (self.rank + 1) * n]

        return sliced


def _agree_run(name: str, run_dir: Path, rank: int, world: int) -> None:
    register(_float64_family(name))
    with pytest.MonkeyPatch.context() as patch:
        _GlobalNoise(patch, rank, world)
        cfg = make_config(f"{name}-f64", **AGREE[name][1], **AGREE_TRAIN)
        fit(cfg, run_dir, device="cpu", quiet=True)


def _agree_worker(rank: int, world: int, store: str, root: str) -> None:
    with _process_group(rank, world, store):
        for name in AGREE:
            _agree_run(name, Path(root) / name, rank, world)


@pytest.fixture(scope="module")
def agree_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every ``AGREE`` run in one 2-process job (one start-up for all)."""
    root = tmp_path_factory.mktemp("agree")
    mp.spawn(_agree_worker, args=(2, str(root / "store"), str(root / "two")), nprocs=2)
    return root / "two"


@pytest.mark.parametrize("name", list(AGREE))
def test_two_processes_follow_one(name, agree_two, tmp_path):
    torch.set_num_threads(1)
    _agree_run(name, tmp_path / "one", 0, 1)
    one, two = _steps(tmp_path / "one"), _steps(agree_two / name)
    assert len(one) == len(two) == 8
    assert [list(r) for r in one] == [list(r) for r in two]  # same keys, same order
    worst = 0.0
    for a, b in zip(one, two, strict=True):
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=RTOL_LOSS, abs=1e-12), (k, a, b)
            worst = max(worst, abs(b[k] - a[k]) / max(abs(a[k]), 1e-12))
    sa = torch.load(tmp_path / "one/checkpoints/last.pt", weights_only=True)["model"]
    sb = torch.load(agree_two / name / "checkpoints/last.pt", weights_only=True)["model"]
    assert list(sa) == list(sb)
    for k in sa:  # BatchNorm running statistics and ActNorm's initialisation included
        torch.testing.assert_close(sb[k], sa[k], rtol=RTOL_WEIGHTS, atol=ATOL_WEIGHTS)
    diff = max(((sb[k].double() - sa[k].double()).abs().max().item() for k in sa), default=0)
    print(f"{name}: worst relative difference of logged terms {worst:.2e}, of weights {diff:.2e}")
