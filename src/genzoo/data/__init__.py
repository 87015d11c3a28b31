"""Data sets by name or folder, verified offline-first, held in memory, with splits and views."""

from genzoo.data.batches import Batch, EpochBatches, eval_batches
from genzoo.data.datasets import SPLITS, ImageData, load_configured, load_dataset
from genzoo.data.fetch import locate
from genzoo.data.sources import DATASETS, check_dataset, get_spec
from genzoo.data.views import VIEWS, binarize, to_view

__all__ = [
    "Batch",
    "EpochBatches",
    "eval_batches",
    "ImageData",
    "load_dataset",
    "load_configured",
    "SPLITS",
    "locate",
    "DATASETS",
    "get_spec",
    "check_dataset",
    "VIEWS",
    "binarize",
    "to_view",
]
