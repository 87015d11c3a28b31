"""Typed, frozen configuration: one dataclass per component, combined into a ``RunConfig``.

Every config round-trips through JSON (``to_dict`` / ``from_dict``) and validates itself in
``__post_init__`` without side effects, raising ``ConfigError`` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from genzoo.errors import ConfigError

__all__ = [
    "TrainConfig",
    "DataConfig",
    "RunConfig",
    "config_to_dict",
    "config_from_dict",
    "field_types",
]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


LRSchedule = Literal["constant", "cosine"]  # see genzoo.training.schedule


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the generic training loop (families give their own defaults)."""

    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: LRSchedule = "constant"  # cosine: to 0 at the last step
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = None  # max gradient norm, None = off
    eval_batch_size: int = 1000
    checkpoint_every: int = 0  # also checkpoint every N steps (0 = only at epoch ends)
    sample_epochs: tuple[int, ...] = ()  # epochs at which families draw figures (0 = untrained)
    limit_train: int | None = None  # use only the first N training images (tiny runs)
    limit_eval: int | None = None  # use only the first N validation/test images
    log_every: int = 50  # steps between lines of the per-step log (0 = off)
    precision: Literal["fp32", "bf16"] = "fp32"

    def __post_init__(self) -> None:
        _require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch-size must be >= 1, got {self.batch_size}")
        _require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        for name, tp in field_types(TrainConfig).items():  # lr_schedule, precision
            if typing.get_origin(tp) is Literal:
                choices = typing.get_args(tp)
                value = getattr(self, name)
                _require(
                    value in choices,
                    f"{name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}",
                )
        _require(all(0 <= b < 1 for b in self.betas), f"betas must lie in [0, 1): {self.betas}")
        _require(self.grad_clip is None or self.grad_clip > 0, "grad-clip must be > 0 (or none)")
        _require(self.eval_batch_size >= 1, "eval-batch-size must be >= 1")
        _require(self.checkpoint_every >= 0, "checkpoint-every must be >= 0")
        _require(all(e >= 0 for e in self.sample_epochs), "sample-epochs must be >= 0")
        for name in ("limit_train", "limit_eval"):
            value = getattr(self, name)
            _require(value is None or value >= 1, f"{name.replace('_', '-')} must be >= 1")
        _require(self.log_every >= 0, "log-every must be >= 0")


@dataclass(frozen=True)
class DataConfig:
    """Which data set, and where to look for it first."""

    dataset: str = "mnist"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        from genzoo.data.sources import get_spec

        get_spec(self.dataset)


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild a run: family, its model config, training and data."""

    family: str
    model: Any  # the family's own frozen config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 0
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "model": config_to_dict(self.model),
            "train": config_to_dict(self.train),
            "data": config_to_dict(self.data),
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        from genzoo.family import get_family

        family = get_family(d["family"])
        return cls(
            family=d["family"],
            model=config_from_dict(family.config_cls, d.get("model", {})),
            train=config_from_dict(TrainConfig, d.get("train", {})),
            data=config_from_dict(DataConfig, d.get("data", {})),
            seed=int(d.get("seed", 0)),
            name=d.get("name"),
        )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(cfg, f.name), tuple) else v for f in fields(cfg)
    }


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type hints of a dataclass's fields."""
    return typing.get_type_hints(cls)


def _coerce(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(inner[0], value)
    if origin is tuple and isinstance(value, list | tuple):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    if tp is float and isinstance(value, int):
        return float(value)
    return value


def config_from_dict(cls: type, d: dict[str, Any]) -> Any:
    """Rebuild config ``cls`` from a dict; unknown keys are an error (no silent typos)."""
    hints = field_types(cls)
    unknown = set(d) - set(hints)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    return cls(**{k: _coerce(hints[k], v) for k, v in d.items()})


def replace(cfg: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` with type coercion of the changed fields."""
    hints = field_types(type(cfg))
    return dataclasses.replace(cfg, **{k: _coerce(hints[k], v) for k, v in changes.items()})
