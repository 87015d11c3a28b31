"""In-memory image data sets with their splits: registered names and folders of images.

Splits of the registered data sets (deterministic, never shuffled): ``train`` = the first
``n_train`` images of the training file(s) (50,000 for the IDX sets, 45,000 for CIFAR-10),
``val`` = the rest of them (10,000; 5,000), ``test`` = the test file. Folders: see
``genzoo.data.folder``. ``image_size`` / ``channels`` resize, centre-crop and convert any
source the same way (``genzoo.data.imageops``). Everything is held as tensors; batches are
slices, never per-image Python calls.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.data.cifar import read_cifar10_binary
from genzoo.data.fetch import FoundFile, locate
from genzoo.data.folder import SPLIT_RULE, folder_split, index_folder
from genzoo.data.idx import read_idx
from genzoo.data.resized import cached_transform
from genzoo.data.sources import ROLES, check_dataset, get_spec, is_registered
from genzoo.data.views import binarize, to_view
from genzoo.errors import ConfigError, DataError
from genzoo.seeding import make_generator

__all__ = [
    "ImageData",
    "load_dataset",
    "load_configured",
    "SPLITS",
    "N_TRAIN",
    "FIXED_BINARIZATION_SEED",
]

SPLITS = ("train", "val", "test")
N_TRAIN = 50_000
FIXED_BINARIZATION_SEED = 20_190_405  # fixed forever: validation/test binarisation


@dataclass
class ImageData:
    """One data set split three ways; images ``(N, C, H, W)`` uint8, labels ``(N,)`` int64
    (-1 for an unlabelled folder). ``source``: where the images came from and how they were
    prepared; ``split_rule``: how the three splits were made (both one line, for ``data info``
    and the run's ``config.json``)."""

    name: str
    images: dict[str, Tensor]
    labels: dict[str, Tensor]
    files: dict[str, FoundFile] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    source: str = ""
    split_rule: str = ""
    _fixed: dict[str, Tensor] = field(default_factory=dict, repr=False)
    _fixed_meta: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.images["train"].shape[1:]
        return int(c), int(h), int(w)

    def content_hash(self) -> str:
        """sha256 of every split's images and labels (shapes included): names the data's
        content, so caches keyed by it (evaluation networks, indexed folders) never outlive
        a change of the data."""
        if "content_hash" not in self._fixed_meta:
            h = hashlib.sha256()
            for split in sorted(self.images):
                for t in (self.images[split], self.labels[split]):
                    h.update(f"{split}:{tuple(t.shape)}:{t.dtype};".encode())
                    h.update(t.contiguous().numpy().tobytes())
            self._fixed_meta["content_hash"] = h.hexdigest()
        return self._fixed_meta["content_hash"]

    @property
    def labelled(self) -> bool:
        """True when the images have class labels (``classes`` names them)."""
        return bool(self.classes)

    def describe(self) -> dict[str, object]:
        """What a run records about its data: name, shape, classes, split sizes, source, split
        rule and content hash."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "classes": list(self.classes),
            "sizes": {s: self.size(s) for s in SPLITS if s in self.images},
            "source": self.source,
            "split_rule": self.split_rule,
            "content_sha256": self.content_hash(),
        }

    def size(self, split: str) -> int:
        return self.images[self._check(split)].shape[0]

    def _check(self, split: str) -> str:
        if split not in self.images:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return split

    def fixed_binary(self, split: str) -> Tensor:
        """The fixed binarisation of ``split``: drawn once from ``FIXED_BINARIZATION_SEED``.

        Identical across runs, processes and machines (CPU generator, per-split seed).
        """
        split = self._check(split)
        if split not in self._fixed:
            gen = make_generator(FIXED_BINARIZATION_SEED, self.name, split)
            self._fixed[split] = binarize(self.images[split], gen)
        return self._fixed[split]

    def view(self, split: str, view: str) -> Tensor:
        """Images of ``split`` in ``view``; the ``binary`` view uses the fixed binarisation."""
        if view == "binary":
            return self.fixed_binary(split)
        return to_view(self.images[self._check(split)], view)

    def subset(self, limits: dict[str, int | None]) -> ImageData:
        """The first ``limits[split]`` examples of each split (for tiny runs and tests)."""
        images = {s: x[: limits.get(s)] for s, x in self.images.items()}
        labels = {s: y[: limits.get(s)] for s, y in self.labels.items()}
        return ImageData(
            self.name, images, labels, self.files, self.classes, self.source, self.split_rule
        )


def _split_fixed(
    name: str, arrays: tuple[np.ndarray, ...], n_train: int, options: tuple[int | None, ...]
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Images and labels by split from ``(train_x, train_y, test_x, test_y)``: ``train`` = the
    first ``n_train`` training images, ``val`` = the rest, ``test`` = the test file."""
    train_x, train_y, test_x, test_y = arrays
    if train_x.shape[0] != train_y.shape[0] or test_x.shape[0] != test_y.shape[0]:
        raise DataError(f"{name}: image and label counts differ")
    if train_x.shape[0] <= n_train:
        raise DataError(f"{name}: the training file has only {train_x.shape[0]} images")

    def images(a: np.ndarray) -> Tensor:  # (N, C, H, W) uint8
        return torch.from_numpy(cached_transform(a, *options).copy())

    def labels(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a.astype("int64"))

    xs = {"train": train_x[:n_train], "val": train_x[n_train:], "test": test_x}
    ys = {"train": train_y[:n_train], "val": train_y[n_train:], "test": test_y}
    return {s: images(x) for s, x in xs.items()}, {s: labels(y) for s, y in ys.items()}


def _options_text(image_size: int | None, channels: int | None) -> str:
    if image_size is None and channels is None:
        return ""
    size = "" if image_size is None else f"shorter side resized to {image_size}, centre-cropped"
    ch = "" if channels is None else f"converted to {channels} channel(s)"
    return "; " + ", ".join(t for t in (size, ch) if t)


@lru_cache(maxsize=4)
def _load_cached(
    name: str, data_dir: str | None, image_size: int | None, channels: int | None
) -> ImageData:
    spec = get_spec(name)
    found = locate(name, data_dir)
    classes = spec.classes
    if spec.kind == "cifar10-binary":
        *arrays, meta_classes = read_cifar10_binary(found["archive"].path)
        classes = meta_classes or classes
        what = "CIFAR-10 binary archive"
    else:
        arrays = [read_idx(found[r].path) for r in ROLES]
        arrays[0], arrays[2] = arrays[0][:, None], arrays[2][:, None]  # (N, 1, 28, 28)
        what = "IDX files"
    images, labels = _split_fixed(name, tuple(arrays), spec.n_train, (image_size, channels))
    n_val = arrays[0].shape[0] - spec.n_train
    folders = sorted({str(f.path.parent) for f in found.values()})
    return ImageData(
        name=name,
        images=images,
        labels=labels,
        files=found,
        classes=classes,
        source=f"{name} {what} from {', '.join(folders)}{_options_text(image_size, channels)}",
        split_rule=(
            f"fixed: train = the first {spec.n_train:,} images of the training file(s), "
            f"val = the last {n_val:,}, test = the test file"
        ),
    )


def _load_folder(root: str, image_size: int | None, channels: int | None) -> ImageData:
    index = index_folder(Path(root), image_size, channels)
    parts = folder_split(index.paths)
    empty = [s for s in SPLITS if len(parts[s]) == 0]
    if empty:
        raise DataError(
            f"{index.root}: {len(index.paths)} images leave the {empty[0]} split empty "
            "(about 80/10/10 by path); add images"
        )
    how = "reused" if index.reused else "new"
    return ImageData(
        name=str(index.root),
        images={s: torch.from_numpy(index.images[i]) for s, i in parts.items()},
        labels={s: torch.from_numpy(index.labels[i]) for s, i in parts.items()},
        classes=index.classes,
        source=(
            f"folder {index.root}: {len(index.paths)} PNG/JPEG images, content sha256 "
            f"{index.content_sha256}, {index.note}; index {index.cache} ({how})"
        ),
        split_rule=SPLIT_RULE,
    )


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    *,
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    """Load data set ``name``: a registered name (files verified; see ``genzoo.data.fetch``
    for where they come from) or a folder of PNG/JPEG images (see ``genzoo.data.folder``).

    ``image_size``: resize the shorter side to it and centre-crop a square (None: as found);
    ``channels``: convert to 1 (grey) or 3 (RGB) channels (None: as found).
    """
    check_dataset(name)
    if channels not in (None, 1, 3):
        raise ConfigError(f"image-channels must be 1 or 3, got {channels}")
    if image_size is not None and image_size < 1:
        raise ConfigError(f"image-size must be >= 1, got {image_size}")
    if not is_registered(name):
        return _load_folder(name, image_size, channels)  # never memoised: the folder may change
    explicit = str(data_dir) if data_dir is not None else os.environ.get("GENZOO_DATA_DIR")
    return _load_cached(name, explicit, image_size, channels)


def load_configured(cfg: Any) -> ImageData:
    """``load_dataset`` with the options of a ``genzoo.config.DataConfig``."""
    return load_dataset(
        cfg.dataset, cfg.data_dir, image_size=cfg.image_size, channels=cfg.image_channels
    )
