"""Training throughput (examples/s) per family: 1 vs N processes, fp32 vs bf16, as ratios.

Every configuration is a real ``genzoo train`` run (the CLI, the loop, DDP and all) on the
same cores: N processes get cores/N threads each, so the 1 -> N ratio is what data
parallelism buys on this machine, not extra hardware. Examples/s is the loop's own figure
(train examples over train time, evaluation excluded), the median over the epochs after the
first (warm-up). Families that do not exist yet are skipped.

    python benchmarks/throughput.py                       # every family, CPU, 1 and 2 procs
    python benchmarks/throughput.py --families vae --epochs 3 --limit-train 10000
    python benchmarks/throughput.py --device cuda --nprocs 1,2   # GPUs: one process per GPU

Heavy: run it alone (on the shared machine through the lock, see HELPERS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _families(wanted: list[str] | None) -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from genzoo.errors import ConfigError
    from genzoo.family import family_names, get_family

    names = wanted or family_names()
    out = []
    for name in names:
        try:
            get_family(name)
        except ConfigError:
            print(f"skip {name}: no such family yet", flush=True)
            continue
        out.append(name)
    return out


def measure(
    family: str,
    nproc: int,
    precision: str,
    threads: int,
    args: argparse.Namespace,
    runs: Path,
) -> dict:
    """One training run; returns its examples/s (median after the first epoch) and wall time."""
    name = f"{family}-n{nproc}-{precision}"
    cmd = [
        sys.executable, "-m", "genzoo", "train", family, "--name", name,
        "--runs-dir", str(runs), "--epochs", str(args.epochs), "--limit-train",
        str(args.limit_train), "--limit-eval", str(args.limit_eval), "--log-every", "0",
        "--sample-epochs=", "--precision", precision, "--nproc", str(nproc),
        "--threads", str(threads), "--device", args.device, "--quiet", *args.extra,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    for attempt in (1, 2):  # one retry: a failure is reported, not silently averaged away
        shutil.rmtree(runs / name, ignore_errors=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode == 0:
            break
        tail = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("epoch ")]
        print(f"  {name}: FAILED (attempt {attempt}):", *tail[-8:], sep="\n    ", flush=True)
    else:
        return {"family": family, "nproc": nproc, "precision": precision, "error": tail[-1:]}
    records = [
        json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()
    ]
    timings = (runs / name / "timings.jsonl").read_text().splitlines()
    rates = [json.loads(line)["examples_per_s"] for line in timings]
    rate = statistics.median(rates[1:] if len(rates) > 1 else rates)
    val = [r.get("loss", float("nan")) for r in records if r["split"] == "val"]
    print(
        f"  {name:<22} {rate:>9.0f} ex/s  (threads/proc {threads}, wall {wall:.0f}s, "
        f"last val loss {val[-1]:.4g})",
        flush=True,
    )
    return {
        "family": family, "nproc": nproc, "precision": precision, "threads": threads,
        "examples_per_s": rate, "epoch_rates": rates, "wall_s": wall, "val_loss": val[-1],
    }  # fmt: skip


def ratios(results: list[dict], nprocs: list[int], precisions: list[str]) -> list[str]:
    """Lines of the ratio table: N procs over 1 proc, bf16 over fp32."""
    rate = {
        (r["family"], r["nproc"], r["precision"]): r["examples_per_s"]
        for r in results
        if "examples_per_s" in r
    }
    lines = []
    for fam in dict.fromkeys(r["family"] for r in results):
        parts = []
        for n in nprocs[1:]:
            for p in precisions:
                a, b = rate.get((fam, nprocs[0], p)), rate.get((fam, n, p))
                if a and b:
                    parts.append(f"{n}/{nprocs[0]} procs {p}: {b / a:.2f}x")
        for n in nprocs:
            a, b = rate.get((fam, n, "fp32")), rate.get((fam, n, "bf16"))
            if a and b:
                parts.append(f"bf16/fp32 {n} proc: {b / a:.2f}x")
        lines.append(f"{fam}: " + ", ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--families", default=None, help="comma-separated (default: all that exist)")
    p.add_argument("--nprocs", default="1,2", help="process counts (default: 1,2)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--epochs", type=int, default=3, help="the first is warm-up (default: 3)")
    p.add_argument("--limit-train", type=int, default=10000)
    p.add_argument("--limit-eval", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cores", type=int, default=None, help="total threads (default: all cores)")
    p.add_argument("--json", default=None, help="also write the results here")
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.extra = argv[cut + 1 :]  # more train flags, after --
    nprocs = [int(n) for n in args.nprocs.split(",")]
    precisions = args.precisions.split(",")
    cores = args.cores or len(os.sched_getaffinity(0))
    fams = _families(args.families.split(",") if args.families else None)
    results = []
    with tempfile.TemporaryDirectory(prefix="genzoo-bench-") as tmp:
        for fam in fams:
            print(f"{fam}:", flush=True)
            for n in nprocs:
                for prec in precisions:
                    threads = max(1, cores // n)
                    results.append(measure(fam, n, prec, threads, args, Path(tmp)))
    print(f"\nratios (same {cores} cores; higher is faster):")
    for line in ratios(results, nprocs, precisions):
        print("  " + line)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
