"""Epoch time of the default VAE through genzoo's ``fit`` against a minimal plain-PyTorch loop
of the same network on the same data, measured side by side (interleaved) in one process.

    OMP_NUM_THREADS=2 python benchmarks/vae_epoch.py --threads 2 --rounds 3

Prints per round: genzoo's training time (the loop's own ``time_s``, i.e. batches + steps, no
validation) and its whole ``fit`` call (model build, epoch, validation pass), the plain loop's
training time and training + validation time, and the ratios (target: genzoo <= 1.2x plain).
Also prints the data-pipeline share: the time to produce one epoch's batches (permutation,
dynamic binarisation, slicing) divided by genzoo's training time for that epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.api import make_config
from genzoo.data import EpochBatches, load_dataset
from genzoo.data.views import Binarizer
from genzoo.training.loop import fit
from genzoo.training.runtime import setup_runtime


def plain_vae(hidden: int = 500, z_dim: int = 20) -> tuple[nn.Module, nn.Module]:
    enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
    dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))
    return enc, dec


def plain_loss(enc: nn.Module, dec: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    mu, logvar = enc(xb).chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    recon = F.binary_cross_entropy_with_logits(dec(z), xb, reduction="none").sum(1)
    kl = 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(1)
    return recon + kl


def plain_epoch(x_u8: torch.Tensor, x_val: torch.Tensor, batch: int) -> tuple[float, float]:
    """One epoch of the textbook loop; returns (train seconds, train + validation seconds)."""
    torch.manual_seed(0)
    enc, dec = plain_vae()
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    t0 = time.perf_counter()
    x = torch.bernoulli(x_u8.float().view(-1, 784) / 255.0)  # dynamic binarisation
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        loss = plain_loss(enc, dec, x[perm[i : i + batch]]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    train = time.perf_counter() - t0
    with torch.no_grad():
        for i in range(0, x_val.shape[0], 1000):
            plain_loss(enc, dec, x_val[i : i + 1000])
    return train, time.perf_counter() - t0


def genzoo_epoch(data: object) -> tuple[float, float]:
    """One epoch through ``fit``; returns (the loop's training seconds, whole fit seconds)."""
    cfg = make_config("vae", epochs=1, sample_epochs=())
    t0 = time.perf_counter()
    result = fit(cfg, None, device=torch.device("cpu"), data=data, quiet=True)
    wall = time.perf_counter() - t0
    return result.timings[0]["time_s"], wall


def pipeline_seconds(data: object, binarizer: Binarizer, epoch: int) -> float:
    """Seconds to produce one epoch of training batches (no model)."""
    t0 = time.perf_counter()
    batches = EpochBatches(
        data.images["train"], data.labels["train"], "binary", 128, 0, epoch, binarizer=binarizer
    )
    for b in batches:
        b.to(torch.device("cpu"))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup_runtime("cpu", args.threads)
    data = load_dataset("mnist")
    x_val = data.view("val", "binary").view(-1, 784)
    binarizer = Binarizer(data.images["train"])
    pipeline_seconds(data, binarizer, 0)  # warm-up
    plain_epoch(data.images["train"][:2000], x_val[:1000], 128)
    rows = []
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}")
    print("round  genzoo_train  plain_train  ratio  |  genzoo_fit  plain_train+val  ratio  |  data")
    for r in range(args.rounds):
        g_train, g_wall = genzoo_epoch(data)
        p_train, p_wall = plain_epoch(data.images["train"], x_val, 128)
        pipe = pipeline_seconds(data, binarizer, r + 1)
        rows.append((g_train / p_train, g_wall / p_wall, pipe / g_train))
        print(
            f"{r:5d}  {g_train:11.2f}s  {p_train:10.2f}s  {g_train / p_train:5.2f}  |  "
            f"{g_wall:9.2f}s  {p_wall:14.2f}s  {g_wall / p_wall:5.2f}  |  "
            f"{pipe:.3f}s ({100 * pipe / g_train:.1f}% of the epoch)"
        )
    med = [statistics.median(c) for c in zip(*rows, strict=True)]
    print(
        f"median ratio genzoo/plain: training {med[0]:.3f}x, with validation {med[1]:.3f}x; "
        f"data pipeline {100 * med[2]:.1f}% of a genzoo epoch"
    )


if __name__ == "__main__":
    main()
