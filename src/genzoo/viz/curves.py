"""Per-epoch curves from a run's ``metrics.jsonl`` records (plain dicts, no model code)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["epoch_curves"]


def epoch_curves(
    records: Iterable[dict[str, Any]],
    metric: str = "loss",
    splits: tuple[str, ...] = ("train", "val"),
) -> dict[str, tuple[list[float], list[float]]]:
    """``{split: (epochs, values)}`` of ``metric`` for each split that has it.

    A resumed run may hold an epoch twice; the last record of an epoch wins.
    """
    out: dict[str, dict[int, float]] = {s: {} for s in splits}
    for r in records:
        split = r.get("split")
        if split in out and metric in r and "epoch" in r:
            out[split][int(r["epoch"])] = float(r[metric])
    return {s: (sorted(v), [v[e] for e in sorted(v)]) for s, v in out.items() if v}
