"""The generic training loop. It knows nothing about any family: it asks the family for its
family's model, step and data view, then runs epochs, validation, metrics and checkpoints, and
at the sample epochs keeps the family's snapshots and draws its declared figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import RunConfig
from genzoo.data import EpochBatches, ImageData, eval_batches, load_configured
from genzoo.data.views import Binarizer
from genzoo.errors import CheckpointError, ConfigError, NonFiniteLossError
from genzoo.family import Family, get_family
from genzoo.seeding import derive_seed, make_generator
from genzoo.training.checkpoint import load_checkpoint, save_checkpoint
from genzoo.training.distributed import (
    all_reduce_sum,
    any_rank,
    check_replicas,
    ddp_wrapper,
    gather_objects,
    rank_and_world,
    unwrapped_state_dict,
)
from genzoo.training.progress import Progress, format_metrics
from genzoo.training.rundir import RunDir
from genzoo.training.runlock import run_lock
from genzoo.training.runtime import environment, resolve_device
from genzoo.training.schedule import apply_lr, lr_factor
from genzoo.training.step import Step

__all__ = ["fit", "FitResult", "evaluate_split", "EVAL_SEED", "autocast"]

EVAL_SEED = 1234  # fixed noise for validation and test, identical for every run


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model, its step, per-epoch history (the records of
    ``metrics.jsonl``), per-epoch wall-clock times (``timings.jsonl``) and run folder."""

    model: nn.Module
    step: Step
    history: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    run: RunDir | None = None
    best_val: float = math.inf


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked for (fp32 master weights), else a no-op context."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _mean_terms(sums: dict[str, Tensor], count: Tensor) -> dict[str, float]:
    keys = sorted(sums)
    if not keys:
        return {}
    packed = torch.stack([sums[k].double() for k in keys] + [count.double()])
    packed = all_reduce_sum(packed)
    n = packed[-1].item()
    return {k: packed[i].item() / n for i, k in enumerate(keys)}


def _accumulate(sums: dict[str, Tensor], out: dict[str, Tensor]) -> None:
    for k, v in out.items():
        s = v.detach().double().sum()
        sums[k] = sums[k] + s if k in sums else s


@torch.no_grad()
def evaluate_split(
    step: Step,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
    seed: int = EVAL_SEED,
) -> dict[str, float]:
    """Mean per-example terms of ``step.eval_step`` over ``(x, y)``, with fixed noise."""
    rank, world = rank_and_world()
    was_training = step.model.training
    step.model.eval()
    gen = make_generator(seed, "eval", rank, device=device)
    sums: dict[str, Tensor] = {}
    count = torch.zeros((), dtype=torch.float64)
    for batch in eval_batches(x, y, batch_size, rank, world):
        with autocast(device, precision):
            out = step.eval_step(batch.to(device), gen)
        _accumulate(sums, out)
        count += len(batch)
    step.model.train(was_training)
    sums = {k: v.cpu() for k, v in sums.items()}
    return _mean_terms(sums, count)


def _check_finite(loss: Tensor, epoch: int, global_step: int, run: RunDir | None) -> None:
    """Raise ``NonFiniteLossError`` on every rank when the loss is not finite on any rank."""
    if not any_rank(not bool(torch.isfinite(loss).all())):
        return
    bad = "nan" if any_rank(bool(torch.isnan(loss).any())) else "inf"
    if run is not None and run.last.is_file():
        where = f"last good checkpoint {run.last} (left intact)"
    else:
        where = "no checkpoint was written yet"
    raise NonFiniteLossError(
        f"{bad} loss at epoch {epoch}, step {global_step}; training stopped, {where}. "
        "Try a lower --lr or --grad-clip."
    )


def _step_record(out: dict[str, Tensor], world: int) -> dict[str, float]:
    """Mean of each term over this step's global batch (all ranks)."""
    if world == 1:
        return {k: v.detach().float().mean().item() for k, v in out.items()}
    sums: dict[str, Tensor] = {}
    _accumulate(sums, out)
    n = torch.tensor(float(len(out["loss"])), dtype=torch.float64)
    terms = _mean_terms({k: v.cpu() for k, v in sums.items()}, n)
    return {k: terms[k] for k in out}  # the step's key order, as in one process


def _partial_state(
    gen: torch.Generator, sums: dict[str, Tensor], count: Tensor, elapsed: float
) -> dict[str, Any]:
    """What a mid-epoch checkpoint needs to continue the epoch exactly (a collective: sums
    are totalled over ranks and every rank's generator states are gathered)."""
    rng = gather_objects({"gen_state": gen.get_state(), "torch_state": torch.get_rng_state()})
    total = {k: all_reduce_sum(v.detach().cpu().clone()) for k, v in sorted(sums.items())}
    return {
        "gen_state": rng[0]["gen_state"],
        "torch_state": rng[0]["torch_state"],
        "rank_states": rng,
        "world": len(rng),
        "sums": total,
        "count": all_reduce_sum(count.clone()),
        "elapsed": elapsed,
    }


def _restore_partial(
    partial: dict[str, Any], gen: torch.Generator, seed: int, epoch: int, start: int
) -> None:
    """Set this rank's generators for resuming mid-epoch: the saved states when the number of
    processes is unchanged, else fresh streams derived from ``(seed, epoch, rank, start)``."""
    rank, world = rank_and_world()
    if partial.get("world", 1) == world:
        states = partial.get("rank_states") or [partial]
        gen.set_state(states[rank]["gen_state"])
        torch.set_rng_state(states[rank]["torch_state"])
    else:
        gen.manual_seed(derive_seed(seed, "step-resumed", epoch, rank, start))
        torch.manual_seed(derive_seed(seed, "torch-resumed", epoch, rank, start))


class _Figures:
    """Keeps the family's snapshots at the sample epochs and draws its declared figures (on the
    rank that writes the run folder; a no-op elsewhere)."""

    def __init__(
        self, family: Family, model: nn.Module, cfg: RunConfig, run: RunDir | None, x_val: Tensor
    ) -> None:
        self.family, self.model, self.cfg, self.run = family, model, cfg, run
        self.val_x = x_val[:64]

    def _snapshot(self, epoch: int) -> None:
        model = self.model
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            shots = self.family.snapshots(model, self.cfg.model, self.val_x.to(device))
        model.train(was_training)
        for name, images in shots.items():
            self.run.save_snapshot(name, epoch, images)  # type: ignore[union-attr]

    def _draw(self, epoch: int | None) -> None:
        from genzoo.viz.figures import draw_figures

        run = self.run
        assert run is not None
        draw_figures(
            self.family.figures, run.figures, run.snapshot_files(), run.read_metrics(),
            run.read_metrics(steps=True), epoch=epoch,
        )  # fmt: skip

    def epoch_end(self, epoch: int) -> None:
        """Snapshots and every figure at a sample epoch (0 = untrained)."""
        if self.run is None or epoch not in self.cfg.train.sample_epochs:
            return
        self._snapshot(epoch)
        self._draw(epoch)

    def train_end(self, epochs: int) -> None:
        """Snapshots of the final epoch too when it is not a sample epoch, then every figure."""
        if self.run is None or epochs in self.cfg.train.sample_epochs:
            return  # drawn at that epoch's end
        if epochs > 0:
            self._snapshot(epochs)
        self._draw(epochs)


@dataclass
class _Counters:
    """Where training stands; every checkpoint saves these."""

    epochs_done: int = 0
    batches_done: int = 0  # of epoch ``epochs_done + 1``, when a mid-epoch checkpoint was kept
    global_step: int = 0
    best_val: float = math.inf
    partial: dict[str, Any] | None = None  # the mid-epoch state (``_partial_state``)


@dataclass
class _Epoch:
    """This rank's running totals of one epoch (after a mid-epoch resume rank 0 starts from
    the saved totals over all ranks)."""

    gen: torch.Generator
    sums: dict[str, Tensor] = field(default_factory=dict)
    count: Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    elapsed: float = 0.0
    start_batch: int = 0


def _open_for_resume(
    run_dir: str | os.PathLike | None, lock: contextlib.ExitStack | None
) -> tuple[RunDir, RunConfig, dict[str, Any] | None]:
    """The run folder, its saved config and its last checkpoint (None before the first).
    With ``lock`` (the rank that writes), the folder's lock is taken first and held by it."""
    if run_dir is None:
        raise CheckpointError("resume needs a run folder")
    run = RunDir.open(run_dir)
    if lock is not None:
        lock.enter_context(run.lock())
        run.remove_temporaries()  # left by a writer that was killed
    cfg = RunConfig.from_dict(run.read_config())
    state = load_checkpoint(run.last) if run.last.is_file() else None
    return run, cfg, state


def _limited_data(cfg: RunConfig, data: ImageData | None) -> ImageData:
    """The run's dataset, cut to ``limit_train`` / ``limit_eval`` when they are set."""
    tc = cfg.train
    if data is None:
        data = load_configured(cfg.data)
    limits = {"train": tc.limit_train, "val": tc.limit_eval, "test": tc.limit_eval}
    if any(v is not None for v in limits.values()):
        data = data.subset(limits)
    return data


def _restore(state: dict[str, Any] | None, model: nn.Module, step: Step) -> _Counters:
    """Load a checkpoint's weights and step state; its counters (zero without one)."""
    if state is None:
        return _Counters()
    model.load_state_dict(state["model"])
    step.load_state_dict(state["step"])
    return _Counters(
        epochs_done=state["epochs_done"],
        batches_done=state["batches_done"],
        global_step=state["global_step"],
        best_val=state["best_val"],
        partial=state.get("partial"),
    )


def _epoch_records(
    epoch: int, global_step: int, train_terms: dict[str, float], val_terms: dict[str, float]
) -> list[dict[str, Any]]:
    """The ``metrics.jsonl`` records of one epoch: train, then val. No wall-clock field, so
    that reruns with one seed give byte-identical files (times go to ``timings.jsonl``)."""
    return [
        {"epoch": epoch, "split": "train", "step": global_step, **train_terms},
        {"epoch": epoch, "split": "val", "step": global_step, **val_terms},
    ]


@dataclass
class _Trainer:
    """What one ``fit`` call shares between its steps: ``setup``, then ``train_epoch`` for
    every remaining epoch. ``run`` is the run folder (on rank 0, and for reading on every
    rank of a resumed run); only rank 0 (``main``) writes it, holding its lock. ``logging``: a
    run folder was given at all (step records and mid-epoch checkpoints are collectives, so
    every rank takes part)."""

    cfg: RunConfig
    family: Family
    model: nn.Module  # unwrapped: checkpoints save this one
    step: Step
    data: ImageData
    dev: torch.device
    run: RunDir | None
    logging: bool
    counters: _Counters
    bar: bool = False
    rank: int = 0
    world: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.main = self.rank == 0
        self.view = self.family.data_view(self.cfg.model)
        train_images = self.data.images["train"]
        self.binarizer = Binarizer(train_images) if self.view == "binary" else None
        self.x_val, self.y_val = self.data.view("val", self.view), self.data.labels["val"]
        self.history = self.run.read_metrics() if self.run is not None else []
        self.timings = self.run.read_timings() if self.run is not None else []
        run = self.run if self.main else None
        self.figures = _Figures(self.family, self.model, self.cfg, run, self.x_val)

    @classmethod
    def setup(
        cls,
        cfg: RunConfig,
        run_dir: str | os.PathLike | None,
        resume: bool,
        dev: torch.device,
        data: ImageData | None,
        env: dict[str, Any] | None,
        wrap_model: Any,
        lock: contextlib.ExitStack,
    ) -> _Trainer:
        """Open (to resume) or create the run folder, build the model and its step, restore
        the last checkpoint and wrap the step's networks for several processes. Rank 0 takes
        the folder's lock into ``lock`` (held until ``fit`` returns or fails)."""
        rank, world = rank_and_world()
        run, state = None, None
        if resume:
            run, cfg, state = _open_for_resume(run_dir, lock if rank == 0 else None)
        family = get_family(cfg.family)
        data = _limited_data(cfg, data)
        if not resume:
            cfg = dataclasses.replace(cfg, shape=data.shape)  # the model is sized from the data
        elif cfg.shape != data.shape:
            raise ConfigError(
                f"the run was trained on {cfg.shape} images, the data has {data.shape}"
            )
        torch.manual_seed(derive_seed(cfg.seed, "init"))
        model = family.build(cfg.model, cfg.shape).to(dev)
        step: Step = family.make_step(model, cfg.model, cfg.train)
        if run_dir is not None and rank == 0 and run is None:
            lock.enter_context(run_lock(run_dir))
            record = {
                **cfg.to_dict(),
                "data_info": data.describe(),  # source, split rule
                "precision_note": family.precision_note,  # why the default precision
            }
            run = RunDir.create(run_dir, record, env or environment(dev))
        counters = _restore(state, model, step)
        if run is not None and rank == 0 and resume:
            run.truncate_metrics(counters.epochs_done, counters.global_step)
        if wrap_model is not None or world > 1:
            step.distribute(wrap_model if wrap_model is not None else ddp_wrapper(dev))
        return cls(
            cfg, family, model, step, data, dev, run, run_dir is not None, counters,
            rank=rank, world=world,
        )  # fmt: skip

    def checkpoint_state(self, epochs_done: int, batches_done: int, **extra: Any) -> dict:
        """A self-describing checkpoint: config, weights, step state and counters."""
        return {
            "config": self.cfg.to_dict(),
            "model": unwrapped_state_dict(self.model),
            "step": self.step.state_dict(),
            "epochs_done": epochs_done,
            "batches_done": batches_done,
            "global_step": self.counters.global_step,
            "best_val": self.counters.best_val,
            **extra,
        }

    # one epoch ------------------------------------------------------------------------------
    def keep_untrained(self) -> None:
        """``checkpoints/epoch000.pt`` when ``keep_epochs`` has 0 (the untrained model)."""
        if 0 in self.cfg.train.keep_epochs and self.run is not None and self.main:
            save_checkpoint(self.run.kept(0), self.checkpoint_state(0, 0))

    def train_epoch(self, epoch: int) -> None:
        """Train epoch ``epoch`` (from a saved mid-epoch point when there is one), validate,
        write its records and checkpoints and, at a sample epoch, its figures."""
        tc = self.cfg.train
        self.model.train()
        self.step.model.train()
        batches = EpochBatches(
            self.data.images["train"], self.data.labels["train"], self.view, tc.batch_size,
            self.cfg.seed, epoch, rank=self.rank, world=self.world, binarizer=self.binarizer,
        )  # fmt: skip
        ep = self._start_epoch(epoch)
        total = tc.epochs * len(batches)  # updates in the whole run, for the lr schedule
        prog = Progress(len(batches), f"epoch {epoch}/{tc.epochs}", self.bar and self.main)
        t0 = time.perf_counter()
        for i, batch in enumerate(batches.iter_from(ep.start_batch), start=ep.start_batch):
            out = self._train_batch(batch.to(self.dev), ep, epoch, total, prog)
            self._log_step(out, epoch)
            if i + 1 < len(batches):
                self._mid_epoch_checkpoint(ep, epoch, i + 1, time.perf_counter() - t0)
        prog.close()
        ep.elapsed += time.perf_counter() - t0
        check_replicas(self.model, epoch)  # DDP keeps every rank's weights identical
        self._end_epoch(epoch, ep, prog)

    def _start_epoch(self, epoch: int) -> _Epoch:
        """The epoch's random streams, from ``(seed, epoch, rank)`` or a saved mid-epoch state."""
        c, seed = self.counters, self.cfg.seed
        gen = make_generator(seed, "step", epoch, self.rank, device=self.dev)
        torch.manual_seed(derive_seed(seed, "torch", epoch, self.rank))
        ep = _Epoch(gen)
        if c.partial is not None and c.batches_done > 0:
            ep.start_batch = c.batches_done
            _restore_partial(c.partial, gen, seed, epoch, ep.start_batch)
            if self.main:  # the saved sums are over all ranks
                ep.sums = {k: v.clone() for k, v in c.partial["sums"].items()}
                ep.count = c.partial["count"].clone()
            ep.elapsed = c.partial["elapsed"]
        c.partial, c.batches_done = None, 0
        return ep

    def _train_batch(
        self, batch: Tensor, ep: _Epoch, epoch: int, total: int, prog: Progress
    ) -> dict[str, Tensor]:
        """One update (learning rate of the schedule, NaN guard); adds its terms to ``ep``."""
        tc, c = self.cfg.train, self.counters
        if tc.lr_schedule != "constant":
            apply_lr(self.step.optimizers.values(), lr_factor(tc.lr_schedule, c.global_step, total))
        self.step.set_position(c.global_step, total // max(tc.epochs, 1))
        with autocast(self.dev, tc.precision):
            out = self.step.train_step(batch, ep.gen)
        _check_finite(out["loss"], epoch, c.global_step + 1, self.run)
        _accumulate(ep.sums, out)
        ep.count += len(batch)
        c.global_step += 1
        prog.update(len(batch), out["loss"].detach().float().mean().item() if self.bar else None)
        return out

    def _log_step(self, out: dict[str, Tensor], epoch: int) -> None:
        """Every ``log_every`` updates: the step's terms into ``steps.jsonl``."""
        every, step = self.cfg.train.log_every, self.counters.global_step
        if not (self.logging and every and step % every == 0):
            return
        record = _step_record(out, self.world)
        if self.run is not None and self.main:
            self.run.append_metrics({"step": step, "epoch": epoch, **record}, steps=True)

    def _mid_epoch_checkpoint(self, ep: _Epoch, epoch: int, done: int, spent: float) -> None:
        """Every ``checkpoint_every`` updates inside an epoch: ``last.pt`` with the state to
        continue it exactly. ``done``: batches of this epoch done; ``spent``: seconds since
        the epoch (or its resumption) began."""
        every, step = self.cfg.train.checkpoint_every, self.counters.global_step
        if not (self.logging and every and step % every == 0):
            return
        partial = _partial_state(ep.gen, ep.sums, ep.count, ep.elapsed + spent)
        if self.run is not None and self.main:
            state = self.checkpoint_state(epoch - 1, done, partial=partial)
            save_checkpoint(self.run.last, state)

    def _end_epoch(self, epoch: int, ep: _Epoch, prog: Progress) -> None:
        """Train and validation means, their records, ``last.pt`` (and ``best.pt`` when the
        validation loss improved), the progress line and the sample epoch's figures."""
        tc, c = self.cfg.train, self.counters
        train_terms = _mean_terms({k: v.cpu() for k, v in ep.sums.items()}, ep.count)
        n_seen = int(all_reduce_sum(ep.count.clone()).item())
        val_terms = evaluate_split(
            self.step, self.x_val, self.y_val, tc.eval_batch_size, self.dev, tc.precision
        )
        records = _epoch_records(epoch, c.global_step, train_terms, val_terms)
        speed = n_seen / max(ep.elapsed, 1e-9)
        timing = {"epoch": epoch, "time_s": ep.elapsed, "examples_per_s": speed}
        self.history.extend(records)
        self.timings.append(timing)
        improved = val_terms.get("loss", math.inf) < c.best_val
        if improved:
            c.best_val = val_terms["loss"]
        if self.run is not None and self.main:
            self.run.append_records("metrics", records)  # one write: both or neither
            self.run.append_records("timings", timing)
            save_checkpoint(self.run.last, self.checkpoint_state(epoch, 0))
            if improved:
                save_checkpoint(self.run.best, self.checkpoint_state(epoch, 0))
            if epoch in tc.keep_epochs:
                save_checkpoint(self.run.kept(epoch), self.checkpoint_state(epoch, 0))
        if self.main:
            prog.line(
                f"epoch {epoch}/{tc.epochs}  train {format_metrics(train_terms)}  |  "
                f"val {format_metrics(val_terms)}  |  {ep.elapsed:.1f}s {speed:.0f} ex/s"
            )
            self.figures.epoch_end(epoch)


def fit(
    cfg: RunConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    device: str | torch.device = "cpu",
    data: ImageData | None = None,
    quiet: bool = False,
    progress_bar: bool | None = None,
    env: dict[str, Any] | None = None,
    wrap_model: Any = None,
) -> FitResult:
    """Train ``cfg`` (optionally into ``run_dir``); ``resume`` continues from ``last.pt``.

    With the same seed on CPU, a resumed run ends with exactly the metrics of an uninterrupted
    one: all randomness of epoch ``e`` is derived from ``(seed, e)`` and mid-epoch checkpoints
    store the generator states. ``device`` is used as given (resolve ``auto`` beforehand).

    Under a process group of N > 1 ranks (set up by the caller, e.g. the CLI) each rank trains
    on its share of every global batch and the step's networks are wrapped by
    ``step.distribute(wrap_model or ddp_wrapper(device))``; checkpoints hold the unwrapped
    weights, so they resume with any number of processes (exactly: with the same number).
    """
    dev = resolve_device(device) if isinstance(device, str) else device
    with contextlib.ExitStack() as lock:  # the run folder's lock, on the rank that writes it
        t = _Trainer.setup(cfg, run_dir, resume, dev, data, env, wrap_model, lock)
        t.bar = (not quiet and os.isatty(2)) if progress_bar is None else progress_bar
        if t.counters.epochs_done == 0 and t.counters.batches_done == 0:
            t.keep_untrained()
            t.figures.epoch_end(0)
        for epoch in range(t.counters.epochs_done + 1, t.cfg.train.epochs + 1):
            t.train_epoch(epoch)
        t.figures.train_end(t.cfg.train.epochs)
    return FitResult(
        model=t.model, step=t.step, history=t.history, timings=t.timings, run=t.run,
        best_val=t.counters.best_val,
    )  # fmt: skip
