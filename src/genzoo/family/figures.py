"""What a family declares about its figures: plain data, drawn by ``genzoo.viz.figures``.

A family never draws. At its sample epochs the training loop asks it for ``snapshots`` (named
image tensors) and keeps them in the run folder; the figures below say how those snapshots and
the run's metric records become PNG files under ``RUN/figures/``. ``genzoo reproduce`` takes
figure names and captions from the same declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ImageFigure", "CurveFigure", "Series", "Figure"]


@dataclass(frozen=True)
class ImageFigure:
    """Grids of one snapshot over training.

    Files: ``{name}_epoch{E:03d}.png`` (the grid at epoch E, ``nrow`` images a row) and
    ``{name}.png``: every epoch's grid side by side (``ncols`` a row), oldest first.
    """

    name: str  # file stem, also the snapshot key the family's ``snapshots`` returns
    caption: str
    nrow: int | None = None  # images per row of one grid (None: square)
    ncols: int = 5  # grids per row of the panel over epochs


@dataclass(frozen=True)
class Series:
    """One line of a curve: metric ``key`` from the records of ``source``."""

    label: str
    key: str
    source: Literal["train", "val", "steps"] = "train"  # per-epoch split, or the per-step log
    smooth: bool = False  # exponential moving average (for noisy per-step values)


@dataclass(frozen=True)
class CurveFigure:
    """Metric curves of a run, drawn from ``metrics.jsonl`` (per epoch) or ``steps.jsonl``.

    File: ``{name}.png``; x is the epoch, or the global step when every series is per step.
    """

    name: str
    caption: str
    series: tuple[Series, ...]
    ylabel: str = ""
    hlines: tuple[tuple[str, float], ...] = ()  # (label, y) reference lines
    title: str = ""


Figure = ImageFigure | CurveFigure
