#!/usr/bin/env bash
# One command for a GPU machine, under 10 minutes: training throughput per family (1 vs 2
# processes where there are 2+ GPUs, fp32 vs bf16) as ratios, then the wall-clock time for the
# VAE (z=20 defaults: validation -ELBO <= 101.7 nats) and the flow (--arch mlp: validation
# <= 1.85 bits/dim) to reach their targets. Results also go to $OUT (default reports/gpu/).
#
#   GENZOO_DATA_DIR=/path/to/data benchmarks/gpu.sh      # PYTHON=... to pick the interpreter
#
# Not run on a GPU by its author (no GPU was available): expect to adjust it on first use.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-reports/gpu}
mkdir -p "$OUT"
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ "$NGPU" -lt 1 ]; then echo "gpu.sh: no GPU visible (nvidia-smi -L)"; exit 1; fi
NPROCS=1
[ "$NGPU" -ge 2 ] && NPROCS=1,2  # one process per GPU; 2 ranks cannot share one GPU (NCCL)
nvidia-smi -L | tee "$OUT/gpus.txt"

echo "== throughput (budget ~4 min)"
timeout 300 "$PY" benchmarks/throughput.py --device cuda --nprocs "$NPROCS" --epochs 3 \
    --limit-train 20000 --limit-eval 1000 --json "$OUT/throughput.json" | tee "$OUT/throughput.txt"

echo "== time to target (budget ~2.5 min each)"
"$PY" benchmarks/time_to_target.py vae --target 101.7 --max-minutes 2.5 --device cuda \
    --json "$OUT/vae-target.json" -- --epochs 60 | tee "$OUT/vae-target.txt"
"$PY" benchmarks/time_to_target.py flow --target 1.85 --metric bpd,bits_per_dim,loss \
    --max-minutes 2.5 --device cuda --json "$OUT/flow-target.json" -- --arch mlp --epochs 60 \
    | tee "$OUT/flow-target.txt"
echo "results in $OUT/"
