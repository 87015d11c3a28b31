"""Flow benchmarks.

``mlp`` (default): training-epoch time of the report's mlp flow through ``genzoo.fit`` against a
plain-PyTorch loop of the same network (same batches, same dequantisation, Adam), side by side
in one process and alternating, so machine noise hits both; prints the ratio (target <= 1.2).

``realnvp``: a short ``fit`` of the multi-scale flow; prints validation bits/dim against the
cumulative training wall-clock time after every epoch.

    OMP_NUM_THREADS=2 python benchmarks/flow_epoch.py mlp --limit-train 10000 --threads 2
    OMP_NUM_THREADS=2 python benchmarks/flow_epoch.py realnvp --epochs 3 --limit-train 10000
"""

from __future__ import annotations

import argparse
import time

import torch

from genzoo.api import make_config
from genzoo.data import load_dataset
from genzoo.models.flow import FlowConfig, build_flow
from genzoo.training.loop import fit


def plain_epoch(images: torch.Tensor, batch_size: int, lr: float, seed: int) -> float:
    """One epoch of the same flow in plain PyTorch; returns seconds."""
    torch.manual_seed(seed)
    model = build_flow(FlowConfig())
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(images.shape[0], generator=gen)
    start = time.perf_counter()
    for i in range(0, images.shape[0], batch_size):
        x = images[perm[i : i + batch_size]]
        loss = -model.log_prob(x, gen).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def genzoo_epoch(data, limit_train: int, batch_size: int, seed: int, precision: str) -> float:
    cfg = make_config(
        "flow",
        seed=seed,
        epochs=1,
        limit_train=limit_train,
        limit_eval=100,
        batch_size=batch_size,
        sample_epochs=(),
        log_every=0,
        precision=precision,
    )
    result = fit(cfg, None, data=data, quiet=True)
    return result.timings[0]["time_s"]


def bench_mlp(args: argparse.Namespace) -> None:
    data = load_dataset("mnist")
    images = data.images["train"][: args.limit_train]
    print(
        f"mlp flow, {images.shape[0]} training images, batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads"
    )
    plain_epoch(images[: 2 * args.batch_size], args.batch_size, 1e-3, 0)  # warm-up, discarded
    plain, ours = [], []
    for r in range(args.repeats):
        plain.append(plain_epoch(images, args.batch_size, 1e-3, r))
        ours.append(genzoo_epoch(data, args.limit_train, args.batch_size, r, "fp32"))
        print(f"  repeat {r}: plain {plain[-1]:.1f}s  genzoo {ours[-1]:.1f}s")
    ratio = min(ours) / min(plain)
    full = 50_000 / images.shape[0]
    print(
        f"best of {args.repeats}: plain {min(plain):.1f}s  genzoo {min(ours):.1f}s  "
        f"ratio {ratio:.3f} (target <= 1.2); full-epoch estimate {min(ours) * full:.0f}s"
    )
    if args.bf16:
        t = genzoo_epoch(data, args.limit_train, args.batch_size, 0, "bf16")
        print(f"genzoo bf16 autocast: {t:.1f}s ({t / min(ours):.2f}x the fp32 epoch)")


def bench_realnvp(args: argparse.Namespace) -> None:
    cfg = make_config(
        "flow",
        seed=0,
        arch="realnvp",
        channels=args.channels,
        blocks=args.blocks,
        epochs=args.epochs,
        limit_train=args.limit_train,
        limit_eval=args.limit_eval,
        batch_size=args.batch_size,
        sample_epochs=(),
        log_every=0,
        precision=args.precision,
    )
    result = fit(cfg, args.run_dir, quiet=True)
    print(
        f"realnvp (channels {args.channels}, blocks {args.blocks}, {args.precision}), "
        f"{args.limit_train} train / {args.limit_eval} val images"
    )
    print("epoch  train_time_s  val_bpd")
    seconds = {t["epoch"]: t["time_s"] for t in result.timings}
    total = 0.0
    for rec in result.history:
        if rec["split"] == "val":
            total += seconds[rec["epoch"]]
            print(f"{rec['epoch']:5d}  {total:12.1f}  {rec['bpd']:.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("which", choices=["mlp", "realnvp"], nargs="?", default="mlp")
    p.add_argument("--limit-train", type=int, default=10_000)
    p.add_argument("--limit-eval", type=int, default=2_000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--bf16", action="store_true", help="mlp: also time a bf16 autocast epoch")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    (bench_mlp if args.which == "mlp" else bench_realnvp)(args)


if __name__ == "__main__":
    main()
