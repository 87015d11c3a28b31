"""The evaluation network: a small CNN trained by genzoo on a labelled data set, used for
features and labels.

Its penultimate layer (``feature_dim`` = 128 units after ReLU) is the feature space of FID, KID
and precision/recall; its predictions give class coverage and the class-controlled endpoints
of ``genzoo interpolate``. The network is sized from the data's ``(C, H, W)`` and class count
(``ClassifierArch.for_shape``); for 1x28x28 with ten classes that is exactly the shipped MNIST
network, whose weights ship inside the package (``weights/``) beside a JSON record of their
sha256 and the config that produced them (``genzoo evaluator train`` reproduces them). Networks
for other data sets live in the user cache (``genzoo.evaluation.evaluators``). Loading verifies
the sha256 and unpickles nothing but tensors.

>>> net = load_classifier()                       # doctest: +SKIP
>>> net.predict(images)  # (N, 1, 28, 28) in [0, 1] -> (N,) labels   # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.errors import CheckpointError, ChecksumError, ConfigError

__all__ = [
    "ClassifierArch",
    "EvalClassifier",
    "MnistClassifier",
    "WEIGHTS_DIR",
    "load_classifier",
    "classifier_record",
    "save_classifier",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
_MEAN, _STD = 0.1307, 0.3081  # MNIST pixel mean and std (of the 60,000 [0, 1] training images)
_MAX_STAGES = 6  # beyond this the last feature map is average-pooled to at most 4x4
_POOLED = 4


@dataclass(frozen=True)
class ClassifierArch:
    """Channels of the conv stages (each conv 3x3 + BN + ReLU + 2x2 max-pool), width of the
    penultimate (feature) layer, dropout before the last layer, number of classes, input
    channels and size, and the per-channel mean and std the [0, 1] input is normalised with.
    The defaults are the shipped MNIST network."""

    channels: tuple[int, ...] = (32, 64, 64)
    feature_dim: int = 128
    dropout: float = 0.3
    num_classes: int = 10
    in_channels: int = 1
    image_size: tuple[int, int] = (28, 28)
    mean: tuple[float, ...] = (_MEAN,)
    std: tuple[float, ...] = (_STD,)

    def __post_init__(self) -> None:
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ConfigError("classifier: one mean and one std per input channel")
        if self.num_classes < 2 or not self.channels or min(self.std) <= 0:
            raise ConfigError("classifier: needs >= 2 classes, >= 1 stage and std > 0")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The ``(C, H, W)`` of the images the network takes."""
        return (self.in_channels, *self.image_size)

    @classmethod
    def for_shape(
        cls,
        shape: tuple[int, int, int],
        num_classes: int,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
    ) -> ClassifierArch:
        """The network for images ``shape`` ``(C, H, W)``: one stage per halving while the
        map stays larger than 4 (at least 3 stages, at most 6, fewer for images under 8
        pixels); 32, 64, 64 channels for grey images, 64, 128, 128 for colour, 128 beyond.
        ``mean``/``std`` default to MNIST's for one channel and 0.5/0.25 otherwise."""
        c, h, w = shape
        side = min(h, w)
        if side < 2:
            raise ConfigError(f"classifier: images of {h}x{w} are too small (need >= 2x2)")
        stages = min(3, side.bit_length() - 1)
        while stages < _MAX_STAGES and side >> stages > _POOLED:
            stages += 1
        base = (32, 64, 64) if c == 1 else (64, 128, 128)
        channels = (base + (128,) * _MAX_STAGES)[:stages]
        return cls(
            channels=channels,
            num_classes=num_classes,
            in_channels=c,
            image_size=(h, w),
            mean=mean if mean is not None else ((_MEAN,) if c == 1 else (0.5,) * c),
            std=std if std is not None else ((_STD,) if c == 1 else (0.25,) * c),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("channels", "image_size", "mean", "std"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierArch:
        """From ``to_dict``; records without the input fields (the shipped one) are MNIST's."""
        tuples = {k: tuple(d[k]) for k in ("channels", "image_size", "mean", "std") if k in d}
        return cls(**{**d, **tuples})


def _stage(c_in: int, c_out: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class EvalClassifier(nn.Module):
    """``(B, C, H, W)`` images in [0, 1] -> logits ``(B, K)``; each stage halves H and W
    (MNIST: 28 -> 14 -> 7 -> 3)."""

    def __init__(self, arch: ClassifierArch | None = None) -> None:
        super().__init__()
        self.arch = arch = arch or ClassifierArch()
        self.weights_sha256: str | None = None  # set by ``load_classifier``: keys caches
        self.weights_path: Path | None = None  # set by ``load_classifier``
        h, w = arch.image_size
        layers: list[nn.Module] = []
        c_in = arch.in_channels
        for c_out in arch.channels:
            layers.append(_stage(c_in, c_out, 1))  # (B, c_out, h // 2, w // 2)
            c_in, h, w = c_out, h // 2, w // 2
        if max(h, w) > _POOLED:  # only for images beyond 6 stages (never for MNIST)
            h, w = min(h, _POOLED), min(w, _POOLED)
            layers.append(nn.AdaptiveAvgPool2d((h, w)))
        self.body = nn.Sequential(
            *layers,
            nn.Flatten(),
            nn.Linear(c_in * h * w, arch.feature_dim),
            nn.ReLU(inplace=True),  # (B, F): the feature layer
        )
        self.head = nn.Sequential(
            nn.Dropout(arch.dropout), nn.Linear(arch.feature_dim, arch.num_classes)
        )

    def _normalise(self, x: Tensor) -> Tensor:
        mean, std = self.arch.mean, self.arch.std
        if len(mean) == 1:  # Python scalars: the shipped network's exact arithmetic
            return (x - mean[0]) / std[0]
        return (x - x.new_tensor(mean).view(1, -1, 1, 1)) / x.new_tensor(std).view(1, -1, 1, 1)

    def _check(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.arch.shape:
            raise ConfigError(
                f"the evaluation network takes {'x'.join(map(str, self.arch.shape))} images, "
                f"got {'x'.join(map(str, x.shape[1:]))}"
            )
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, K)`` of images ``x`` ``(B, C, H, W)`` in [0, 1]."""
        return self.head(self.body(self._normalise(self._check(x))))

    @torch.no_grad()
    def _batched(self, fn: Any, images: Tensor, batch_size: int) -> Tensor:
        self._check(images)
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
        """Penultimate features ``(N, F)`` float32 of ``images`` ``(N, C, H, W)`` in [0, 1]."""
        return self._batched(lambda x: self.body(self._normalise(x)), images, batch_size)

    def predict(self, images: Tensor, batch_size: int = 1000) -> Tensor:
        """Predicted labels ``(N,)`` int64 of ``images`` ``(N, C, H, W)`` in [0, 1]."""
        return self._batched(lambda x: self(x).argmax(1), images, batch_size)

    def features_and_labels(self, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        """``(features (N, F), labels (N,))`` in one pass."""

        def both(x: Tensor) -> Tensor:
            f = self.body(self._normalise(x))
            return torch.cat([f, self.head(f).argmax(1, keepdim=True).float()], 1)

        out = self._batched(both, images, batch_size)
        return out[:, :-1], out[:, -1].long()


MnistClassifier = EvalClassifier  # the name before the network took any shape


def _sha256(path: Path) -> str:
    from genzoo.data.fetch import sha256_of

    return sha256_of(path)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_classifier(
    model: EvalClassifier, path: str | Path, record: dict[str, Any]
) -> dict[str, Any]:
    """Write weights to ``path`` (a ``torch.save``d state dict of tensors) and
    ``path.with_suffix('.json')`` (sha256, arch, ``record``), each replaced atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # a file-like target: the archive's inner name is not the file's
    torch.save(state, buffer)
    _write_atomic(path, buffer.getvalue())
    meta = {
        "file": path.name,
        "sha256": _sha256(path),
        "arch": model.arch.to_dict(),
        **record,
    }
    _write_atomic(path.with_suffix(".json"), (json.dumps(meta, indent=2) + "\n").encode())
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
) -> EvalClassifier:
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
    try:
        model = EvalClassifier(ClassifierArch.from_dict(meta["arch"]))
        model.load_state_dict(state)
    except (TypeError, KeyError, RuntimeError, ConfigError) as exc:
        raise CheckpointError(
            f"{weights}: weights do not fit their recorded arch ({exc})"
        ) from None
    model.weights_sha256 = actual
    model.weights_path = weights
    return model.to(device).eval()
