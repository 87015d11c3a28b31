"""Draws a family's declared figures from what a run folder holds: image snapshots (uint8
tensors saved per epoch) and metric records. Knows no family and no model."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genzoo.viz.grid import save_grid
from genzoo.viz.plots import grid_panels, line_plot

if TYPE_CHECKING:
    from genzoo.family.figures import CurveFigure, ImageFigure

__all__ = ["draw_figures", "draw_image_figure", "draw_curve_figure", "smooth", "load_snapshot"]


def smooth(values: Sequence[float], alpha: float = 0.1) -> list[float]:
    """Bias-corrected exponential moving average of ``values`` (as in TensorBoard)."""
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        avg = (1 - alpha) * avg + alpha * v
        weight = (1 - alpha) * weight + alpha
        out.append(avg / weight)
    return out


def load_snapshot(path: str | os.PathLike) -> torch.Tensor:
    """A saved snapshot: uint8 ``(N, C, H, W)`` -> floats in [0, 1]."""
    return torch.load(path, weights_only=True).float() / 255.0


def draw_image_figure(
    fig: ImageFigure, epochs: Sequence[tuple[int, Path]], out: Path, only: int | None = None
) -> None:
    """``{name}_epoch{E:03d}.png`` for every snapshot (or only epoch ``only``) and the panel
    ``{name}.png`` of every epoch's grid, oldest first."""
    if not epochs:
        return
    grids = [(e, load_snapshot(p)) for e, p in sorted(epochs)]
    for e, images in grids:
        if only is None or e == only:
            save_grid(images, out / f"{fig.name}_epoch{e:03d}.png", nrow=fig.nrow)
    panels = [(f"epoch {e}", images) for e, images in grids]
    grid_panels(panels, out / f"{fig.name}.png", nrow=fig.nrow, ncols=min(len(panels), fig.ncols))


def _series(records: Iterable[dict[str, Any]], key: str, x: str) -> tuple[list[float], list[float]]:
    """``(x values, y values)`` of ``key``; a repeated x (a resumed epoch) keeps its last value."""
    points = {r[x]: r[key] for r in records if key in r and x in r and r[key] is not None}
    xs = sorted(points)
    return xs, [points[v] for v in xs]


def draw_curve_figure(
    fig: CurveFigure,
    records: Sequence[dict[str, Any]],
    steps: Sequence[dict[str, Any]],
    out: Path,
) -> None:
    """``{name}.png`` from per-epoch ``records`` (metrics.jsonl) and per-step ``steps``."""
    per_step = all(s.source == "steps" for s in fig.series)
    lines = {}
    for s in fig.series:
        if s.source == "steps":
            xs, ys = _series(steps, s.key, "step")
        else:
            xs, ys = _series((r for r in records if r.get("split") == s.source), s.key, "epoch")
        if xs:
            lines[s.label] = (xs, smooth(ys) if s.smooth else ys)
    if not lines:
        return
    line_plot(
        [lines],
        out / f"{fig.name}.png",
        titles=[fig.title] if fig.title else None,
        xlabel="step" if per_step else "epoch",
        ylabel=fig.ylabel,
        hlines=dict(fig.hlines),
    )


def draw_figures(
    figures: Iterable[ImageFigure | CurveFigure],
    out: str | os.PathLike,
    snapshots: Mapping[str, Sequence[tuple[int, Path]]],
    records: Sequence[dict[str, Any]],
    steps: Sequence[dict[str, Any]] = (),
    *,
    epoch: int | None = None,
    images: bool = True,
) -> None:
    """Draw every declared figure into ``out``.

    ``snapshots``: figure name -> ``(epoch, file)`` of its saved snapshots. ``epoch``: write
    only that epoch's single grids (the panels always show every epoch); ``images=False``:
    curves only.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for fig in figures:
        if hasattr(fig, "series"):
            draw_curve_figure(fig, records, steps, out)  # type: ignore[arg-type]
        elif images:
            draw_image_figure(fig, snapshots.get(fig.name, ()), out, only=epoch)  # type: ignore[arg-type]
