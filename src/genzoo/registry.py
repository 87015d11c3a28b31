"""The registry of model families: ``name -> Family`` (config class, builder, step, extras).

Built-in families live in ``genzoo.models.<name>`` and are imported lazily the first time they
are asked for; other packages add theirs with ``register`` or the ``genzoo.families`` entry
point group. Nothing here branches on a family's name.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from genzoo.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from genzoo.config import TrainConfig

__all__ = ["Family", "register", "get_family", "family_names"]


@dataclass(frozen=True)
class Family:
    """What a model family supplies to the generic machinery.

    - ``config_cls``: its frozen model-config dataclass (fields become CLI flags).
    - ``build(cfg) -> nn.Module``: a fresh model.
    - ``make_step(model, cfg, train_cfg) -> Step``: its training step (owns the optimizers).
    - ``data_view(cfg) -> str``: which data view it trains on (see ``genzoo.data.views``).
    - ``train_defaults``: the family's default ``TrainConfig``.
    - ``sample(model, n, generator, **options) -> (n, C, H, W)`` images in [0, 1], or None.
    - ``evaluate(model, cfg, data, options) -> dict``: test metrics, or None for the generic
      evaluation (the step's validation terms on the test split).
    - ``cli_options``: extra ``(flag, kwargs)`` options for ``sample``/``evaluate``.
    """

    name: str
    description: str
    config_cls: type
    build: Callable[[Any], nn.Module]
    make_step: Callable[..., Any]
    data_view: Callable[[Any], str]
    train_defaults: TrainConfig
    sample: Callable[..., Any] | None = None
    evaluate: Callable[..., dict[str, Any]] | None = None
    encode: Callable[..., Any] | None = None  # x -> latent, for interpolation
    decode: Callable[..., Any] | None = None  # latent -> images in [0, 1]
    latent_dim: Callable[[Any], int] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


_BUILTIN = {
    "vae": "genzoo.models.vae.family",
    "gan": "genzoo.models.gan.family",
    "flow": "genzoo.models.flow.family",
}
_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add (or replace) a family; returns it, so it can be used as ``FAMILY = register(...)``."""
    _REGISTRY[family.name] = family
    return family


def _plugin_modules() -> dict[str, str]:
    try:
        return {ep.name: ep.value for ep in entry_points(group="genzoo.families")}
    except Exception:  # noqa: BLE001 - broken metadata must not break the built-ins
        return {}


def family_names() -> list[str]:
    """Names of every known family (built-in, plugin and registered)."""
    names = dict.fromkeys([*_BUILTIN, *_plugin_modules(), *_REGISTRY])
    return [n for n in names if _available(n)]


def _available(name: str) -> bool:
    module = {**_BUILTIN, **_plugin_modules()}.get(name)
    if name in _REGISTRY or module is None:
        return name in _REGISTRY
    return importlib.util.find_spec(module.split(":")[0]) is not None


def get_family(name: str) -> Family:
    """The family called ``name``, importing its module on first use."""
    if name not in _REGISTRY:
        module = {**_BUILTIN, **_plugin_modules()}.get(name)
        if module is not None:
            try:
                mod = importlib.import_module(module.split(":")[0])
            except ModuleNotFoundError:
                mod = None
            if mod is not None and name not in _REGISTRY and hasattr(mod, "FAMILY"):
                register(mod.FAMILY)
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown model family {name!r}; choose one of {', '.join(family_names())}"
        )
    return _REGISTRY[name]
