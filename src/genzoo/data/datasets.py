"""In-memory image data sets with the fixed genzoo splits.

Splits (deterministic, never shuffled): ``train`` = the first 50,000 images of the training file,
``val`` = its last 10,000, ``test`` = the 10,000 images of the test file. Everything is held as
tensors; batches are slices, never per-image Python calls.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from torch import Tensor

from genzoo.data.fetch import FoundFile, locate
from genzoo.data.idx import read_idx
from genzoo.data.sources import get_spec
from genzoo.data.views import binarize, to_view
from genzoo.errors import ConfigError, DataError
from genzoo.seeding import make_generator

__all__ = ["ImageData", "load_dataset", "SPLITS", "N_TRAIN", "FIXED_BINARIZATION_SEED"]

SPLITS = ("train", "val", "test")
N_TRAIN = 50_000
FIXED_BINARIZATION_SEED = 20_190_405  # fixed forever: validation/test binarisation


@dataclass
class ImageData:
    """One data set split three ways; images ``(N, 1, 28, 28)`` uint8, labels ``(N,)`` int64."""

    name: str
    images: dict[str, Tensor]
    labels: dict[str, Tensor]
    files: dict[str, FoundFile] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
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
        return ImageData(self.name, images, labels, self.files, self.classes)


@lru_cache(maxsize=4)
def _load_cached(name: str, data_dir: str | None) -> ImageData:
    found = locate(name, data_dir)
    arrays = {role: read_idx(f.path) for role, f in found.items()}
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    test_x, test_y = arrays["test_images"], arrays["test_labels"]
    if train_x.shape[0] != train_y.shape[0] or test_x.shape[0] != test_y.shape[0]:
        raise DataError(f"{name}: image and label counts differ")
    if train_x.shape[0] <= N_TRAIN:
        raise DataError(f"{name}: the training file has only {train_x.shape[0]} images")

    def images(a: object) -> Tensor:
        return torch.from_numpy(a.copy()).unsqueeze(1)  # (N, 1, 28, 28) uint8

    def labels(a: object) -> Tensor:
        return torch.from_numpy(a.astype("int64"))

    return ImageData(
        name=name,
        images={
            "train": images(train_x[:N_TRAIN]),
            "val": images(train_x[N_TRAIN:]),
            "test": images(test_x),
        },
        labels={
            "train": labels(train_y[:N_TRAIN]),
            "val": labels(train_y[N_TRAIN:]),
            "test": labels(test_y),
        },
        files=found,
        classes=get_spec(name).classes,
    )


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None) -> ImageData:
    """Load data set ``name`` (verified; see ``genzoo.data.fetch`` for where files come from)."""
    get_spec(name)
    explicit = str(data_dir) if data_dir is not None else os.environ.get("GENZOO_DATA_DIR")
    return _load_cached(name, explicit)
