"""``genzoo reproduce``: every figure and table of the course report from one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from genzoo.reproduce.preset_file import load_preset
from genzoo.reproduce.presets import (
    PRESETS,
    Preset,
    Section,
    Stage,
    check_preset,
    get_preset,
    on_dataset,
)

__all__ = ["reproduce", "PRESETS", "Preset", "Section", "Stage", "get_preset", "load_preset"]


def reproduce(
    preset: str | Preset,
    out: str | Path,
    *,
    device: torch.device,
    seed: int = 0,
    data_dir: str | None = None,
    data: dict[str, Any] | None = None,
    quiet: bool = False,
    log: Any = print,
) -> tuple[Path, Path]:
    """Train/reuse/resume, evaluate and report; returns ``(report.md, report.html)``.

    ``data``: run the study on another data set (``DataConfig`` fields ``dataset``,
    ``image_size``, ``image_channels``): see ``presets.on_dataset`` and ``Family.config_for``.
    """
    from genzoo.reproduce.report import build_report
    from genzoo.reproduce.runner import run_stages
    from genzoo.runs.compare import floors_for
    from genzoo.training.runtime import environment

    preset = get_preset(preset) if isinstance(preset, str) else preset
    shape = None
    if data is not None and data.get("dataset") is not None:
        preset, shape = on_dataset(preset, data), _data_shape(data, data_dir)
    check_preset(preset)
    out = Path(out)
    start = time.perf_counter()
    results = run_stages(
        preset, out, device, seed=seed, data_dir=data_dir, shape=shape, quiet=quiet, log=log
    )

    log("report: real-vs-real floors, interpolations, figures")
    evals = [r["eval"] for r in results]
    floors = floors_for(evals, data_dir, views=("unit", "binary"), device=device)
    interp = _interpolation(preset, results, device, seed)

    env = {**environment(device), "seed": seed, "wall_s": time.perf_counter() - start}
    doc = build_report(preset, out, results, interp, floors, env)
    paths = doc.write(out)
    log(f"report: {paths[1]}")
    return paths


def _data_shape(data: dict[str, Any], data_dir: str | None) -> tuple[int, int, int]:
    """``(C, H, W)`` of the data set ``data`` names (loaded, and so verified, once here)."""
    from genzoo.config import DataConfig
    from genzoo.data.datasets import load_configured

    return load_configured(DataConfig(data_dir=data_dir, **data)).shape


def _interpolation(
    preset: Preset, results: list[dict[str, Any]], device: torch.device, seed: int
) -> Path | None:
    """Latent interpolations of the preset's ``interpolation_stage`` (None without one)."""
    from genzoo.reproduce.report import interpolation_stage
    from genzoo.runs import load_run
    from genzoo.runs.interpolate import interpolation_grid
    from genzoo.viz import save_grid

    stage = interpolation_stage(preset)
    if stage is None:
        return None
    run = next(r["run"] for r in results if r["key"] == stage.key)
    images, text = interpolation_grid(
        load_run(run, "last", device), rows=preset.interpolation_rows, steps=9,
        path="quantile", seed=seed,
    )  # fmt: skip
    interp = save_grid(images, run / "figures" / "interp-quantile.png", nrow=9)
    interp.with_suffix(".txt").write_text(text.capitalize() + ".")
    return interp
