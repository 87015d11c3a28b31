"""Wall-clock time for a family's training to reach a validation target, then stop.

Starts ``genzoo train FAMILY`` (flags after ``--`` are passed on), watches ``metrics.jsonl``
and stops the run as soon as a validation record reaches the target (lower is better).

    python benchmarks/time_to_target.py vae --target 101.7 --device cuda
    python benchmarks/time_to_target.py flow --target 1.85 --metric bpd,loss -- --arch mlp

Prints one line and, with ``--json``, writes the result. Exit 0 when reached, 3 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # being written
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("family")
    p.add_argument("--target", type=float, required=True, help="validation value to reach (<=)")
    p.add_argument(
        "--metric", default="loss", help="validation key; the first present of a comma list"
    )
    p.add_argument("--max-minutes", type=float, default=4.0, help="give up after (default: 4)")
    p.add_argument("--device", default="auto")
    p.add_argument("--nproc", type=int, default=1)
    p.add_argument("--json", default=None)
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.extra = argv[cut + 1 :]  # more train flags, after --
    keys = args.metric.split(",")
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory(prefix="genzoo-ttt-") as tmp:
        run = Path(tmp) / "run"
        cmd = [
            sys.executable, "-m", "genzoo", "train", args.family, "--name", "run",
            "--runs-dir", tmp, "--log-every", "0", "--sample-epochs=", "--device", args.device,
            "--nproc", str(args.nproc), "--quiet", *args.extra,
        ]  # fmt: skip
        t0 = time.perf_counter()
        log = open(Path(tmp) / "log", "w+")  # noqa: SIM115 - closed below
        job = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        result: dict = {"family": args.family, "target": args.target, "reached": False}
        best = float("inf")
        try:
            while time.perf_counter() - t0 < args.max_minutes * 60:
                records = _read(run / "metrics.jsonl")
                seconds = {t["epoch"]: t["time_s"] for t in _read(run / "timings.jsonl")}
                for r in records:
                    key = next((k for k in keys if k in r), None)
                    if r.get("split") != "val" or key is None:
                        continue
                    train_s = sum(s for e, s in seconds.items() if e <= r["epoch"])
                    best = min(best, r[key])
                    if r[key] <= args.target:
                        result.update(
                            reached=True, metric=key, value=r[key], epoch=r["epoch"],
                            wall_s=time.perf_counter() - t0, train_s=train_s,
                        )  # fmt: skip
                        break
                if result["reached"] or job.poll() is not None:
                    break
                time.sleep(0.5)
        finally:
            if job.poll() is None:
                job.send_signal(signal.SIGTERM)
                try:
                    job.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    job.kill()
            log.seek(0)
            lines = log.read().strip().splitlines()
            log.close()
    if result["reached"]:
        print(
            f"{args.family}: val {result['metric']} {result['value']:.4g} <= {args.target} at "
            f"epoch {result['epoch']}: {result['wall_s']:.0f} s wall "
            f"({result['train_s']:.0f} s in training epochs)"
        )
    else:
        why = f"; {lines[-1]}" if lines and job.returncode not in (0, None, -15, 143) else ""
        result["best"] = best
        print(
            f"{args.family}: target {args.target} not reached in {args.max_minutes} min "
            f"(best val {best:.4g}){why}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result) + "\n")
    return 0 if result["reached"] else 3


if __name__ == "__main__":
    raise SystemExit(main())
