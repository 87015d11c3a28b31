"""Quality against training time: evaluate the checkpoints a run kept (``--keep-epochs``) and
gather FID, NLL and bits/dim against the training seconds that produced each.

Shared by ``genzoo reproduce`` (its time-to-quality figure) and
``benchmarks/time_to_quality.py``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from genzoo.training.rundir import RunDir

__all__ = [
    "evaluate_kept",
    "quality_over_time",
    "protocol",
    "importance_samples",
    "TIMELINE_METRICS",
]

# (metric key, data views it is shown for, panel title): a binarised -log p(x) and an 8-bit
# one are different quantities, so they never share a panel
TIMELINE_METRICS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("fid", ("binary", "unit", "signed", "uint8"), "FID (genzoo features)"),
    ("nll_nats", ("binary",), "-log p(x), nats (binarised test set)"),
    ("bpd", ("unit", "signed", "uint8"), "bits/dim (8-bit test set)"),
)


def evaluate_kept(
    run_dir: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    samples: int = 2000,
    images: int | None = 1000,
    seed: int = 0,
    sample_options: dict[str, Any] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Evaluate every kept epoch of the run whose ``eval_epoch{E:03d}.json`` is missing or older
    than its checkpoint (``evaluate_run`` with ``checkpoint="epochE"``: the family's metrics on
    the first ``images`` test images, sample quality from ``samples`` samples); returns all
    kept epochs' records, oldest first. ``options``: the family's evaluate options."""
    from genzoo.runs.evaluate import evaluate_run

    folder = RunDir.open(run_dir)
    for epoch in folder.kept_epochs():
        record = folder.path / folder.eval_name(f"epoch{epoch}")
        if record.is_file() and record.stat().st_mtime >= folder.kept(epoch).stat().st_mtime:
            continue
        evaluate_run(
            folder.path, device=device, checkpoint=f"epoch{epoch}", samples=samples,
            images=images, seed=seed, sample_options=sample_options, **options,
        )  # fmt: skip
    return folder.kept_evaluations()


def _points(records: list[dict[str, Any]], key: str, views: tuple[str, ...]) -> tuple[list, list]:
    """``(training minutes, value)`` of the records that have ``key`` in one of ``views``."""
    rows = [
        (r["train_time_s"] / 60, r[key])
        for r in records
        if r.get(key) is not None and r.get("data_view") in views and "train_time_s" in r
    ]
    return [x for x, _ in rows], [y for _, y in rows]


def _label(label: str, records: list[dict[str, Any]], key: str) -> str:
    """``label``, marked `` (bound)`` where its likelihoods are bounds (a diffusion model's)."""
    bound = key in ("bpd", "nll_nats") and any(r.get("bpd_is_bound") for r in records)
    return f"{label} (bound)" if bound else label


def quality_over_time(
    runs: list[tuple[str, str | os.PathLike]],
) -> list[tuple[str, dict[str, tuple[list[float], list[float]]]]]:
    """``(panel title, {run label: (training minutes, values)})`` for each metric of
    ``TIMELINE_METRICS`` that some run's kept evaluations have; ``runs``: ``(label, folder)``.
    A run whose likelihoods are bounds (``bpd_is_bound``) is labelled ``LABEL (bound)`` in the
    likelihood panels."""
    records = {label: RunDir(path).kept_evaluations() for label, path in runs}
    panels = []
    for key, views, title in TIMELINE_METRICS:
        lines = {_label(label, r, key): _points(r, key, views) for label, r in records.items()}
        lines = {label: xy for label, xy in lines.items() if xy[0]}
        if lines:
            panels.append((title, lines))
    return panels


def protocol(runs: list[tuple[str, str | os.PathLike]]) -> str:
    """How the points were measured, e.g. ``2,000 samples``, from the records' protocols."""
    counts = {
        (r.get("quality_protocol") or {}).get("samples")
        for _, path in runs
        for r in RunDir(path).kept_evaluations()
    }
    return ", ".join(f"{n:,} samples" for n in sorted(n for n in counts if n))


def importance_samples(runs: list[tuple[str, str | os.PathLike]]) -> list[int]:
    """The importance samples per image (``k``) of the kept epochs' NLLs, sorted; [] if none."""
    return sorted(
        {int(r["k"]) for _, path in runs for r in RunDir(path).kept_evaluations() if r.get("k")}
    )
