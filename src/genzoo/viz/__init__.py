"""Figures from tensors: image grids and curves. Never imports model code."""

from genzoo.viz.grid import make_grid, save_grid
from genzoo.viz.plots import grid_panels, image_file_panels, line_plot

__all__ = ["make_grid", "save_grid", "line_plot", "grid_panels", "image_file_panels"]
