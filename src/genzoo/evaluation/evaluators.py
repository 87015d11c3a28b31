"""Which evaluation network measures samples of which data set.

MNIST (the registered data set) is measured with the network that ships in the package, so its
numbers never change. Any other labelled data set needs a network trained on it by
``genzoo evaluator train --dataset X``, which lands in the user cache under the data's content
hash (``ImageData.content_hash``):

    <cache>/evaluators/<content hash>/evaluator.pt    state dict (torch.save, tensors only)
    <cache>/evaluators/<content hash>/evaluator.json  data set, content hash, shape, classes,
                                                      seed, epochs, test accuracy, sha256, ...

A network is used only when its record names the data's content hash, shape and classes, and
the weights file has the sha256 of its record; so a changed data set (one pixel) never reuses
the network of the old one, and modified weights are refused. Unlabelled data sets have no
network: their quality metrics are skipped with a reason.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genzoo.data.datasets import ImageData
from genzoo.data.fetch import cache_dir
from genzoo.errors import CheckpointError, ConfigError, GenzooError
from genzoo.evaluation.classifier import EvalClassifier, classifier_record, load_classifier

if TYPE_CHECKING:
    from genzoo.config import DataConfig

__all__ = [
    "SHIPPED_DATASET",
    "evaluator_path",
    "train_command",
    "uses_shipped",
    "find_evaluator",
    "load_evaluator",
]

SHIPPED_DATASET = "mnist"  # the registered data set whose network ships in the package
_SHIPPED_SHAPE = (1, 28, 28)


def evaluator_path(content_hash: str) -> Path:
    """The cached weights file of the network for the data with ``content_hash``."""
    return cache_dir() / "evaluators" / content_hash / "evaluator.pt"


def train_command(source: DataConfig | str) -> str:
    """The command that makes the evaluation network of the data that ``source`` loads: a
    run's ``DataConfig`` (name, folder, ``image_size``, ``image_channels``), or a name alone."""
    name = source if isinstance(source, str) else source.dataset
    words = ["genzoo evaluator train --dataset", shlex.quote(name)]
    if isinstance(source, str):
        return " ".join(words)
    if source.image_size is not None:
        words.append(f"--image-size {source.image_size}")
    if source.image_channels is not None:
        words.append(f"--image-channels {source.image_channels}")
    if source.data_dir:
        words.append(f"--data-dir {shlex.quote(str(source.data_dir))}")
    return " ".join(words)


def uses_shipped(data: ImageData) -> bool:
    """True when ``data`` is measured with the shipped network: MNIST at its own 1x28x28."""
    return data.name == SHIPPED_DATASET and data.shape == _SHIPPED_SHAPE


def _check_record(record: dict[str, Any], data: ImageData, path: Path) -> None:
    """``CheckpointError`` unless the record was made from exactly this data."""
    expected = {
        "content_hash": data.content_hash(),
        "shape": list(data.shape),
        "classes": list(data.classes),
    }
    for key, value in expected.items():
        if record.get(key) != value:
            raise CheckpointError(f"{path}: made for other data ({key} differs)")


def load_evaluator(
    data: ImageData, device: str | torch.device = "cpu", source: DataConfig | None = None
) -> EvalClassifier:
    """The evaluation network of ``data`` (the full data set, not a subset): the shipped one
    for MNIST, else the verified cached one. ``source``: how ``data`` was loaded (a run's
    ``config.data``), for the messages (default: ``data.name``, as found).

    Raises ``CheckpointError`` (none, or made for other data; the message says how to make
    it), ``ChecksumError`` (modified weights) or ``ConfigError`` (no class labels).
    """
    name = source.dataset if source is not None else data.name
    if len(data.classes) < 2:
        raise ConfigError(
            f"{name} has no class labels, so no evaluation network: "
            "sample-quality metrics need one trained on labelled images"
        )
    if uses_shipped(data):
        return load_classifier(device=device)
    path = evaluator_path(data.content_hash())
    if not path.is_file():
        raise CheckpointError(
            f"no evaluation network for {name} (data {data.content_hash()[:12]}): "
            f"make it with `{train_command(source or name)}`"
        )
    _check_record(classifier_record(path), data, path)
    return load_classifier(path, device)


def find_evaluator(
    data: ImageData,
    device: str | torch.device = "cpu",
    source: DataConfig | None = None,
    shape: tuple[int, int, int] | None = None,
) -> tuple[EvalClassifier | None, str]:
    """``(network, "")`` as ``load_evaluator``, or ``(None, one-line reason)`` that ends,
    where a network can be made, with the command that makes it. ``shape``: the images it
    will see (a run's), when they may differ from ``data``'s; another shape is a reason."""
    name = source.dataset if source is not None else data.name
    try:
        net = load_evaluator(data, device, source)
        if shape is None or tuple(net.arch.shape) == tuple(shape):
            return net, ""
        have, got = ("x".join(map(str, s)) for s in (net.arch.shape, shape))
        return None, f"the evaluation network of {name} takes {have} images, not {got}"
    except GenzooError as exc:
        reason = str(exc)
    if len(data.classes) >= 2 and "genzoo evaluator train" not in reason:
        reason += f"; make it anew with `{train_command(source or name)}`"
    return None, reason
