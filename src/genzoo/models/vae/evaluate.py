"""``genzoo evaluate`` for VAEs: test negative ELBO, importance-sampled NLL (nats, bits/dim) and
the naive Monte-Carlo estimate from the prior with its standard error and effective sample size.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch

from genzoo.data import ImageData
from genzoo.maths import bits_per_dim
from genzoo.models.vae.importance import importance_stats, naive_stats
from genzoo.models.vae.model import VAE
from genzoo.seeding import make_generator
from genzoo.training.progress import Progress

__all__ = ["evaluate_vae", "DEFAULT_K", "NAIVE_EXAMPLES", "BATCH"]

DEFAULT_K = 5000
NAIVE_EXAMPLES = 1000  # the naive estimator runs on the first examples only (it is as costly)
BATCH = 100


def _mean(t: torch.Tensor) -> float:
    return float(t.double().mean().item())


@torch.no_grad()
def evaluate_vae(
    model: VAE,
    cfg: Any,
    data: ImageData,
    split: str,
    device: torch.device,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Metrics of ``model`` on ``split`` (all per example, in nats unless named bits/dim).

    ``options``: ``k`` (importance samples, default 5000), ``seed`` (noise of the estimates),
    ``naive_examples`` (how many examples get the naive estimate, default 1000; 0 = none).
    """
    k = int(options.get("k") or DEFAULT_K)
    seed = int(options.get("seed") or 0)
    n_naive = int(options.get("naive_examples", NAIVE_EXAMPLES))
    model.eval()
    x_all = data.view(split, model.likelihood.view)
    dims = int(x_all[0].numel())
    n = x_all.shape[0]
    gen = make_generator(seed, "vae-iwae", split, device=device)
    naive_gen = make_generator(seed, "vae-naive", split, device=device)
    nll, elbo, kl, se, ess = [], [], [], [], []
    naive_ll, naive_se, naive_ess = [], [], []
    prog = Progress(math.ceil(n / BATCH), f"evaluate k={k}", os.isatty(2), every_s=60.0)
    start, naive_time = time.perf_counter(), 0.0
    for i in range(0, n, BATCH):
        x = x_all[i : i + BATCH].to(device)
        stats, kl_b = importance_stats(model, x, k, gen)
        nll.append(-stats.log_mean())
        elbo.append(stats.mean_log())
        kl.append(kl_b.cpu())
        se.append(stats.stderr())
        ess.append(stats.ess())
        if i < n_naive:
            t0 = time.perf_counter()
            nstats = naive_stats(model, x[: n_naive - i], k, naive_gen)
            naive_time += time.perf_counter() - t0
            naive_ll.append(nstats.log_mean())
            naive_se.append(nstats.stderr())
            naive_ess.append(nstats.ess())
        prog.update(x.shape[0])
    prog.close()
    nll_t, elbo_t, kl_t = torch.cat(nll).cpu(), torch.cat(elbo).cpu(), torch.cat(kl)
    se_t = torch.cat(se).cpu()
    neg_elbo = -_mean(elbo_t)
    out: dict[str, Any] = {
        "examples": n,
        "k": k,
        "likelihood": model.cfg.likelihood,
        "neg_elbo": neg_elbo,
        "kl": _mean(kl_t),
        "recon": neg_elbo - _mean(kl_t),
        "nll": _mean(nll_t),
        "nll_bits_per_dim": bits_per_dim(_mean(nll_t), dims),
        "neg_elbo_bits_per_dim": bits_per_dim(neg_elbo, dims),
        "nll_mc_stderr": float(se_t.pow(2).sum().sqrt().item() / n),
        "iwae_ess_mean": _mean(torch.cat(ess)),
        "nll_time_s": time.perf_counter() - start - naive_time,
    }
    if naive_ll:
        m = sum(t.shape[0] for t in naive_ll)
        out.update(
            {
                "naive_examples": m,
                "naive_nll": -_mean(torch.cat(naive_ll)),
                "naive_stderr_mean": _mean(torch.cat(naive_se)),
                "naive_ess_mean": _mean(torch.cat(naive_ess)),
                "naive_ess_median": float(torch.cat(naive_ess).median().item()),
                "nll_same_examples": _mean(nll_t[:m]),
                "naive_time_s": naive_time,
            }
        )
    return out
