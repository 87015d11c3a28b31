"""The generic training loop. It knows nothing about any family: it asks the family for its
family's model, step and data view, then runs epochs, validation, metrics and checkpoints, and
at the sample epochs keeps the family's snapshots and draws its declared figures.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import RunConfig
from genzoo.data import EpochBatches, ImageData, eval_batches, load_dataset
from genzoo.data.views import Binarizer
from genzoo.errors import CheckpointError, NonFiniteLossError
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
from genzoo.training.runtime import environment, resolve_device
from genzoo.training.schedule import apply_lr, lr_factor
from genzoo.training.step import Step

__all__ = ["fit", "FitResult", "evaluate_split", "EVAL_SEED", "autocast"]

EVAL_SEED = 1234  # fixed noise for validation and test, identical for every run


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model, its step, per-epoch history and run folder."""

    model: nn.Module
    step: Step
    history: list[dict[str, Any]] = field(default_factory=list)
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
    rank, world = rank_and_world()
    main = rank == 0
    run: RunDir | None = None
    state: dict[str, Any] | None = None
    if resume:
        if run_dir is None:
            raise CheckpointError("resume needs a run folder")
        run = RunDir.open(run_dir)
        cfg = RunConfig.from_dict(run.read_config())
        state = load_checkpoint(run.last) if run.last.is_file() else None
    family = get_family(cfg.family)
    tc = cfg.train

    if data is None:
        data = load_dataset(cfg.data.dataset, cfg.data.data_dir)
    limits = {"train": tc.limit_train, "val": tc.limit_eval, "test": tc.limit_eval}
    if any(v is not None for v in limits.values()):
        data = data.subset(limits)

    torch.manual_seed(derive_seed(cfg.seed, "init"))
    model = family.build(cfg.model).to(dev)  # stays unwrapped: checkpoints save this one
    step: Step = family.make_step(model, cfg.model, tc)

    if run_dir is not None and main and run is None:
        run = RunDir.create(run_dir, cfg.to_dict(), env or environment(dev))

    epochs_done, batches_done, global_step = 0, 0, 0
    best_val = math.inf
    partial: dict[str, Any] | None = None
    if state is not None:
        model.load_state_dict(state["model"])
        step.load_state_dict(state["step"])
        epochs_done, batches_done = state["epochs_done"], state["batches_done"]
        global_step, best_val = state["global_step"], state["best_val"]
        partial = state.get("partial")
    if run is not None and main and resume:
        run.truncate_metrics(epochs_done, global_step)
    if wrap_model is not None or world > 1:
        step.distribute(wrap_model if wrap_model is not None else ddp_wrapper(dev))

    view = family.data_view(cfg.model)
    binarizer = Binarizer(data.images["train"]) if view == "binary" else None
    x_val, y_val = data.view("val", view), data.labels["val"]
    bar = (not quiet and os.isatty(2)) if progress_bar is None else progress_bar
    history = run.read_metrics() if run is not None else []

    def checkpoint_state(ep_done: int, b_done: int, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "config": cfg.to_dict(),
            "model": unwrapped_state_dict(model),
            "step": step.state_dict(),
            "epochs_done": ep_done,
            "batches_done": b_done,
            "global_step": global_step,
            "best_val": best_val,
            **extra,
        }

    figures = _Figures(family, model, cfg, run if main else None, x_val)
    if epochs_done == 0 and batches_done == 0:
        figures.epoch_end(0)

    for epoch in range(epochs_done + 1, tc.epochs + 1):
        model.train()
        step.model.train()
        batches = EpochBatches(
            data.images["train"],
            data.labels["train"],
            view,
            tc.batch_size,
            cfg.seed,
            epoch,
            rank=rank,
            world=world,
            binarizer=binarizer,
        )
        gen = make_generator(cfg.seed, "step", epoch, rank, device=dev)
        torch.manual_seed(derive_seed(cfg.seed, "torch", epoch, rank))
        sums: dict[str, Tensor] = {}
        count = torch.zeros((), dtype=torch.float64)
        elapsed, start_batch = 0.0, 0
        if partial is not None and batches_done > 0:
            start_batch = batches_done
            _restore_partial(partial, gen, cfg.seed, epoch, start_batch)
            if main:  # the saved sums are over all ranks
                sums = {k: v.clone() for k, v in partial["sums"].items()}
                count = partial["count"].clone()
            elapsed = partial["elapsed"]
        partial, batches_done = None, 0

        total = tc.epochs * len(batches)  # updates in the whole run, for the lr schedule
        prog = Progress(len(batches), f"epoch {epoch}/{tc.epochs}", bar and main)
        t0 = time.perf_counter()
        for i, batch in enumerate(batches.iter_from(start_batch), start=start_batch):
            batch = batch.to(dev)
            if tc.lr_schedule != "constant":
                apply_lr(step.optimizers.values(), lr_factor(tc.lr_schedule, global_step, total))
            with autocast(dev, tc.precision):
                out = step.train_step(batch, gen)
            _check_finite(out["loss"], epoch, global_step + 1, run)
            _accumulate(sums, out)
            count += len(batch)
            global_step += 1
            prog.update(len(batch), out["loss"].detach().float().mean().item() if bar else None)
            if run_dir is not None and tc.log_every and global_step % tc.log_every == 0:
                record = _step_record(out, world)
                if run is not None:
                    run.append_metrics({"step": global_step, "epoch": epoch, **record}, steps=True)
            if (
                run_dir is not None
                and tc.checkpoint_every
                and global_step % tc.checkpoint_every == 0
            ):
                done = i + 1
                if done < len(batches):
                    extra = {
                        "partial": _partial_state(
                            gen, sums, count, elapsed + time.perf_counter() - t0
                        )
                    }
                    if run is not None:
                        save_checkpoint(run.last, checkpoint_state(epoch - 1, done, extra))
        prog.close()
        elapsed += time.perf_counter() - t0
        check_replicas(model, epoch)  # DDP keeps every rank's weights identical

        sums = {k: v.cpu() for k, v in sums.items()}
        train_terms = _mean_terms(sums, count)
        n_seen = int(all_reduce_sum(count.clone()).item())
        val_terms = evaluate_split(step, x_val, y_val, tc.eval_batch_size, dev, tc.precision)
        records = [
            {
                "epoch": epoch,
                "split": "train",
                "step": global_step,
                **train_terms,
                "time_s": elapsed,
                "examples_per_s": n_seen / max(elapsed, 1e-9),
            },
            {"epoch": epoch, "split": "val", "step": global_step, **val_terms},
        ]
        history.extend(records)
        improved = val_terms.get("loss", math.inf) < best_val
        if improved:
            best_val = val_terms["loss"]
        if run is not None and main:
            for r in records:
                run.append_metrics(r)
            save_checkpoint(run.last, checkpoint_state(epoch, 0, {}))
            if improved:
                save_checkpoint(run.best, checkpoint_state(epoch, 0, {}))
        if main:
            prog.line(
                f"epoch {epoch}/{tc.epochs}  train {format_metrics(train_terms)}  |  "
                f"val {format_metrics(val_terms)}  |  {elapsed:.1f}s "
                f"{n_seen / max(elapsed, 1e-9):.0f} ex/s"
            )
            figures.epoch_end(epoch)

    figures.train_end(tc.epochs)
    return FitResult(model=model, step=step, history=history, run=run, best_val=best_val)
