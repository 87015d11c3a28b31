"""Preset files of ``genzoo reproduce``: a ``Preset`` from JSON, every key checked against
the fields of ``Preset``, ``Stage`` and ``Section`` (unknown keys are refused)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError
from genzoo.reproduce.presets import Preset, Section, Stage

__all__ = ["load_preset", "preset_from_dict", "preset_to_json"]


def _fields(cls: type, given: dict[str, Any], where: str) -> dict[str, Any]:
    """``given`` checked against the dataclass fields of ``cls``: no unknown, none missing."""
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: expected an object, got {type(given).__name__}")
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(names)}"
        )
    missing = [
        n for n, f in names.items()
        if n not in given and f.default is MISSING and f.default_factory is MISSING
    ]  # fmt: skip
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    return dict(given)


def _tuples(value: Any) -> Any:
    """JSON lists as tuples (configs hold tuples, e.g. ``sample_epochs``)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _stage(d: Any, where: str) -> Stage:
    d = _fields(Stage, {"label": d.get("key", ""), **d} if isinstance(d, dict) else d, where)
    d["overrides"] = {k: _tuples(v) for k, v in d.get("overrides", {}).items()}
    d["figures"] = tuple(d.get("figures", ()))
    return Stage(**d)


def _section(d: Any, where: str) -> Section:
    d = _fields(Section, d, where)
    return Section(d["title"], tuple(d["stages"]), tuple(d.get("extras", ())))


def preset_from_dict(d: dict[str, Any], where: str = "preset") -> Preset:
    """A ``Preset`` from plain data (the format of a preset file, see ``load_preset``)."""
    d = _fields(Preset, {"description": "", **d}, where)
    stages = tuple(_stage(s, f"{where}: stages[{i}]") for i, s in enumerate(d["stages"] or ()))
    if not stages:
        raise ConfigError(f"{where}: a preset needs at least one stage")
    keys = [s.key for s in stages]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{where}: stage keys must be unique, got {', '.join(keys)}")
    sections = d.pop("sections", None) or ()
    return Preset(
        **{**d, "stages": stages},
        sections=tuple(_section(s, f"{where}: sections[{i}]") for i, s in enumerate(sections)),
    )


def load_preset(path: str | Path) -> Preset:
    """A preset from a JSON file::

        {"name": "mine", "description": "one line",
         "stages": [{"key": "vae-small", "family": "vae", "label": "VAE, z=8",
                     "overrides": {"z_dim": 8, "epochs": 5, "sample_epochs": [0, 5]},
                     "evaluate": {"k": 100}, "figures": ["curves", "samples"]}],
         "sections": [{"title": "VAEs", "stages": ["vae-small"], "extras": ["estimators"]}],
         "quality_samples": 1000, "data_limits": {"limit_train": 5000, "limit_eval": 1000}}

    Required: ``name`` and ``stages`` (each with ``key`` and ``family``); everything else as in
    ``Preset``, ``Stage`` and ``Section``. Unknown keys are refused.
    """
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"preset file {path}: unreadable ({exc})") from None
    return preset_from_dict(d, f"preset file {path}")


def preset_to_json(preset: Preset) -> str:
    """``preset`` as a preset file's text (tuples as lists), e.g. to start one's own from a
    built-in preset; ``preset_from_dict(json.loads(text))`` gives ``preset`` back."""
    return json.dumps(dataclasses.asdict(preset), indent=1)
