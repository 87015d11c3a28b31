"""Data sets by name, verified offline-first, held in memory, with fixed splits and views."""

from genzoo.data.batches import Batch, EpochBatches, eval_batches
from genzoo.data.datasets import SPLITS, ImageData, load_dataset
from genzoo.data.fetch import locate
from genzoo.data.sources import DATASETS, get_spec
from genzoo.data.views import VIEWS, binarize, to_view

__all__ = [
    "Batch",
    "EpochBatches",
    "eval_batches",
    "ImageData",
    "load_dataset",
    "SPLITS",
    "locate",
    "DATASETS",
    "get_spec",
    "VIEWS",
    "binarize",
    "to_view",
]
