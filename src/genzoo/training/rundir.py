"""Run folders: ``config.json``, ``metrics.jsonl``, ``checkpoints/{last,best}.pt``,
``snapshots/`` (the images a family hands over for its figures) and ``figures/``."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import CheckpointError, ConfigError

__all__ = ["RunDir"]

_SNAPSHOT = re.compile(r"(?P<name>.+)_epoch(?P<epoch>\d+)\.pt")


class RunDir:
    """A run folder on disk. Only rank 0 writes to it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # layout -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def steps_path(self) -> Path:
        return self.path / "steps.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def figures(self) -> Path:
        d = self.path / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    # creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config: dict[str, Any], env: dict[str, Any]) -> RunDir:
        run = cls(path)
        if run.config_path.exists():
            raise ConfigError(
                f"run folder {run.path} already exists; use --resume to continue it or choose "
                "another --name"
            )
        run.path.mkdir(parents=True, exist_ok=True)
        run.checkpoints.mkdir(exist_ok=True)
        run.write_json("config.json", {**config, "env": env, "created": time.time()})
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        run = cls(path)
        if not run.config_path.is_file():
            raise CheckpointError(f"{run.path}: not a genzoo run folder (no config.json)")
        return run

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.config_path}: unreadable ({exc})") from None

    def checkpoint(self, which: str = "best") -> Path:
        """Path of ``best`` (falling back to ``last``) or ``last``; error if neither exists."""
        order = [self.best, self.last] if which == "best" else [self.last]
        for p in order:
            if p.is_file():
                return p
        raise CheckpointError(
            f"{self.path}: no checkpoint yet (looked for {', '.join(map(str, order))})"
        )

    # writing ----------------------------------------------------------------------------
    def write_json(self, name: str, obj: dict[str, Any]) -> Path:
        target = self.path / name
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
        os.replace(tmp, target)
        return target

    def save_snapshot(self, name: str, epoch: int, images: Tensor) -> Path:
        """Keep images ``(N, C, H, W)`` in [0, 1] as uint8 ``snapshots/{name}_epoch{E:03d}.pt``."""
        pixels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        target = self.snapshots / f"{name}_epoch{epoch:03d}.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        torch.save(pixels, tmp)
        os.replace(tmp, target)
        return target

    def snapshot_files(self) -> dict[str, list[tuple[int, Path]]]:
        """Saved snapshots: name -> ``(epoch, file)`` pairs, oldest first."""
        out: dict[str, list[tuple[int, Path]]] = {}
        for f in sorted(self.snapshots.glob("*_epoch*.pt")):
            m = _SNAPSHOT.fullmatch(f.name)
            if m:
                out.setdefault(m["name"], []).append((int(m["epoch"]), f))
        return out

    def append_metrics(self, record: dict[str, Any], steps: bool = False) -> None:
        target = self.steps_path if steps else self.metrics_path
        with open(target, "a") as f:
            f.write(json.dumps(record) + "\n")

    def read_metrics(self, steps: bool = False) -> list[dict[str, Any]]:
        target = self.steps_path if steps else self.metrics_path
        if not target.is_file():
            return []
        out = []
        for line in target.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
        return out

    def truncate_metrics(self, epoch: int, step: int) -> None:
        """Drop records written after the checkpoint being resumed (they will be redone)."""
        for steps, key, limit in ((False, "epoch", epoch), (True, "step", step)):
            records = [r for r in self.read_metrics(steps) if r.get(key, 0) <= limit]
            target = self.steps_path if steps else self.metrics_path
            if target.exists():
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
                os.replace(tmp, target)

    def set_epochs(self, epochs: int) -> int:
        """Change the run's epoch budget in ``config.json`` (``genzoo resume RUN --epochs N``).

        Returns the previous budget. ``epochs`` may not be below the epochs already completed
        (as recorded in ``metrics.jsonl``); the per-epoch seeds do not depend on the budget, so
        an extended run matches one that was given the larger budget from the start.
        """
        config = self.read_config()
        done = max((int(r.get("epoch", 0)) for r in self.read_metrics()), default=0)
        if epochs < done:
            raise ConfigError(f"--epochs {epochs}: {self.path} has already trained {done} epochs")
        before = int(config["train"]["epochs"])
        config["train"]["epochs"] = epochs
        self.write_json("config.json", config)
        return before
