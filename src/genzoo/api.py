"""The Python API: build a run config from keyword overrides, train it, load a trained run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from genzoo.config import DataConfig, RunConfig, TrainConfig, field_types, replace
from genzoo.errors import ConfigError
from genzoo.family import get_family

__all__ = ["make_config", "train", "load"]


def make_config(family: str, seed: int = 0, name: str | None = None, **overrides: Any) -> RunConfig:
    """A ``RunConfig`` for ``family`` with its defaults and ``overrides`` applied by field name.

    >>> cfg = make_config("vae", z_dim=2, epochs=3)
    >>> cfg.model.z_dim, cfg.train.epochs
    (2, 3)
    """
    fam = get_family(family)
    groups: dict[str, dict[str, Any]] = {"model": {}, "train": {}, "data": {}}
    owners = {
        "model": set(field_types(fam.config_cls)),
        "train": set(field_types(TrainConfig)),
        "data": set(field_types(DataConfig)),
    }
    for key, value in overrides.items():
        for group, names in owners.items():
            if key in names:
                groups[group][key] = value
                break
        else:
            raise ConfigError(f"{family}: unknown setting {key!r}")
    model = replace(fam.config_cls(), **groups["model"])
    train_cfg = replace(fam.train_defaults, **groups["train"])
    data = replace(DataConfig(), **groups["data"])
    return RunConfig(family=family, model=model, train=train_cfg, data=data, seed=seed, name=name)


def train(
    config: RunConfig | str,
    run_dir: str | os.PathLike | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    resume: bool = False,
    quiet: bool = True,
    **overrides: Any,
) -> Any:
    """Train a run (``config`` or a family name plus overrides); returns a ``FitResult``."""
    from genzoo.training.loop import fit
    from genzoo.training.runtime import setup_runtime

    cfg = make_config(config, **overrides) if isinstance(config, str) else config
    if overrides and not isinstance(config, str):
        raise ConfigError("pass overrides with a family name, not with a RunConfig")
    dev = setup_runtime(device, threads)
    return fit(cfg, run_dir, resume=resume, device=dev, quiet=quiet)


def load(run_dir: str | os.PathLike, which: str = "best", device: str = "cpu") -> nn.Module:
    """The trained model of a run folder (``best.pt``, else ``last.pt``), in eval mode."""
    from genzoo.runs import load_run

    return load_run(Path(run_dir), which, device).model
