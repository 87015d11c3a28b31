"""Figures from tensors: image grids and curves. Never imports model code."""

from genzoo.viz.grid import make_grid, save_grid

__all__ = ["make_grid", "save_grid"]
