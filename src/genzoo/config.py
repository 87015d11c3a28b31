"""Typed, frozen configuration: one dataclass per component, combined into a ``RunConfig``.

Every config round-trips through JSON (``to_dict`` / ``from_dict``) and validates itself in
``__post_init__`` without side effects, raising ``ConfigError`` with a one-line message.
Fields are declared with ``opt(default, help, ge=..., lt=...)``: the help becomes the CLI
flag's description and the bounds are checked by ``check_fields``, as are the choices of
``Literal`` fields; ``__post_init__`` adds only the checks that involve several fields.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from genzoo.errors import ConfigError

__all__ = [
    "TrainConfig",
    "DataConfig",
    "RunConfig",
    "config_to_dict",
    "config_from_dict",
    "field_types",
    "opt",
    "check_fields",
    "field_help",
    "check_run_name",
    "check_image_channels",
    "image_size_opt",
    "image_channels_opt",
]

_BOUNDS = ("ge", "gt", "le", "lt")


def opt(
    default: Any,
    help: str,  # noqa: A002 - the argparse name
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A dataclass field with a one-line ``help`` and numeric bounds, checked by ``check_fields``.

    Bounds apply to the value, to each element of a tuple, and never to ``None`` (an optional
    field's "off"). ``ge``/``gt``: lower bound, inclusive/exclusive; ``le``/``lt``: upper.
    """
    bounds = {k: v for k, v in zip(_BOUNDS, (ge, gt, le, lt), strict=True) if v is not None}
    return field(default=default, metadata={"help": help, "bounds": bounds})


def field_help(f: dataclasses.Field) -> str:
    """The one-line help declared with ``opt`` ("" when there is none)."""
    return str(f.metadata.get("help", ""))


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _bound_message(name: str, bounds: dict[str, float], value: Any) -> str:
    low = (
        f"[{_fmt(bounds['ge'])}"
        if "ge" in bounds
        else f"({_fmt(bounds['gt'])}"
        if "gt" in bounds
        else None
    )
    high = (
        f"{_fmt(bounds['le'])}]"
        if "le" in bounds
        else f"{_fmt(bounds['lt'])})"
        if "lt" in bounds
        else None
    )
    if low and high:
        rule = f"lie in {low}, {high}"
    else:
        op = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        rule = " and ".join(f"be {op[k]} {_fmt(v)}" for k, v in bounds.items())
    return f"{name} must {rule}, got {_fmt(value)}"


def _in_bounds(value: Any, bounds: dict[str, float]) -> bool:
    return (
        ("ge" not in bounds or value >= bounds["ge"])
        and ("gt" not in bounds or value > bounds["gt"])
        and ("le" not in bounds or value <= bounds["le"])
        and ("lt" not in bounds or value < bounds["lt"])
    )


def check_fields(cfg: Any) -> None:
    """Validate every field of dataclass ``cfg``: ``Literal`` choices and declared bounds.

    Raises ``ConfigError`` with one line naming the flag, e.g.
    ``alpha must lie in (0, 0.5), got 0``.
    """
    hints = field_types(type(cfg))
    for f in fields(cfg):
        value, name = getattr(cfg, f.name), f.name.replace("_", "-")
        tp = hints[f.name]
        if typing.get_origin(tp) is Literal:
            choices = typing.get_args(tp)
            if value not in choices:
                raise ConfigError(
                    f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}"
                )
        bounds = f.metadata.get("bounds") or {}
        if not bounds or value is None:
            continue
        for v in value if isinstance(value, tuple) else (value,):
            if not _in_bounds(v, bounds):
                raise ConfigError(_bound_message(name, bounds, v))


LRSchedule = Literal["constant", "cosine"]  # see genzoo.training.schedule


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the generic training loop (families give their own defaults)."""

    epochs: int = opt(40, "passes over the training set (0: only the untrained model)", ge=0)
    batch_size: int = opt(128, "training examples per update (global, over all processes)", ge=1)
    lr: float = opt(1e-3, "Adam's base learning rate", gt=0)
    lr_schedule: LRSchedule = opt("constant", "constant, or cosine decay to 0 at the last step")
    betas: tuple[float, float] = opt((0.9, 0.999), "Adam's beta1,beta2, each in [0, 1)", ge=0, lt=1)
    grad_clip: float | None = opt(None, "clip the gradient norm at this value (none: off)", gt=0)
    eval_batch_size: int = opt(1000, "examples per batch in validation and evaluation", ge=1)
    checkpoint_every: int = opt(0, "also checkpoint every N steps (0: only at epoch ends)", ge=0)
    sample_epochs: tuple[int, ...] = opt(
        (), "epochs at which families draw figures (0: untrained)", ge=0
    )
    keep_epochs: tuple[int, ...] = opt(
        (), "also keep these epochs' checkpoints (0: untrained), e.g. for quality over time", ge=0
    )
    limit_train: int | None = opt(None, "train on the first N images only (none: all)", ge=1)
    limit_eval: int | None = opt(None, "validate/test on the first N images only (none: all)", ge=1)
    log_every: int = opt(50, "steps between lines of the per-step log (0: off)", ge=0)
    precision: Literal["fp32", "bf16"] = opt("fp32", "fp32, or bf16 autocast for the networks")

    def __post_init__(self) -> None:
        check_fields(self)


def image_size_opt() -> Any:
    """The ``image_size`` field of every config that loads a data set (``load_dataset``)."""
    return opt(None, "resize the shorter side to S and centre-crop SxS (none: as found)", ge=1)


def image_channels_opt() -> Any:
    """The ``image_channels`` field of every config that loads a data set; its bounds let 2
    through, so ``__post_init__`` calls ``check_image_channels`` too."""
    return opt(None, "convert to 1 (grey) or 3 (RGB) channels (none: as found)", ge=1, le=3)


def check_image_channels(channels: int | None) -> None:
    """``ConfigError`` unless ``channels`` is None (as found), 1 or 3."""
    if channels == 2:
        raise ConfigError("image-channels must be 1 or 3, got 2")


@dataclass(frozen=True)
class DataConfig:
    """Which data set, where to look for it first, and how to size its images."""

    dataset: str = opt(
        "mnist", "a registered name (mnist, fashion-mnist, kmnist, cifar10) or a folder of images"
    )
    data_dir: str | None = opt(None, "look for the data set here first (none: $GENZOO_DATA_DIR)")
    image_size: int | None = image_size_opt()
    # not "channels": the VAE's and the flow's model configs already own --channels
    image_channels: int | None = image_channels_opt()

    def __post_init__(self) -> None:
        from genzoo.data.sources import check_dataset, is_registered

        check_fields(self)
        check_dataset(self.dataset)
        if not is_registered(self.dataset):  # a folder: absolute, so the run finds it again
            object.__setattr__(self, "dataset", str(Path(self.dataset).expanduser().resolve()))
        check_image_channels(self.image_channels)


def check_run_name(name: str) -> str:
    """``name`` when it can name a run folder under the runs folder (``runs/NAME``), else a
    one-line ``ConfigError``: no path separators, not empty, no leading dot (``.``, ``..``,
    hidden folders), no control characters."""
    bad = (
        not isinstance(name, str)
        or not name.strip()
        or name.startswith(".")
        or any(sep in name for sep in ("/", "\\"))
        or any(ord(c) < 32 for c in name)
    )
    if bad:
        raise ConfigError(
            f"run name {name!r} is not a folder name (no '/' or '\\', no leading '.', not "
            "empty); the parent folder is --runs-dir"
        )
    return name


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild a run: family, its model config, training and data."""

    family: str
    model: Any  # the family's own frozen config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 0
    name: str | None = None
    shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) of the data, set from it by training

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or any(int(d) < 1 for d in self.shape):
            raise ConfigError(f"an image shape is (C, H, W) with sizes >= 1, got {self.shape}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "model": config_to_dict(self.model),
            "train": config_to_dict(self.train),
            "data": config_to_dict(self.data),
            "seed": self.seed,
            "name": self.name,
            "shape": list(self.shape),
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
            shape=tuple(int(v) for v in d.get("shape", (1, 28, 28))),  # older runs: MNIST
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
