"""Compare evaluated runs across families: their ``eval.json`` records, the real-vs-real
floor under the same quality protocol, and the rows and notes of one table.

Used by ``genzoo compare``, ``genzoo.compare`` and ``genzoo reproduce``. The table itself
(rows, notes, markdown, CSV) is pure formatting in ``genzoo.evaluation.table``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import CheckpointError, GenzooError
from genzoo.runs.run import Run

__all__ = [
    "Comparison",
    "NotEvaluatedWarning",
    "compare",
    "comparison",
    "floors_for",
    "read_eval",
]

# the QualityConfig fields an eval.json's quality_protocol records
_PROTOCOL_FIELDS = ("samples", "batch_size", "seed", "k", "kid_subsets", "kid_subset_size")


class NotEvaluatedWarning(UserWarning):
    """A run without ``eval.json`` was left out of a comparison."""


def read_eval(run: Run | str | os.PathLike) -> dict[str, Any] | None:
    """The run's ``eval.json`` record; ``None``, with a warning, when it has not been evaluated.

    A missing run folder or an unreadable ``eval.json`` is a ``CheckpointError``.
    """
    folder = run.path if isinstance(run, Run) else Path(run)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such run folder")
    path = folder / "eval.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        warnings.warn(
            f"skipping {folder}: not evaluated (run `genzoo evaluate {folder}`)",
            NotEvaluatedWarning,
            stacklevel=2,
        )
        return None
    except ValueError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None


def _source_key(protocol: dict[str, Any]) -> tuple:
    """Which data a quality protocol measured against, and under which sampling settings."""
    ref = protocol.get("reference") or {}
    source = (ref.get("dataset", "mnist"), ref.get("image_size"), ref.get("image_channels"))
    return source + tuple(protocol.get(k) for k in _PROTOCOL_FIELDS)


def floors_for(
    evals: Iterable[dict[str, Any]],
    data_dir: str | os.PathLike | None = None,
    *,
    views: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """Real-vs-real floors (``evaluation.floor.real_floor``) for the records in ``evals``: for
    each data set (and quality protocol) the records were measured on, one floor per reference
    view of those records, or per view in ``views``. ``[]`` when no record has sample-quality
    metrics. The data set is loaded as the records' ``reference`` says (name, ``image_size``,
    ``image_channels``; records made before the sizes were recorded: as found). A floor uses
    the evaluation network that ``evaluate`` uses for that data (``load_evaluator``: keyed by
    the data's content hash), so a record made with another network gets the table's warning.
    When the records span several data sets (or sizes of one), each floor's name ends with its
    data's (``evaluation.table.source_label``).
    """
    from genzoo.evaluation.table import source_label

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for ev in evals:
        if ev.get("quality_protocol"):
            groups.setdefault(_source_key(ev["quality_protocol"]), []).append(
                ev["quality_protocol"]
            )
    sources = {key[:3] for key in groups}
    floors = []
    for protocols in groups.values():
        group_views = views or list(
            dict.fromkeys((p.get("reference") or {}).get("view", "unit") for p in protocols)
        )
        made = _floors(protocols[0], group_views, data_dir, device)
        if len(sources) > 1:
            label = source_label(protocols[0].get("reference") or {})
            for floor in made:
                floor["name"] = f"{floor['name']}, {label}"
        floors += made
    return floors


def _floors(
    protocol: dict[str, Any],
    views: Sequence[str],
    data_dir: str | os.PathLike | None,
    device: torch.device | str,
) -> list[dict[str, Any]]:
    """The floors of one data set under ``protocol`` (an eval.json's ``quality_protocol``)."""
    from genzoo.config import DataConfig
    from genzoo.data.datasets import load_configured
    from genzoo.evaluation.evaluators import load_evaluator
    from genzoo.evaluation.floor import real_floor
    from genzoo.evaluation.quality import QualityConfig

    cfg = QualityConfig(**{k: protocol[k] for k in _PROTOCOL_FIELDS if k in protocol})
    reference = protocol.get("reference") or {}
    source = DataConfig(
        dataset=reference.get("dataset", "mnist"),
        data_dir=None if data_dir is None else str(data_dir),
        image_size=reference.get("image_size"),
        image_channels=reference.get("image_channels"),
    )
    data = load_configured(source)  # all of it
    try:
        classifier = load_evaluator(data, device, source)  # as evaluate
    except GenzooError as exc:
        warnings.warn(f"no real-vs-real floor for {source.dataset}: {exc}", stacklevel=3)
        return []
    return [real_floor(classifier, source.dataset, cfg, data, view) for view in views]


@dataclass(frozen=True)
class Comparison:
    """The rows of the comparison table (runs, then floors) and the notes on reading them."""

    rows: list[dict[str, Any]]
    notes: list[str]

    def markdown(self) -> str:
        from genzoo.evaluation.table import render_markdown

        return render_markdown(self.rows, self.notes)

    def csv(self) -> str:
        from genzoo.evaluation.table import render_csv

        return render_csv(self.rows, self.notes)


def comparison(
    runs: Iterable[Run | str | os.PathLike],
    *,
    floor: bool = True,
    data_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> Comparison:
    """The comparison table of evaluated ``runs`` (``Run`` objects or run folders), each named by
    its folder; runs without ``eval.json`` are skipped with a warning. ``floor``: add the
    real-vs-real floor row(s) (``floors_for``; reads the data set from ``data_dir``).
    """
    from genzoo.evaluation.table import comparison_notes, comparison_rows

    evals = []
    for run in runs:
        record = read_eval(run)
        if record is not None:
            evals.append(((run.path if isinstance(run, Run) else Path(run)).name, record))
    if not evals:
        raise CheckpointError("none of the runs has an eval.json; run `genzoo evaluate RUN` first")
    floors = floors_for([ev for _, ev in evals], data_dir, device=device) if floor else []
    return Comparison(comparison_rows(evals, floors), comparison_notes(evals, floors))


def compare(
    runs: Iterable[Run | str | os.PathLike],
    *,
    floor: bool = True,
    data_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """One row (a dict keyed as ``evaluation.table.COLUMNS``, plus ``kid_std``) per evaluated
    run, then one per real-vs-real floor; see ``comparison`` for the table with its notes.

    >>> rows = compare(["runs/vae", "runs/gan"])  # doctest: +SKIP
    >>> [(r["name"], r["fid"]) for r in rows]  # doctest: +SKIP
    """
    return comparison(runs, floor=floor, data_dir=data_dir, device=device).rows
