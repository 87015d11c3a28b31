"""Run folders: ``config.json``, ``metrics.jsonl`` (per-epoch results, identical on reruns),
``timings.jsonl`` (per-epoch wall-clock times), ``steps.jsonl``, ``checkpoints/{last,best}.pt``
(and ``epoch{E:03d}.pt`` for the epochs ``--keep-epochs`` keeps), ``eval.json`` (and
``eval_epoch{E:03d}.json`` for kept epochs),
``snapshots/`` (the images a family hands over for its figures), ``figures/`` and ``.lock``
(whoever writes the folder: ``genzoo.training.runlock``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import CheckpointError, ConfigError
from genzoo.files import TMP_MARK, atomic_write, atomic_write_text
from genzoo.training.runlock import pid_alive, run_lock

__all__ = ["RunDir", "TIMING_KEYS", "checkpoint_name"]

_SNAPSHOT = re.compile(r"(?P<name>.+)_epoch(?P<epoch>\d+)\.pt")
_KEPT = re.compile(r"epoch(?P<epoch>\d+)")  # a kept epoch's checkpoint name: epoch12, epoch012
_TEMPORARY = re.compile(r"\..+" + re.escape(TMP_MARK) + r"(?P<pid>\d+)")
# wall-clock fields: in ``timings.jsonl``; older runs have them in ``metrics.jsonl``'s train records
TIMING_KEYS = ("time_s", "examples_per_s")


def checkpoint_name(which: str) -> str:
    """``which`` when it names a checkpoint (``best``, ``last`` or a kept ``epochE``), else
    ``ConfigError``."""
    if which in ("best", "last") or _KEPT.fullmatch(which):
        return which
    raise ConfigError(f"checkpoint {which!r}: expected best, last or epochE (e.g. epoch5)")


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
    def timings_path(self) -> Path:
        return self.path / "timings.jsonl"

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

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """This folder's write lock (``genzoo.training.runlock.run_lock``), for a ``with``."""
        return run_lock(self.path)

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.config_path}: unreadable ({exc})") from None

    def kept(self, epoch: int) -> Path:
        """The checkpoint kept at the end of ``epoch`` (``TrainConfig.keep_epochs``)."""
        return self.checkpoints / f"epoch{epoch:03d}.pt"

    def kept_epochs(self) -> list[int]:
        """Epochs whose checkpoints were kept, in order."""
        found = (_KEPT.fullmatch(p.stem) for p in self.checkpoints.glob("epoch*.pt"))
        return sorted(int(m["epoch"]) for m in found if m)

    def checkpoint(self, which: str = "best") -> Path:
        """Path of ``best`` (falling back to ``last``), ``last`` or a kept epoch (``epochE``);
        error if there is none."""
        kept = _KEPT.fullmatch(checkpoint_name(which))
        if kept:
            order = [self.kept(int(kept["epoch"]))]
        else:
            order = [self.best, self.last] if which == "best" else [self.last]
        for p in order:
            if p.is_file():
                return p
        what = "that epoch was not kept" if kept else "no checkpoint yet"
        raise CheckpointError(f"{self.path}: {what} (looked for {', '.join(map(str, order))})")

    @staticmethod
    def eval_name(which: str = "best") -> str:
        """The evaluation record of checkpoint ``which``: ``eval.json`` for best and last (the
        run's result), ``eval_epoch{E:03d}.json`` for a kept epoch."""
        kept = _KEPT.fullmatch(which)
        return f"eval_epoch{int(kept['epoch']):03d}.json" if kept else "eval.json"

    def kept_evaluations(self) -> list[dict[str, Any]]:
        """The records of the kept epochs evaluated so far, oldest epoch first."""
        out = []
        for epoch in self.kept_epochs():
            path = self.path / self.eval_name(f"epoch{epoch}")
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads(path.read_text()))
        return out

    def train_seconds(self, epochs: int | None = None) -> float:
        """Training seconds of the first ``epochs`` epochs (all when None), from the timings."""
        times = self.read_timings()
        return sum(r.get("time_s", 0.0) for r in times if epochs is None or r["epoch"] <= epochs)

    # writing ----------------------------------------------------------------------------
    def write_json(self, name: str, obj: dict[str, Any]) -> Path:
        return atomic_write_text(self.path / name, json.dumps(obj, indent=2, default=str) + "\n")

    def save_snapshot(self, name: str, epoch: int, images: Tensor) -> Path:
        """Keep images ``(N, C, H, W)`` in [0, 1] as uint8 ``snapshots/{name}_epoch{E:03d}.pt``."""
        pixels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        return atomic_write(
            self.snapshots / f"{name}_epoch{epoch:03d}.pt", lambda f: torch.save(pixels, f)
        )

    def snapshot_files(self) -> dict[str, list[tuple[int, Path]]]:
        """Saved snapshots: name -> ``(epoch, file)`` pairs, oldest first."""
        out: dict[str, list[tuple[int, Path]]] = {}
        for f in sorted(self.snapshots.glob("*_epoch*.pt")):
            m = _SNAPSHOT.fullmatch(f.name)
            if m:
                out.setdefault(m["name"], []).append((int(m["epoch"]), f))
        return out

    def _records_path(self, kind: str) -> Path:
        paths = {"metrics": self.metrics_path, "steps": self.steps_path}
        return paths.get(kind, self.timings_path)

    def append_metrics(
        self, record: dict[str, Any] | list[dict[str, Any]], steps: bool = False
    ) -> None:
        """Append one record or several (one write) to ``metrics.jsonl`` (or ``steps.jsonl``)."""
        self.append_records("steps" if steps else "metrics", record)

    def append_records(self, kind: str, records: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Append to ``metrics``, ``steps`` or ``timings`` ``.jsonl`` in one write, so that a
        stop between two records of one epoch cannot happen."""
        records = [records] if isinstance(records, dict) else records
        with open(self._records_path(kind), "a") as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))

    def _read_records(self, kind: str) -> list[dict[str, Any]]:
        target = self._records_path(kind)
        if not target.is_file():
            return []
        out = []
        for line in target.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
        return out

    def read_metrics(self, steps: bool = False) -> list[dict[str, Any]]:
        """Per-epoch records (or per-step ones); wall-clock fields of older runs left out."""
        records = self._read_records("steps" if steps else "metrics")
        if steps:
            return records
        return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]

    def read_timings(self) -> list[dict[str, Any]]:
        """Per-epoch ``{"epoch", "time_s", "examples_per_s"}``, oldest first: ``timings.jsonl``,
        plus the train records of ``metrics.jsonl`` that hold them (runs written before
        ``timings.jsonl`` existed, and their epochs before a resume by a newer genzoo)."""
        by_epoch = {
            r.get("epoch"): {"epoch": r.get("epoch"), **{k: r[k] for k in TIMING_KEYS if k in r}}
            for r in self._read_records("metrics")
            if r.get("split") == "train" and "time_s" in r
        }
        by_epoch.update({r.get("epoch"): r for r in self._read_records("timings")})
        return [by_epoch[e] for e in sorted(by_epoch, key=lambda e: e or 0)]

    def truncate_metrics(self, epoch: int, step: int) -> None:
        """Drop records written after the checkpoint being resumed (they will be redone), and
        any line cut short by a crash."""
        for kind, key, limit in (("metrics", "epoch", epoch), ("timings", "epoch", epoch),
                                 ("steps", "step", step)):  # fmt: skip
            target = self._records_path(kind)
            if target.exists():
                records = [r for r in self._read_records(kind) if r.get(key, 0) <= limit]
                atomic_write_text(target, "".join(json.dumps(r) + "\n" for r in records))

    def remove_temporaries(self) -> list[Path]:
        """Delete temporary files (``.NAME.tmpPID``) left by writers that were killed (their
        process is gone); returns them. Call while holding the folder's lock."""
        gone = []
        for folder in (self.path, self.checkpoints, self.snapshots, self.path / "figures"):
            for f in folder.glob(f".*{TMP_MARK}*") if folder.is_dir() else ():
                m = _TEMPORARY.fullmatch(f.name)
                if m and not pid_alive(int(m["pid"])):
                    f.unlink(missing_ok=True)
                    gone.append(f)
        return gone

    def set_epochs(self, epochs: int) -> int:
        """Change the run's epoch budget in ``config.json`` (``genzoo resume RUN --epochs N``).

        Returns the previous budget. ``epochs`` may not be below the epochs already completed
        (as recorded in ``metrics.jsonl``); the per-epoch seeds do not depend on the budget, so
        an extended run matches one that was given the larger budget from the start.
        """
        with self.lock():
            config = self.read_config()
            done = max((int(r.get("epoch", 0)) for r in self.read_metrics()), default=0)
            if epochs < done:
                raise ConfigError(
                    f"--epochs {epochs}: {self.path} has already trained {done} epochs"
                )
            before = int(config["train"]["epochs"])
            config["train"]["epochs"] = epochs
            self.write_json("config.json", config)
        return before
