"""``genzoo reproduce``: every figure and table of the course report from one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from genzoo.reproduce.presets import PRESETS, Preset, Stage, get_preset

__all__ = ["reproduce", "PRESETS", "Preset", "Stage", "get_preset"]


def reproduce(
    preset: str | Preset,
    out: str | Path,
    *,
    device: torch.device,
    seed: int = 0,
    data_dir: str | None = None,
    quiet: bool = False,
    log: Any = print,
) -> tuple[Path, Path]:
    """Train/reuse/resume, evaluate and report; returns ``(report.md, report.html)``."""
    from genzoo.reproduce.report import build_report
    from genzoo.reproduce.runner import run_stages
    from genzoo.runs import load_run
    from genzoo.runs.compare import floors_for
    from genzoo.runs.interpolate import interpolation_grid
    from genzoo.training.runtime import environment
    from genzoo.viz import save_grid

    preset = get_preset(preset) if isinstance(preset, str) else preset
    out = Path(out)
    start = time.perf_counter()
    results = run_stages(preset, out, device, seed=seed, data_dir=data_dir, quiet=quiet, log=log)

    log("report: real-vs-real floors, interpolations, figures")
    evals = [r["eval"] for r in results]
    floors = floors_for(evals, data_dir, views=("unit", "binary"), device=device)
    gan = next(r for r in results if r["key"] == "gan-mlp")
    images, text = interpolation_grid(
        load_run(gan["run"], "last", device), rows=preset.interpolation_rows, steps=9,
        path="quantile", seed=seed,
    )  # fmt: skip
    interp = save_grid(images, gan["run"] / "figures" / "interp-quantile.png", nrow=9)
    interp.with_suffix(".txt").write_text(text.capitalize() + ".")

    env = {**environment(device), "seed": seed, "wall_s": time.perf_counter() - start}
    doc = build_report(preset, out, results, interp, floors, env)
    paths = doc.write(out)
    log(f"report: {paths[1]}")
    return paths
