"""Image grids written with Pillow."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.files import atomic_write

__all__ = ["make_grid", "save_grid"]


def make_grid(
    images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images in [0, 1] into one uint8 array ``(H', W')`` or ``(H', W', 3)``.

    ``nrow`` is the number of images per row (default: a square-ish grid).
    """
    images = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.full(
        (c, rows * (h + padding) + padding, nrow * (w + padding) + padding), float(pad_value)
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    arr = (grid * 255).round().to(torch.uint8).numpy()
    return arr[0] if c == 1 else arr.transpose(1, 2, 0)


def save_grid(
    images: Tensor, path: str | os.PathLike, nrow: int | None = None, scale: int = 2
) -> Path:
    """Write a grid of ``(N, C, H, W)`` images in [0, 1] as a PNG (upscaled ``scale`` times)."""
    from PIL import Image

    img = Image.fromarray(make_grid(images, nrow))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return atomic_write(path, lambda f: img.save(f, format="PNG"))  # never a torn PNG
