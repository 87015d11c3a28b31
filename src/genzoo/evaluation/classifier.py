"""The evaluation network: a small CNN trained by genzoo on MNIST, used for features and labels.

Its penultimate layer (``feature_dim`` = 128 units after ReLU) is the feature space of FID, KID
and precision/recall; its predictions give class coverage and the class-controlled endpoints
of ``genzoo interpolate``. The weights ship inside the package (``weights/``) beside a JSON
record of their sha256 and the config that produced them (``genzoo evaluator train``
reproduces them); loading verifies the sha256 and unpickles nothing but tensors.

>>> net = load_classifier()                       # doctest: +SKIP
>>> net.predict(images)  # (N, 1, 28, 28) in [0, 1] -> (N,) labels   # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.errors import CheckpointError, ChecksumError

__all__ = [
    "ClassifierArch",
    "MnistClassifier",
    "WEIGHTS_DIR",
    "load_classifier",
    "classifier_record",
    "save_classifier",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
_MEAN, _STD = 0.1307, 0.3081  # MNIST pixel mean and std (of the [0, 1] images)


@dataclass(frozen=True)
class ClassifierArch:
    """Channels of the three conv stages (each conv 3x3 + BN + ReLU + 2x2 max-pool), width of
    the penultimate (feature) layer, dropout before the last layer, number of classes."""

    channels: tuple[int, int, int] = (32, 64, 64)
    feature_dim: int = 128
    dropout: float = 0.3
    num_classes: int = 10

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierArch:
        return cls(**{**d, "channels": tuple(d["channels"])})


def _stage(c_in: int, c_out: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class MnistClassifier(nn.Module):
    """``(B, 1, 28, 28)`` images in [0, 1] -> logits ``(B, K)``; 28 -> 14 -> 7 -> 3 spatially."""

    def __init__(self, arch: ClassifierArch | None = None) -> None:
        super().__init__()
        self.arch = arch = arch or ClassifierArch()
        self.weights_sha256: str | None = None  # set by ``load_classifier``: keys caches
        c1, c2, c3 = arch.channels
        self.body = nn.Sequential(
            _stage(1, c1, 1),  # (B, c1, 14, 14)
            _stage(c1, c2, 1),  # (B, c2, 7, 7)
            _stage(c2, c3, 1),  # (B, c3, 3, 3)
            nn.Flatten(),
            nn.Linear(c3 * 9, arch.feature_dim),
            nn.ReLU(inplace=True),  # (B, F): the feature layer
        )
        self.head = nn.Sequential(
            nn.Dropout(arch.dropout), nn.Linear(arch.feature_dim, arch.num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, K)`` of images ``x`` ``(B, 1, 28, 28)`` in [0, 1]."""
        return self.head(self.body((x - _MEAN) / _STD))

    @torch.no_grad()
    def _batched(self, fn: Any, images: Tensor, batch_size: int) -> Tensor:
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = [
            fn(images[i : i + batch_size].to(device, torch.float32))
            for i in range(0, images.shape[0], batch_size)
        ]
        self.train(was_training)
        return torch.cat(out).to(images.device)

    def features(self, images: Tensor, batch_size: int = 1000) -> Tensor:
        """Penultimate features ``(N, F)`` float32 of ``images`` ``(N, 1, 28, 28)`` in [0, 1]."""
        return self._batched(lambda x: self.body((x - _MEAN) / _STD), images, batch_size)

    def predict(self, images: Tensor, batch_size: int = 1000) -> Tensor:
        """Predicted labels ``(N,)`` int64 of ``images`` ``(N, 1, 28, 28)`` in [0, 1]."""
        return self._batched(lambda x: self(x).argmax(1), images, batch_size)

    def features_and_labels(self, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        """``(features (N, F), labels (N,))`` in one pass."""

        def both(x: Tensor) -> Tensor:
            f = self.body((x - _MEAN) / _STD)
            return torch.cat([f, self.head(f).argmax(1, keepdim=True).float()], 1)

        out = self._batched(both, images, batch_size)
        return out[:, :-1], out[:, -1].long()


def _sha256(path: Path) -> str:
    from genzoo.data.fetch import sha256_of

    return sha256_of(path)


def save_classifier(
    model: MnistClassifier, path: str | Path, record: dict[str, Any]
) -> dict[str, Any]:
    """Write weights to ``path`` and ``path.with_suffix('.json')`` (sha256, arch, ``record``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # a file-like target: the archive's inner name is not the file's
    torch.save(state, buffer)
    path.write_bytes(buffer.getvalue())
    meta = {
        "file": path.name,
        "sha256": _sha256(path),
        "arch": model.arch.to_dict(),
        **record,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def classifier_record(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON record beside the weights (default: the shipped MNIST classifier)."""
    weights = Path(path) if path is not None else WEIGHTS_DIR / "mnist_classifier.pt"
    meta_path = weights.with_suffix(".json")
    try:
        return json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{meta_path}: no evaluation-network record; train one with `genzoo evaluator train`"
        ) from None
    except ValueError as exc:
        raise CheckpointError(f"{meta_path}: unreadable ({exc})") from None


def load_classifier(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> MnistClassifier:
    """The trained classifier in eval mode on ``device`` (default: the shipped weights).

    The weights file's sha256 must match its JSON record (``ChecksumError`` otherwise), and it
    is loaded with ``weights_only=True``.
    """
    weights = Path(path) if path is not None else WEIGHTS_DIR / "mnist_classifier.pt"
    meta = classifier_record(weights)
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such weights file")
    actual = _sha256(weights)
    if actual != meta["sha256"]:
        raise ChecksumError(
            f"{weights}: sha256 {actual} does not match its record {meta['sha256']}; "
            "refusing modified evaluation-network weights"
        )
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure is one message
        raise CheckpointError(f"{weights}: not loadable weights ({type(exc).__name__})") from None
    model = MnistClassifier(ClassifierArch.from_dict(meta["arch"]))
    model.load_state_dict(state)
    model.weights_sha256 = actual
    return model.to(device).eval()
