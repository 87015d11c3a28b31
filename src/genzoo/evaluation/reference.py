"""Reference features of real images, cached in the user cache and keyed by what made them.

A cache file holds the classifier features ``(N, F)``, predicted labels ``(N,)`` and a record of
the data set, split, view, subset (size and seed), the data's content hash
(``ImageData.content_hash``) and the evaluation network's sha256. A file whose record does not
match the request is recomputed, never reused.

Two views of the real images serve as references: ``unit`` (the 8-bit images scaled to [0, 1])
for models of gray-level images, and ``binary`` (genzoo's fixed binarisation of the split) for
models trained on binarised data, whose samples are binary images.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.data.datasets import ImageData, load_dataset
from genzoo.data.fetch import cache_dir
from genzoo.errors import ConfigError
from genzoo.evaluation.classifier import EvalClassifier
from genzoo.evaluation.frechet import GaussianStats, feature_stats
from genzoo.seeding import make_generator

__all__ = [
    "ReferenceFeatures",
    "reference_features",
    "reference_path",
    "reference_view",
    "safe_name",
    "REFERENCE_VIEWS",
    "CACHE_VERSION",
]

CACHE_VERSION = 2  # 2: keyed by the data's content hash, not its file's sha256
REFERENCE_VIEWS = ("unit", "binary")


def reference_view(data_view: str) -> str:
    """The reference view for a model trained on ``data_view``: ``binary`` or ``unit``."""
    return "binary" if data_view == "binary" else "unit"


@dataclass(frozen=True)
class ReferenceFeatures:
    """Features ``(N, F)`` float32 and predicted labels ``(N,)`` of real images, with the record
    of what they were computed from (``meta``)."""

    features: Tensor
    labels: Tensor
    meta: dict[str, Any]

    @property
    def stats(self) -> GaussianStats:
        return feature_stats(self.features)


def _request(
    dataset: str,
    split: str,
    view: str,
    network_sha256: str,
    n: int | None,
    seed: int,
    data_hash: str,
) -> dict[str, Any]:
    return {
        "cache_version": CACHE_VERSION,
        "dataset": dataset,
        "split": split,
        "view": view,
        "n": n,  # None = the whole split
        "subset_seed": seed if n is not None else None,
        "data_content_hash": data_hash,
        "network_sha256": network_sha256,
    }


def safe_name(dataset: str) -> str:
    """``dataset`` (a name or a path) as a file-name part: letters, digits, ``._-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", dataset).strip("._")[-48:] or "data"


def reference_path(
    dataset: str,
    split: str,
    view: str,
    network_sha256: str,
    n: int | None,
    seed: int,
    data_hash: str,
) -> Path:
    """Where the cache file of this request lives (under ``genzoo.data.fetch.cache_dir()``)."""
    subset = "all" if n is None else f"n{n}-s{seed}"
    name = f"{safe_name(dataset)}-{split}-{view}-{subset}-{network_sha256[:16]}-{data_hash[:12]}"
    return cache_dir() / "reference" / f"{name}.pt"


def _subset_indices(total: int, n: int | None, seed: int, dataset: str, split: str) -> Tensor:
    if n is None or n >= total:
        return torch.arange(total)
    gen = make_generator(seed, "reference-subset", dataset, split)
    return torch.randperm(total, generator=gen)[:n].sort().values


def reference_features(
    classifier: EvalClassifier,
    dataset: str = "mnist",
    split: str = "test",
    view: str = "unit",
    n: int | None = None,
    seed: int = 0,
    data: ImageData | None = None,
    use_cache: bool = True,
) -> ReferenceFeatures:
    """Features of ``split`` in ``view`` (all of it, or a seeded subset of ``n`` images), cached.

    Caching needs ``classifier.weights_sha256`` (set by ``load_classifier``); without it the
    features are computed every time. ``data``: the data set (default ``load_dataset(dataset)``);
    the cache is keyed by its content, so a subset never reuses the full set's features.
    """
    if view not in REFERENCE_VIEWS:
        raise ConfigError(f"reference view must be one of {', '.join(REFERENCE_VIEWS)}")
    if data is None:
        data = load_dataset(dataset)
    sha, data_hash = classifier.weights_sha256, data.content_hash()
    request = _request(dataset, split, view, sha or "unhashed", n, seed, data_hash)
    path = reference_path(dataset, split, view, sha or "unhashed", n, seed, data_hash)
    if use_cache and sha is not None and path.is_file():
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            if {k: cached["meta"].get(k) for k in request} == request:
                return ReferenceFeatures(cached["features"], cached["labels"], cached["meta"])
        except Exception:  # noqa: BLE001 - an unreadable cache file is just recomputed
            pass
    images = data.view(split, view)  # float32 in [0, 1]; binary = the fixed binarisation
    idx = _subset_indices(images.shape[0], n, seed, dataset, split)
    start = time.perf_counter()
    feats, labels = classifier.features_and_labels(images[idx])
    meta = {
        **request,
        "images": int(idx.shape[0]),
        "feature_dim": int(feats.shape[1]),
        "seconds": time.perf_counter() - start,
        "created": time.time(),
    }
    ref = ReferenceFeatures(feats.cpu(), labels.cpu(), meta)
    if use_cache and sha is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            torch.save({"features": ref.features, "labels": ref.labels, "meta": meta}, tmp)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs a recomputation
    return ref
