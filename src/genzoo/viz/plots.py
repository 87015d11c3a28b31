"""Generic matplotlib figures: curves and panels of image grids. Inputs are plain numbers and
tensors; nothing here knows about models."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from genzoo.files import atomic_write
from genzoo.viz.grid import make_grid

__all__ = ["line_plot", "grid_panels", "image_file_panels"]


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | os.PathLike, dpi: int = 120) -> Path:  # noqa: ANN001
    fig.tight_layout()
    path = Path(path)
    try:  # atomic: a reader (or a stop mid-write) never sees a torn file
        atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=path.suffix[1:] or "png"))
    finally:
        plt.close(fig)
    return path


def _compact_number(v: float, _pos: object = None) -> str:
    """Tick label: 150000 -> '150k', 2500000 -> '2.5M' (step axes run into the 100,000s)."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def _show(ax, image: np.ndarray) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Draw a uint8 image ``(H, W)`` in grey or ``(H, W, 3)`` in colour, pixel values as given."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)


def line_plot(
    panels: Sequence[dict[str, tuple[Sequence[float], Sequence[float]]]],
    path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "",
    hlines: dict[str, float] | None = None,
    sharey: bool = False,
) -> Path:
    """One subplot per panel; each panel maps a label to ``(x, y)``. ``hlines``: label -> y."""
    plt = _pyplot()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.4), squeeze=False, sharey=sharey)
    for i, (ax, series) in enumerate(zip(axes[0], panels, strict=True)):
        for label, (x, y) in series.items():
            ax.plot(list(x), list(y), label=label, marker="o" if len(x) < 15 else None, ms=3)
        for label, y in (hlines or {}).items():
            ax.axhline(y, color="gray", ls="--", lw=1, label=label)
        if titles:
            ax.set_title(titles[i])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_formatter(_compact_number)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(plt, fig, path)


def grid_panels(
    panels: Sequence[tuple[str, Tensor]],
    path: str | os.PathLike,
    *,
    nrow: int | None = None,
    ncols: int | None = None,
) -> Path:
    """Image grids side by side (e.g. samples at several epochs), each titled.

    ``panels``: ``(title, images (N, C, H, W) in [0, 1])`` pairs, grey (C = 1) or RGB (C = 3).
    """
    plt = _pyplot()
    n = len(panels)
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, images) in zip(axes.flat, panels, strict=False):
        _show(ax, make_grid(images, nrow))
        ax.set_title(title, fontsize=10)
    return _save(plt, fig, path)


def image_file_panels(
    rows: Sequence[Sequence[tuple[str, str | os.PathLike]]],
    path: str | os.PathLike,
    *,
    row_titles: Sequence[str] | None = None,
    width: float = 3.0,
) -> Path:
    """Existing PNG files arranged in rows, each titled: ``rows[r][c] = (title, png path)``;
    grey files are drawn grey, colour files in colour."""
    from PIL import Image

    plt = _pyplot()
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(width * ncols, (width + 0.3) * len(rows)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for r, row in enumerate(rows):
        for c, (title, file) in enumerate(row):
            with Image.open(file) as img:
                grey = img.mode in ("L", "LA", "I", "I;16", "1")
                _show(axes[r][c], np.asarray(img.convert("L" if grey else "RGB")))
            label = f"{row_titles[r]}, {title}" if row_titles else title
            axes[r][c].set_title(label, fontsize=9)
    return _save(plt, fig, path, dpi=110)
