"""``genzoo compare RUN... [--format md|csv] [--out FILE]``: one table across families."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="one table of evaluated runs (from RUN/eval.json) with the real-vs-real floor",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders with an eval.json")
    p.add_argument("--format", choices=["md", "csv"], default="md", help="(default: md)")
    p.add_argument("--out", default=None, help="write the table to FILE instead of stdout")
    p.add_argument("--no-floor", action="store_true", help="leave out the real-vs-real floor row")
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (for the floor)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(handler=run)


def _read_eval(run: str) -> dict | None:
    """The run's eval.json; ``None`` (with a line on stderr) when it has not been evaluated."""
    from genzoo.errors import CheckpointError

    path = Path(run) / "eval.json"
    if not Path(run).is_dir():
        raise CheckpointError(f"{run}: no such run folder")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        print(
            f"genzoo: skipping {run}: not evaluated (run `genzoo evaluate {run}`)", file=sys.stderr
        )
        return None
    except ValueError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None


def _floors(evals: list[tuple[str, dict]], data_dir: str | None) -> list[dict]:
    """Real-vs-real floors under the first run's quality protocol, one per reference view."""
    from genzoo.data.datasets import load_dataset
    from genzoo.evaluation.classifier import load_classifier
    from genzoo.evaluation.floor import real_floor
    from genzoo.evaluation.quality import QualityConfig

    protocols = [ev["quality_protocol"] for _, ev in evals if ev.get("quality_protocol")]
    if not protocols:
        return []
    fields = ("samples", "batch_size", "seed", "k", "kid_subsets", "kid_subset_size")
    cfg = QualityConfig(**{k: protocols[0][k] for k in fields if k in protocols[0]})
    dataset = (protocols[0].get("reference") or {}).get("dataset", "mnist")
    views = dict.fromkeys((p.get("reference") or {}).get("view", "unit") for p in protocols)
    classifier, data = load_classifier(), load_dataset(dataset, data_dir)
    return [real_floor(classifier, dataset, cfg, data, view) for view in views]


def run(args: argparse.Namespace) -> int:
    from genzoo.errors import CheckpointError
    from genzoo.evaluation.table import (
        comparison_notes,
        comparison_rows,
        render_csv,
        render_markdown,
    )
    from genzoo.training.runtime import setup_runtime

    read = [(Path(r).name, _read_eval(r)) for r in args.runs]
    evals = [(name, ev) for name, ev in read if ev is not None]
    if not evals:
        raise CheckpointError("none of the runs has an eval.json; run `genzoo evaluate RUN` first")
    floors = []
    if not args.no_floor:
        setup_runtime("cpu", args.threads)
        floors = _floors(evals, args.data_dir)
    rows = comparison_rows(evals, floors)
    notes = comparison_notes(evals, floors)
    text = render_markdown(rows, notes) if args.format == "md" else render_csv(rows, notes)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
