"""Figures: tick labels that stay readable, grids of the right size."""

from __future__ import annotations

import torch
from PIL import Image

from genzoo.viz import line_plot, make_grid
from genzoo.viz.plots import _compact_number


def test_step_ticks_are_compact():
    labels = [_compact_number(v) for v in (0, 2.5, 999, 25_000, 150_000, 2_500_000)]
    assert labels == ["0", "2.5", "999", "25k", "150k", "2.5M"]


def test_line_plot_writes_a_png(tmp_path):
    steps = list(range(0, 160_000, 1000))
    path = line_plot([{"D": (steps, [1.3] * len(steps))}], tmp_path / "c.png", xlabel="step")
    with Image.open(path) as img:
        assert img.width > 100 and img.height > 100


def test_make_grid_tiles_with_padding():
    grid = make_grid(torch.zeros(6, 1, 28, 28), nrow=3, padding=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2) and grid.dtype.name == "uint8"
