"""genzoo: train, evaluate, sample and compare VAEs, GANs and normalizing flows on images.

The Python API (see the README): ``train``, ``load_run`` -> ``Run`` (``sample``, ``evaluate``),
``compare``, ``make_config``, ``family_names``, ``get_family``.

Importing genzoo has no side effects: no threads are set, no devices touched, nothing read.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "make_config",
    "train",
    "load",
    "load_run",
    "Run",
    "compare",
    "fit",
    "RunConfig",
    "TrainConfig",
    "DataConfig",
    "get_family",
    "family_names",
    "load_dataset",
]

_LAZY = {
    "make_config": "genzoo.api",
    "train": "genzoo.api",
    "load": "genzoo.api",
    "load_run": "genzoo.runs",
    "Run": "genzoo.runs",
    "compare": "genzoo.runs.compare",
    "fit": "genzoo.training.loop",
    "RunConfig": "genzoo.config",
    "TrainConfig": "genzoo.config",
    "DataConfig": "genzoo.config",
    "get_family": "genzoo.family",
    "family_names": "genzoo.family",
    "load_dataset": "genzoo.data.datasets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")
