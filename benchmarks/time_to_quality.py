"""Quality against training seconds of trained runs, from the checkpoints they kept.

Train with ``--keep-epochs`` (e.g. ``genzoo train gan --arch dcgan --epochs 8 --keep-epochs
1,2,4,8``), then

    python benchmarks/time_to_quality.py RUNS/dcgan --baseline RUNS/gan-mlp --out ttq.png
    python benchmarks/time_to_quality.py RUNS/vae-conv --option k=500 --threads 2

Evaluates every kept checkpoint not yet evaluated (``genzoo.runs.timeline.evaluate_kept``:
FID from ``--samples`` samples, likelihoods on the first ``--images`` test images; each record
is ``RUN/eval_epoch{E:03d}.json``), prints a row per checkpoint (epoch, training minutes, FID,
NLL, bits/dim), draws the figure with ``--out``, and with ``--baseline`` prints, per metric the
two share, the training minutes each needed to reach the baseline's best value and their
ratio (the baseline measured by the same protocol on this machine, so the ratio is what
carries over to another machine, not the minutes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from genzoo.runs.timeline import evaluate_kept, quality_over_time
from genzoo.training.runtime import setup_runtime


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _family_options(run: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``options`` the family of ``run`` declares among its evaluate options."""
    from genzoo.family import get_family
    from genzoo.training.rundir import RunDir

    family = get_family(RunDir.open(run).read_config()["family"])
    declared = {o.name for o in family.evaluate_options}
    return {k: v for k, v in options.items() if k in declared}


def _table(name: str, records: list[dict[str, Any]]) -> None:
    print(f"\n{name}")
    print(f"{'epoch':>5} {'minutes':>8} {'FID':>9} {'NLL nats':>9} {'bits/dim':>9}")
    for r in records:
        cells = [r.get("fid"), r.get("nll_nats"), r.get("bpd")]
        shown = " ".join(f"{c:9.4g}" if c is not None else f"{'-':>9}" for c in cells)
        print(f"{r['checkpoint_epoch']:5d} {r['train_time_s'] / 60:8.1f} {shown}")


def _minutes_to(points: tuple[list[float], list[float]], target: float) -> float | None:
    """The first training minute at which a run's value is at or below ``target``."""
    return next((x for x, y in zip(*points, strict=True) if y <= target), None)


def _versus(baseline: str, runs: list[str]) -> None:
    """For each metric a run shares with the baseline: minutes to the baseline's best value."""
    labels = [baseline, *runs]
    panels = quality_over_time([(label, label) for label in labels])
    print(f"\nagainst {baseline} (minutes of training to reach its best value; ratio run/base)")
    for title, lines in panels:
        lines = {label.removesuffix(" (bound)"): xy for label, xy in lines.items()}
        if baseline not in lines:
            continue
        target = min(lines[baseline][1])
        base_min = _minutes_to(lines[baseline], target)
        for run in runs:
            if run not in lines:
                continue
            mins = _minutes_to(lines[run], target)
            if mins is None:
                best = min(lines[run][1])
                print(f"  {title}: {run} never reached {target:.4g} (its best {best:.4g})")
            else:
                ratio = mins / base_min if base_min else float("inf")
                print(f"  {title} <= {target:.4g}: {run} {mins:.1f} min, {baseline} "
                      f"{base_min:.1f} min, ratio {ratio:.2f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders trained with --keep-epochs")
    p.add_argument("--baseline", default=None, help="a run folder to compare the others with")
    p.add_argument("--samples", type=int, default=2000, help="samples per FID (default: 2000)")
    p.add_argument("--images", type=int, default=1000, help="test images (default: 1000)")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="a family evaluate option, e.g. k=500 (repeatable), for the runs whose family "
        "declares it; one that no run's family declares is refused",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="write the figure here (PNG)")
    args = p.parse_args(argv)
    device = setup_runtime("cpu", args.threads)
    options = {k: _value(v) for k, v in (o.split("=", 1) for o in args.option)}
    folders = [*([args.baseline] if args.baseline else []), *args.runs]
    per_run = {run: _family_options(run, options) for run in folders}
    unused = set(options) - {k for o in per_run.values() for k in o}
    if unused:
        p.error(f"no run's family declares the evaluate option(s) {', '.join(sorted(unused))}")
    for run in folders:
        records = evaluate_kept(
            run, device=device, samples=args.samples, images=args.images, **per_run[run]
        )
        if not records:
            print(f"{run}: no kept checkpoints (train with --keep-epochs)")
        _table(run, records)
    if args.baseline:
        _versus(args.baseline, args.runs)
    if args.out:
        from genzoo.viz import line_plot

        panels = quality_over_time([(Path(r).name, r) for r in folders])
        titles = [t for t, _ in panels]
        line_plot([lines for _, lines in panels], args.out, titles=titles, xlabel="minutes")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
