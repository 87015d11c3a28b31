"""Training of the evaluation network (``genzoo evaluator train``), deterministic from its seed.

Adam with a cosine learning-rate decay on genzoo's MNIST ``train`` split (the first 50,000
training images), with light random affine augmentation (small rotations, scalings and shifts,
drawn from a seeded generator). The ``val`` split picks nothing: it is only reported, as is the
test accuracy. On CPU the result is bit-identical for the same seed, thread count and torch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.data import EpochBatches, load_dataset
from genzoo.errors import ConfigError
from genzoo.evaluation.classifier import ClassifierArch, MnistClassifier, save_classifier
from genzoo.seeding import derive_seed, make_generator
from genzoo.training.schedule import apply_lr, lr_factor

__all__ = ["EvaluatorConfig", "augment", "accuracy", "train_classifier"]


@dataclass(frozen=True)
class EvaluatorConfig:
    """How the evaluation network is trained."""

    dataset: str = "mnist"
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4  # decoupled (AdamW)
    max_rotation_deg: float = 10.0
    max_scale: float = 0.1  # scale drawn from [1 - s, 1 + s]
    max_shift_px: float = 2.0
    seed: int = 0
    limit_train: int | None = None  # first N training images (tests)
    limit_eval: int | None = None  # first N validation/test images (tests)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("evaluator: epochs and batch size must be >= 1 and lr > 0")


def augment(x: Tensor, cfg: EvaluatorConfig, generator: torch.Generator) -> Tensor:
    """Random affine copies of ``x`` ``(B, 1, H, W)``: rotation, isotropic scale and shift."""
    b, _, h, _ = x.shape
    u = torch.rand(b, 4, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1  # [-1, 1)
    angle = u[:, 0] * math.radians(cfg.max_rotation_deg)
    scale = 1 + u[:, 1] * cfg.max_scale
    shift = u[:, 2:] * (2 * cfg.max_shift_px / h)  # in normalised [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def accuracy(model: MnistClassifier, images: Tensor, labels: Tensor) -> float:
    """Share of correct predictions on ``images`` ``(N, 1, 28, 28)`` in [0, 1]."""
    return float((model.predict(images) == labels).double().mean())


def _command(cfg: EvaluatorConfig) -> str:
    """The ``genzoo evaluator train`` command line that repeats this training."""
    flags = [
        f"--{f.name.replace('_', '-')} {getattr(cfg, f.name)}"
        for f in fields(cfg)
        if getattr(cfg, f.name) != f.default
    ]
    return " ".join(["genzoo evaluator train", *flags, f"--threads {torch.get_num_threads()}"])


def train_classifier(
    cfg: EvaluatorConfig,
    arch: ClassifierArch | None = None,
    out: str | Path | None = None,
    data_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> tuple[MnistClassifier, dict[str, Any]]:
    """Train the network; returns it and its record (accuracies, timing, config).

    With ``out``, also writes the weights and ``out.json`` (see ``save_classifier``).
    """
    data = load_dataset(cfg.dataset, data_dir)
    if cfg.limit_train is not None:
        data = data.subset({"train": cfg.limit_train})
    if cfg.limit_eval is not None:
        data = data.subset({"val": cfg.limit_eval, "test": cfg.limit_eval})
    torch.manual_seed(derive_seed(cfg.seed, "evaluator", "init"))
    model = MnistClassifier(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images, labels = data.images["train"], data.labels["train"]
    steps_per_epoch = len(EpochBatches(images, labels, "unit", cfg.batch_size, cfg.seed, 1))
    total = cfg.epochs * steps_per_epoch
    step = 0
    x_val, y_val = data.view("val", "unit"), data.labels["val"]
    history = []
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        gen = make_generator(cfg.seed, "evaluator", "augment", epoch)
        torch.manual_seed(derive_seed(cfg.seed, "evaluator", "dropout", epoch))
        batches = EpochBatches(images, labels, "unit", cfg.batch_size, cfg.seed, epoch)
        loss_sum, correct, seen = 0.0, 0, 0
        t0 = time.perf_counter()
        for batch in batches:
            logits = model(augment(batch.x, cfg, gen))
            loss = F.cross_entropy(logits, batch.y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            apply_lr([opt], lr_factor("cosine", step, total))  # the training loop's schedule
            opt.step()
            step += 1
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(1) == batch.y).sum())
            seen += len(batch)
        val_acc = accuracy(model, x_val, y_val)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum / seen,
            "train_acc": correct / seen,
            "val_acc": val_acc,
            "time_s": time.perf_counter() - t0,
        }
        history.append(record)
        log(
            f"epoch {epoch}/{cfg.epochs}  loss {record['train_loss']:.4f}  "
            f"train acc {record['train_acc']:.4f}  val acc {val_acc:.4f}  {record['time_s']:.1f}s"
        )
    train_time = time.perf_counter() - start
    model.eval()
    test_acc = accuracy(model, data.view("test", "unit"), data.labels["test"])
    log(f"test accuracy {test_acc:.4f}  training time {train_time:.1f}s")
    record = {
        "dataset": cfg.dataset,
        "train_config": asdict(cfg),
        "val_accuracy": history[-1]["val_acc"],
        "test_accuracy": test_acc,
        "train_time_s": train_time,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "reproduce": _command(cfg),
        "history": history,
    }
    if out is not None:
        record = save_classifier(model, out, record)
    return model, record
