"""The registry of model families, found through the ``genzoo.families`` entry points.

Every family, built-in ones included, is an entry point ``name = "package.module:Class"``;
``register`` adds one in-process (notebooks, tests). Nothing here names a family.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from genzoo.errors import ConfigError
from genzoo.family.interface import Family

__all__ = ["register", "get_family", "family_names", "GROUP"]

GROUP = "genzoo.families"
_REGISTRY: dict[str, Family] = {}


def register(family: Family | type[Family]) -> Family:
    """Add (or replace) a family in this process; returns the instance."""
    instance = family() if isinstance(family, type) else family
    if not isinstance(instance, Family):
        raise ConfigError(f"{family!r} is not a genzoo.family.Family")
    _REGISTRY[instance.name] = instance
    return instance


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def family_names() -> list[str]:
    """Names of every known family: entry points first, then in-process registrations."""
    return list(dict.fromkeys([*_entry_points(), *_REGISTRY]))


def get_family(name: str) -> Family:
    """The family called ``name``, loading its entry point on first use."""
    if name not in _REGISTRY:
        ep = _entry_points().get(name)
        if ep is None:
            raise ConfigError(
                f"unknown model family {name!r}; choose one of {', '.join(family_names())}"
            )
        family = register(ep.load())
        if family.name != name:
            raise ConfigError(f"entry point {name!r} loads a family named {family.name!r}")
    return _REGISTRY[name]
