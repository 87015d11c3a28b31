"""Resizing, centre-cropping and channel conversion of 8-bit images, with Pillow.

One rule for every source: the shorter side is resized to ``size`` (Lanczos, antialiased; an
image whose shorter side is already ``size`` is not resampled), then the centre ``size x size``
square is kept (offsets rounded down). Grey to RGB copies the grey level into the three
channels; RGB to grey is Pillow's ITU-R 601-2 luma ``L = R * 299/1000 + G * 587/1000 + B *
114/1000``. An alpha channel is dropped (not composited).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = [
    "GREY_MODES",
    "COLOUR_MODES",
    "channels_of",
    "fit_image",
    "keeps_images",
    "transform_images",
]

GREY_MODES = frozenset({"1", "L", "LA"})
COLOUR_MODES = frozenset({"RGB", "RGBA", "CMYK", "YCbCr", "P", "PA"})  # P, PA: see channels_of


def channels_of(img: Image.Image) -> int:
    """1 for a grey image (a palette image whose colours are all grey counts as grey), 3 for a
    colour one; 0 for a mode that is not 8 bits per channel (16-bit, float: not supported)."""
    if img.mode in GREY_MODES:
        return 1
    if img.mode in ("P", "PA"):
        palette = img.getpalette() or []
        triples = zip(palette[0::3], palette[1::3], palette[2::3], strict=False)
        return 1 if all(r == g == b for r, g, b in triples) else 3
    return 3 if img.mode in COLOUR_MODES else 0


def fit_image(img: Image.Image, size: int | None, channels: int) -> np.ndarray:
    """``img`` as a ``(channels, H, W)`` uint8 array; ``size``: resize the shorter side to
    ``size`` and centre-crop to ``(size, size)`` (None: keep the image's own size)."""
    mode = "L" if channels == 1 else "RGB"
    if img.mode != mode:
        img = img.convert(mode)
    if size is not None:
        w, h = img.size
        if min(w, h) != size:
            scale = size / min(w, h)
            new = (max(size, round(w * scale)), max(size, round(h * scale)))
            img = img.resize(new, Image.Resampling.LANCZOS)
        w, h = img.size
        if (w, h) != (size, size):
            left, top = (w - size) // 2, (h - size) // 2
            img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def keeps_images(shape: tuple[int, ...], size: int | None, channels: int | None) -> bool:
    """True when ``transform_images`` leaves images of ``shape`` ``(N, C, H, W)`` as they are."""
    _, c, h, w = shape
    return (channels is None or channels == c) and (size is None or size == h == w)


def transform_images(x: np.ndarray, size: int | None, channels: int | None) -> np.ndarray:
    """Apply ``fit_image`` to every image of ``x`` ``(N, C, H, W)`` uint8 (C = 1 or 3);
    returns ``x`` itself when nothing changes (``size`` None or equal to a square image's
    side, ``channels`` None or equal to C)."""
    n, c, h, w = x.shape
    target_c = c if channels is None else channels
    if keeps_images(x.shape, size, channels):
        return x
    out = np.empty((n, target_c, size or h, size or w), dtype=np.uint8)
    for i in range(n):
        img = Image.fromarray(x[i, 0]) if c == 1 else Image.fromarray(x[i].transpose(1, 2, 0))
        out[i] = fit_image(img, size, target_c)
    return out
