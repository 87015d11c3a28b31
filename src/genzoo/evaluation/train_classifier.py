"""Training of the evaluation network (``genzoo evaluator train``), deterministic from its seed.

AdamW with a cosine learning-rate decay on the data set's ``train`` split, with light random
affine augmentation (small rotations, scalings and shifts, and optionally left-right flips,
drawn from seeded generators). The network is sized from the data's ``(C, H, W)`` and class
count, and normalised with the per-channel mean and std of the non-test images (train and val),
rounded to 4 decimals (MNIST: 0.1307 and 0.3081). The ``val`` split is reported every epoch and,
with ``keep="best"`` or ``patience``, picks the weights kept and when to stop; the test accuracy
of the kept weights is recorded. On CPU the result is bit-identical for the same seed, thread
count and torch; the defaults on MNIST reproduce the shipped weights.
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.config import (
    DataConfig,
    check_fields,
    check_image_channels,
    image_channels_opt,
    image_size_opt,
    opt,
)
from genzoo.data import EpochBatches, ImageData
from genzoo.data.datasets import load_configured
from genzoo.errors import ConfigError
from genzoo.evaluation.classifier import ClassifierArch, EvalClassifier, save_classifier
from genzoo.seeding import derive_seed, make_generator
from genzoo.training.schedule import apply_lr, lr_factor

__all__ = [
    "EvaluatorConfig",
    "augment",
    "accuracy",
    "channel_stats",
    "load_evaluator_data",
    "train_classifier",
]


@dataclass(frozen=True)
class EvaluatorConfig:
    """How the evaluation network is trained."""

    dataset: str = opt("mnist", "data set to train on (any name or path the data layer loads)")
    image_size: int | None = image_size_opt()  # as the runs' --image-size, --image-channels
    image_channels: int | None = image_channels_opt()
    epochs: int = opt(8, "training epochs (at most, with --patience)", ge=1)
    batch_size: int = opt(128, "batch size", ge=1)
    lr: float = opt(2e-3, "peak learning rate (cosine decay)", gt=0)
    weight_decay: float = opt(1e-4, "decoupled weight decay (AdamW)", ge=0)
    max_rotation_deg: float = opt(10.0, "augmentation: largest rotation in degrees", ge=0)
    max_scale: float = opt(0.1, "augmentation: scale drawn from [1 - s, 1 + s]", ge=0, lt=1)
    max_shift_px: float = opt(2.0, "augmentation: largest shift in pixels", ge=0)
    hflip: bool = opt(False, "augmentation: mirror half the images (objects, not digits)")
    keep: Literal["last", "best"] = opt(
        "last", "weights kept: the last epoch's, or those of the best validation accuracy"
    )
    patience: int | None = opt(
        None, "stop after N epochs without a better validation accuracy (none: never)", ge=1
    )
    seed: int = opt(0, "seed of the initialisation, batches, augmentation and dropout")
    limit_train: int | None = opt(None, "first N training images only (tests)", ge=1)
    limit_eval: int | None = opt(None, "first N validation/test images only (tests)", ge=1)

    def __post_init__(self) -> None:
        check_fields(self)
        check_image_channels(self.image_channels)

    def source(self, data_dir: str | None = None) -> DataConfig:
        """How the data set is loaded: as a run with the same ``--dataset``, ``--image-size``
        and ``--image-channels`` loads it (so with the same content hash)."""
        return DataConfig(self.dataset, data_dir, self.image_size, self.image_channels)


def augment(x: Tensor, cfg: EvaluatorConfig, generator: torch.Generator) -> Tensor:
    """Random affine copies of ``x`` ``(B, C, H, W)``: rotation, isotropic scale and shift."""
    b, _, h, w = x.shape
    u = torch.rand(b, 4, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1  # [-1, 1)
    angle = u[:, 0] * math.radians(cfg.max_rotation_deg)
    scale = 1 + u[:, 1] * cfg.max_scale
    if h == w:
        shift = u[:, 2:] * (2 * cfg.max_shift_px / h)  # in normalised [-1, 1] coordinates
    else:
        shift = u[:, 2:] * u.new_tensor([2 * cfg.max_shift_px / w, 2 * cfg.max_shift_px / h])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """``x`` ``(B, C, H, W)`` with a random half of the images mirrored left-right."""
    mask = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def accuracy(model: EvalClassifier, images: Tensor, labels: Tensor) -> float:
    """Share of correct predictions on ``images`` ``(N, C, H, W)`` in [0, 1]."""
    return float((model.predict(images) == labels).double().mean())


def channel_stats(images: Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], ...]:
    """``(mean, std)`` per channel of uint8 ``images`` ``(N, C, H, W)`` scaled to [0, 1],
    rounded to 4 decimals; exact integer sums, so independent of chunking and threads."""
    n = images.shape[0] * images.shape[2] * images.shape[3]
    if n < 2:
        raise ConfigError("evaluator: too few images to normalise by")
    s = torch.zeros(images.shape[1], dtype=torch.int64)
    ss = torch.zeros_like(s)
    for i in range(0, images.shape[0], chunk):
        x = images[i : i + chunk].long()
        s += x.sum(dim=(0, 2, 3))
        ss += (x * x).sum(dim=(0, 2, 3))
    mean = [float(v) / n / 255 for v in s]
    var = [(float(q) - float(v) ** 2 / n) / (n - 1) / 255**2 for v, q in zip(s, ss, strict=True)]
    return tuple(round(m, 4) for m in mean), tuple(round(max(v, 1e-8) ** 0.5, 4) for v in var)


def _command(cfg: EvaluatorConfig) -> str:
    """The ``genzoo evaluator train`` command line that repeats this training."""
    flags = []
    for f in fields(cfg):
        value, flag = getattr(cfg, f.name), f.name.replace("_", "-")
        if value == f.default:
            continue
        if isinstance(value, bool):
            flags.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            flags.append(f"--{flag} {shlex.quote(str(value))}")
    return " ".join(["genzoo evaluator train", *flags, f"--threads {torch.get_num_threads()}"])


def load_evaluator_data(cfg: EvaluatorConfig, data_dir: str | None = None) -> ImageData:
    """The data set ``cfg`` trains on, loaded by ``source`` (so with a run's content hash)."""
    return load_configured(cfg.source(data_dir))


def _labelled(data: ImageData) -> ImageData:
    k = len(data.classes)
    if k < 2:
        raise ConfigError(
            f"{data.name} has no class labels: an evaluation network needs labelled images"
        )
    for split, y in data.labels.items():
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
            raise ConfigError(f"{data.name}: {split} labels outside 0..{k - 1}")
    return data


def _epoch(
    model: EvalClassifier,
    opt: torch.optim.Optimizer,
    data: ImageData,
    cfg: EvaluatorConfig,
    epoch: int,
    steps: tuple[int, int],
) -> dict[str, float]:
    """One seeded training epoch; ``steps`` = (steps done before it, total steps)."""
    model.train()
    gen = make_generator(cfg.seed, "evaluator", "augment", epoch)
    flips = make_generator(cfg.seed, "evaluator", "flip", epoch)
    torch.manual_seed(derive_seed(cfg.seed, "evaluator", "dropout", epoch))
    images, labels = data.images["train"], data.labels["train"]
    batches = EpochBatches(images, labels, "unit", cfg.batch_size, cfg.seed, epoch)
    step, total = steps
    loss_sum, correct, seen = 0.0, 0, 0
    t0 = time.perf_counter()
    for batch in batches:
        x = augment(batch.x, cfg, gen)
        logits = model(_flip(x, flips) if cfg.hflip else x)
        loss = F.cross_entropy(logits, batch.y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        apply_lr([opt], lr_factor("cosine", step, total))  # the training loop's schedule
        opt.step()
        step += 1
        loss_sum += loss.item() * len(batch)
        correct += int((logits.argmax(1) == batch.y).sum())
        seen += len(batch)
    return {
        "epoch": epoch,
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "val_acc": accuracy(model, data.view("val", "unit"), data.labels["val"]),
        "time_s": time.perf_counter() - t0,
    }


def _fit(
    model: EvalClassifier, data: ImageData, cfg: EvaluatorConfig, log: Callable[[str], None]
) -> tuple[list[dict[str, float]], int]:
    """Train ``model`` in place (left holding the kept weights); ``(history, kept epoch)``."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images, labels = data.images["train"], data.labels["train"]
    per_epoch = len(EpochBatches(images, labels, "unit", cfg.batch_size, cfg.seed, 1))
    total = cfg.epochs * per_epoch
    history: list[dict[str, float]] = []
    best_acc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, cfg.epochs + 1):
        record = _epoch(model, opt, data, cfg, epoch, ((epoch - 1) * per_epoch, total))
        history.append(record)
        log(
            f"epoch {epoch}/{cfg.epochs}  loss {record['train_loss']:.4f}  "
            f"train acc {record['train_acc']:.4f}  val acc {record['val_acc']:.4f}  "
            f"{record['time_s']:.1f}s"
        )
        if record["val_acc"] > best_acc:
            best_acc, best_epoch = record["val_acc"], epoch
            if cfg.keep == "best":
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif cfg.patience is not None and epoch - best_epoch >= cfg.patience:
            log(f"no better validation accuracy for {cfg.patience} epochs: stopping")
            break
    if cfg.keep == "best" and best_state is not None:
        model.load_state_dict(best_state)
        return history, best_epoch
    return history, len(history)


def train_classifier(
    cfg: EvaluatorConfig,
    arch: ClassifierArch | None = None,
    out: str | Path | None = None,
    data_dir: str | None = None,
    log: Callable[[str], None] = print,
    data: ImageData | None = None,
) -> tuple[EvalClassifier, dict[str, Any]]:
    """Train the network on ``data`` (default: ``load_evaluator_data(cfg, data_dir)``);
    returns it and its record (data set and its content hash, shape, classes, accuracies,
    timing, config). ``arch`` defaults to ``ClassifierArch.for_shape`` of the data.

    With ``out``, also writes the weights and ``out.json`` (see ``save_classifier``).
    """
    from genzoo import __version__

    full = _labelled(data if data is not None else load_evaluator_data(cfg, data_dir))
    data = full
    if cfg.limit_train is not None:
        data = data.subset({"train": cfg.limit_train})
    if cfg.limit_eval is not None:
        data = data.subset({"val": cfg.limit_eval, "test": cfg.limit_eval})
    if arch is None:
        mean, std = channel_stats(torch.cat([full.images["train"], full.images["val"]]))
        arch = ClassifierArch.for_shape(full.shape, len(full.classes), mean, std)
    torch.manual_seed(derive_seed(cfg.seed, "evaluator", "init"))
    model = EvalClassifier(arch)
    start = time.perf_counter()
    history, kept = _fit(model, data, cfg, log)
    train_time = time.perf_counter() - start
    model.eval()
    test_acc = accuracy(model, data.view("test", "unit"), data.labels["test"])
    log(f"test accuracy {test_acc:.4f} (epoch {kept} kept)  training time {train_time:.1f}s")
    record = {
        "dataset": full.name,
        "content_hash": full.content_hash(),
        "shape": list(full.shape),
        "classes": list(full.classes),
        "seed": cfg.seed,
        "epochs": len(history),
        "kept_epoch": kept,
        "train_config": asdict(cfg),
        "val_accuracy": history[kept - 1]["val_acc"],
        "test_accuracy": test_acc,
        "train_time_s": train_time,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "genzoo": __version__,
        "reproduce": _command(cfg),
        "history": history,
    }
    if out is not None:
        record = save_classifier(model, out, record)
    return model, record
