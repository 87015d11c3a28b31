"""Epoch time of the report's MLP GAN: genzoo's ``fit`` vs a minimal plain-PyTorch loop.

Both run in this process, interleaved (genzoo, plain, genzoo, plain, ...), on the same data,
the same networks (genzoo's MLPGenerator/MLPDiscriminator) and the same algorithm per step:
fakes for D drawn without grad, one D pass over real and fake together, D frozen for G's
update, fresh latents for each objective, Adam(5e-4, betas 0.5, 0.999), batch 64. The genzoo
number is the loop's own training time of the epoch (``time_s``, validation excluded); the
wall time of ``fit`` including set-up and validation is printed too.

    OMP_NUM_THREADS=2 python benchmarks/gan_epoch.py --threads 2 --limit-train 12800 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from genzoo.api import make_config
from genzoo.data import load_dataset
from genzoo.models.gan.config import GANConfig
from genzoo.models.gan.mlp import MLPDiscriminator, MLPGenerator
from genzoo.training.loop import fit
from genzoo.training.runtime import setup_runtime


def plain_epoch(x: torch.Tensor, batch_size: int, seed: int) -> float:
    """One epoch of a hand-written GAN loop over ``x`` (N, 1, 28, 28) in [-1, 1]; seconds."""
    torch.manual_seed(seed)
    cfg = GANConfig()
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=5e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=5e-4, betas=(0.5, 0.999))
    G.train(), D.train()
    start = time.perf_counter()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), batch_size):
        real = x[perm[i : i + batch_size]]
        b = len(real)
        with torch.no_grad():
            fake = G(torch.randn(b, cfg.z_dim))
        logits = D(torch.cat([real, fake]))
        loss_d = (
            F.binary_cross_entropy_with_logits(
                logits, torch.cat([torch.ones(b), torch.zeros(b)]), reduction="sum"
            )
            / b
        )
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        out = D(G(torch.randn(b, cfg.z_dim)))
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones(b))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
    return time.perf_counter() - start


def genzoo_epoch(data: object, limit: int, seed: int) -> tuple[float, float]:
    """``(training seconds of the epoch, wall seconds of fit)`` for one genzoo epoch."""
    cfg = make_config("gan", seed=seed, epochs=1, limit_train=limit, limit_eval=1000)
    start = time.perf_counter()
    result = fit(cfg, None, device="cpu", data=data, quiet=True, progress_bar=False)
    wall = time.perf_counter() - start
    return result.timings[-1]["time_s"], wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit-train", type=int, default=12800, help="training images per epoch")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    setup_runtime("cpu", args.threads)
    data = load_dataset("mnist")
    x = data.view("train", "signed")[: args.limit_train].contiguous()
    print(f"MLP GAN, {len(x)} images/epoch, batch 64, {torch.get_num_threads()} thread(s)")
    ours, walls, plain = [], [], []
    for r in range(args.repeats):
        t, w = genzoo_epoch(data, args.limit_train, seed=r)
        ours.append(t)
        walls.append(w)
        plain.append(plain_epoch(x, 64, seed=r))
        print(f"  repeat {r}: genzoo {t:.2f}s (fit wall {w:.2f}s)  plain {plain[-1]:.2f}s")
    g, q = statistics.median(ours), statistics.median(plain)
    per_full = 50000 / len(x)
    print(f"median epoch: genzoo {g:.2f}s  plain {q:.2f}s  ratio {g / q:.3f} (target <= 1.2)")
    print(f"scaled to 50,000 images: genzoo {g * per_full:.1f}s  plain {q * per_full:.1f}s")


if __name__ == "__main__":
    main()
