"""``genzoo reproduce``: train (or reuse, or resume) every run of a preset, evaluate it, and
write the report. Completed stages are reused; an interrupted stage resumes from its last
checkpoint, so stopping and re-running the same command continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from genzoo.api import make_config
from genzoo.family import get_family
from genzoo.files import atomic_write_text
from genzoo.reproduce.presets import Preset, Stage
from genzoo.training.checkpoint import load_checkpoint
from genzoo.training.rundir import RunDir
from genzoo.training.runlock import run_lock

__all__ = ["run_stages", "stage_config", "StageResult"]


class StageResult(dict):
    """``key``, ``run`` (path), ``eval`` (eval.json record), ``train_s``, ``eval_s``, ``status``."""


def stage_config(
    stage: Stage,
    preset: Preset,
    seed: int,
    data_dir: str | None,
    shape: tuple[int, int, int] | None = None,
) -> Any:
    """The stage's ``RunConfig``; with the data's ``shape``, its model settings as its family
    adapts them to that shape (``Family.config_for``)."""
    overrides = {**preset.data_limits, **stage.overrides}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    cfg = make_config(stage.family, seed=seed, name=stage.key, **overrides)
    if shape is not None:
        model = get_family(stage.family).config_for(cfg.model, shape)
        cfg = dataclasses.replace(cfg, model=model)
    return cfg


def _fmt(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _train(stage: Stage, cfg: Any, run_dir: Path, device: torch.device, quiet: bool) -> str:
    from genzoo.training.loop import fit

    if (run_dir / "config.json").is_file():
        run = RunDir.open(run_dir)
        done = load_checkpoint(run.last)["epochs_done"] if run.last.is_file() else 0
        saved = run.read_config()
        if (
            saved.get("model") != cfg.to_dict()["model"]
            or saved.get("train") != cfg.to_dict()["train"]
        ):
            from genzoo.errors import ConfigError

            raise ConfigError(
                f"{run_dir} was trained with other settings than preset stage {stage.key}; "
                "use another --out or remove that folder"
            )
        if done >= cfg.train.epochs:
            return "reused"
        fit(cfg, run_dir, resume=True, device=device, quiet=quiet)
        return f"resumed from epoch {done}"
    fit(cfg, run_dir, device=device, quiet=quiet)
    return "trained"


def _evaluate(
    stage: Stage, preset: Preset, run_dir: Path, status: str, device: torch.device, seed: int
) -> dict[str, Any]:
    """The stage's eval.json record: reused when the run was and its eval.json is newer than
    its last checkpoint, computed now otherwise."""
    from genzoo.runs.evaluate import evaluate_run

    eval_path = run_dir / "eval.json"
    last = run_dir / "checkpoints" / "last.pt"
    fresh = eval_path.is_file() and eval_path.stat().st_mtime >= last.stat().st_mtime
    if fresh and status == "reused":
        return json.loads(eval_path.read_text())
    return evaluate_run(
        run_dir, device=device, samples=preset.quality_samples, seed=seed,
        sample_options=stage.sample, **stage.evaluate,
    )  # fmt: skip


def _evaluate_kept(
    stage: Stage, preset: Preset, run_dir: Path, device: torch.device, seed: int
) -> list[dict[str, Any]]:
    """The checkpoints the stage kept (``keep_epochs``), for the time-to-quality figure, with
    the stage's evaluate options updated by its ``timeline_evaluate``; those evaluated since
    they were written are reused. Returns their records, oldest first."""
    from genzoo.runs.timeline import evaluate_kept

    return evaluate_kept(
        run_dir, device=device, samples=preset.timeline_samples, images=preset.timeline_images,
        seed=seed, sample_options=stage.sample, **{**stage.evaluate, **stage.timeline_evaluate},
    )  # fmt: skip


def _record_times(
    timings: dict[str, Any], path: Path, key: str, times: tuple[float, float]
) -> dict[str, Any]:
    """Update and save (atomically) ``stages.json`` with the stage's train seconds (its
    epochs' ``time_s`` in ``RUN/timings.jsonl``, which a stopped run keeps, so they add up
    over resumptions and sessions) and evaluate seconds as ``_eval_seconds`` gives them."""
    train_s, eval_s = times
    timings[key] = {"train_s": train_s, "eval_s": eval_s}
    atomic_write_text(path, json.dumps(timings, indent=2))
    return timings[key]


def _eval_seconds(records: list[dict[str, Any]], measured: float) -> float:
    """The stage's evaluation cost: the seconds its records (the main one and the kept epochs')
    took when they were made, reused or not; ``measured`` (this invocation's) when one of them
    does not say."""
    times = [r.get("eval_time_s") for r in records]
    return measured if any(t is None for t in times) else float(sum(times))


def _announce(log: Any, i: int, n: int, stage: Stage, spent: float, worked: int) -> None:
    """The stage's first line; after ``worked`` stages that trained or evaluated something in
    this invocation (reused ones cost nothing), the time so far and a rough time left."""
    if worked:
        eta = spent / worked * (n - i + 1)
        log(
            f"[{i}/{n}] {stage.key}: {stage.label}  (elapsed {_fmt(spent)}, about {_fmt(eta)} left)"
        )
    else:
        log(f"[{i}/{n}] {stage.key}: {stage.label}")


def run_stages(
    preset: Preset,
    out: Path,
    device: torch.device,
    *,
    seed: int = 0,
    data_dir: str | None = None,
    shape: tuple[int, int, int] | None = None,
    quiet: bool = False,
    log: Any = print,
) -> list[StageResult]:
    """Train and evaluate every stage of ``preset`` under ``out/runs``; returns their results."""
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    timing_path = out / "stages.json"
    timings: dict[str, Any] = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
    results: list[StageResult] = []
    started, worked = time.perf_counter(), 0
    n = len(preset.stages)
    for i, stage in enumerate(preset.stages, 1):
        cfg = stage_config(stage, preset, seed, data_dir, shape)
        run_dir = runs / stage.key
        _announce(log, i, n, stage, time.perf_counter() - started, worked)
        with run_lock(run_dir):  # one writer for the whole stage: training and evaluation
            t0 = time.perf_counter()
            status = _train(stage, cfg, run_dir, device, quiet)
            train_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            record = _evaluate(stage, preset, run_dir, status, device, seed)
            kept = _evaluate_kept(stage, preset, run_dir, device, seed)
            eval_s = time.perf_counter() - t1
        times = (RunDir(run_dir).train_seconds(), _eval_seconds([record, *kept], eval_s))
        entry = _record_times(timings, timing_path, stage.key, times)
        log(f"[{i}/{n}] {stage.key}: {status}; train {_fmt(train_s)}, evaluate {_fmt(eval_s)}")
        worked += status != "reused" or eval_s > 1.0
        results.append(
            StageResult(
                key=stage.key, stage=stage, run=run_dir, eval=record, status=status,
                train_s=entry["train_s"], eval_s=entry.get("eval_s", 0.0),
            )
        )  # fmt: skip
    return results
