"""The Python API: build a run config from keyword overrides, train it, load a trained run.

Re-exported lazily by ``genzoo`` with ``load_run``, ``compare``, ``get_family`` and
``family_names``; the README's "Python API" section is the tour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from genzoo.config import (
    DataConfig,
    RunConfig,
    TrainConfig,
    check_run_name,
    field_types,
    replace,
)
from genzoo.errors import ConfigError
from genzoo.family import get_family

if TYPE_CHECKING:
    from genzoo.runs import Run
    from genzoo.training.loop import FitResult

__all__ = ["make_config", "train", "load"]


def make_config(family: str, seed: int = 0, name: str | None = None, **overrides: Any) -> RunConfig:
    """A ``RunConfig`` for ``family`` with its defaults and ``overrides`` applied by field name.

    >>> cfg = make_config("vae", z_dim=2, epochs=3)
    >>> cfg.model.z_dim, cfg.train.epochs
    (2, 3)
    """
    fam = get_family(family)
    if name is not None:
        check_run_name(name)  # it becomes a folder under the runs folder: never a path
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
    train_cfg = replace(fam.train_defaults_for(model), **groups["train"])
    data = replace(DataConfig(), **groups["data"])
    return RunConfig(family=family, model=model, train=train_cfg, data=data, seed=seed, name=name)


def train(
    family_or_config: RunConfig | str,
    run_dir: str | os.PathLike | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    resume: bool = False,
    quiet: bool = True,
    **overrides: Any,
) -> Run | FitResult:
    """Train a run: a family name plus ``overrides`` (any field of the model, train or data
    config, or ``seed``/``name``; see ``make_config``), or a ``RunConfig``.

    With ``run_dir``: trains into that folder (``resume=True`` continues its ``last.pt``) and
    returns the trained ``Run``, loaded from its best checkpoint onto the training device,
    ready to ``sample``, ``evaluate`` and ``compare``. Without: trains in memory and returns
    the ``FitResult`` (model, step, per-epoch history).

    ``device``: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ...; ``threads``:
    CPU threads (the process-wide ``torch.set_num_threads``).

    >>> run = train("vae", "runs/vae-tiny", epochs=1, limit_train=300)  # doctest: +SKIP
    >>> run.sample(16).shape  # doctest: +SKIP
    torch.Size([16, 1, 28, 28])
    """
    from genzoo.runs import load_run
    from genzoo.training.loop import fit
    from genzoo.training.runtime import setup_runtime

    if overrides and not isinstance(family_or_config, str):
        raise ConfigError("pass overrides with a family name, not with a RunConfig")
    if isinstance(family_or_config, str):
        cfg = make_config(family_or_config, **overrides)
    else:
        cfg = family_or_config
    dev = setup_runtime(device, threads)
    result = fit(cfg, run_dir, resume=resume, device=dev, quiet=quiet)
    if run_dir is None:
        return result
    return load_run(run_dir, "best", dev)


def load(run_dir: str | os.PathLike, which: str = "best", device: str = "cpu") -> nn.Module:
    """The trained model of a run folder (``best.pt``, else ``last.pt``), in eval mode."""
    from genzoo.runs import load_run

    return load_run(Path(run_dir), which, device).model
