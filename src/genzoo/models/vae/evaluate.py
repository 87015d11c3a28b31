"""``genzoo evaluate`` for VAEs: test negative ELBO, importance-sampled NLL (nats, bits/dim) and
the naive Monte-Carlo estimate from the prior with its standard error and effective sample size.

At k = 5000 on 10,000 images this takes over an hour on a laptop CPU, so it keeps its partial
results in an ``EvalPartial`` about once a minute and continues a stopped evaluation from them;
the result equals an uninterrupted one (same batches, same generator states).
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genzoo.data import ImageData
from genzoo.maths import bits_per_dim
from genzoo.models.vae.importance import importance_stats, naive_stats
from genzoo.models.vae.model import VAE
from genzoo.seeding import make_generator
from genzoo.training.progress import Progress

if TYPE_CHECKING:
    from genzoo.family import EvalPartial

__all__ = ["evaluate_vae", "DEFAULT_K", "NAIVE_EXAMPLES", "BATCH", "SAVE_EVERY_S"]

DEFAULT_K = 5000
NAIVE_EXAMPLES = 1000  # the naive estimator runs on the first examples only (it is as costly)
BATCH = 100
SAVE_EVERY_S = 60.0  # how often the partial results are kept (a stop loses at most this much)
_COLUMNS = ("nll", "elbo", "kl", "se", "ess", "naive_ll", "naive_se", "naive_ess")


def _mean(t: Tensor) -> float:
    return float(t.double().mean().item())


class _Tally:
    """The per-example results of the batches done so far (on the CPU), the generators'
    states after them and the seconds spent: all a stopped evaluation continues from."""

    def __init__(self, gen: torch.Generator, naive_gen: torch.Generator) -> None:
        self.cols: dict[str, list[Tensor]] = {name: [] for name in _COLUMNS}
        self.gen, self.naive_gen = gen, naive_gen
        self.done, self.nll_s, self.naive_s = 0, 0.0, 0.0

    def state(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "cols": {name: list(ts) for name, ts in self.cols.items()},
            "gen": self.gen.get_state(),
            "naive_gen": self.naive_gen.get_state(),
            "seconds": [self.nll_s, self.naive_s],
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.done = int(state["done"])
        self.cols = {name: list(state["cols"][name]) for name in _COLUMNS}
        self.gen.set_state(state["gen"])
        self.naive_gen.set_state(state["naive_gen"])
        self.nll_s, self.naive_s = state["seconds"]

    def add(self, model: VAE, x: Tensor, k: int, naive: int) -> None:
        """Estimates for the batch ``x`` ``(B, C, H, W)``; the naive one for its first
        ``naive`` examples."""
        t0 = time.perf_counter()
        stats, kl = importance_stats(model, x, k, self.gen)
        terms = (-stats.log_mean(), stats.mean_log(), kl, stats.stderr(), stats.ess())
        for name, t in zip(_COLUMNS[:5], terms, strict=True):
            self.cols[name].append(t.cpu())
        t1 = time.perf_counter()
        self.nll_s += t1 - t0
        if naive > 0:
            nstats = naive_stats(model, x[:naive], k, self.naive_gen)
            terms = (nstats.log_mean(), nstats.stderr(), nstats.ess())
            for name, t in zip(_COLUMNS[5:], terms, strict=True):
                self.cols[name].append(t.cpu())
            self.naive_s += time.perf_counter() - t1
        self.done += x.shape[0]

    def column(self, name: str) -> Tensor:
        return torch.cat(self.cols[name])


@torch.no_grad()
def evaluate_vae(
    model: VAE,
    cfg: Any,
    data: ImageData,
    split: str,
    device: torch.device,
    options: dict[str, Any],
    partial: EvalPartial | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``split`` (all per example, in nats unless named bits/dim).

    ``options``: ``k`` (importance samples, default 5000), ``seed`` (noise of the estimates),
    ``naive_examples`` (how many examples get the naive estimate, default 1000; 0 = none).
    ``partial``: where the partial results are kept every ``SAVE_EVERY_S`` seconds and at
    the end, and a stopped evaluation is continued from (None: start over each time).
    """
    k = int(options.get("k") or DEFAULT_K)
    seed = int(options.get("seed") or 0)
    n_naive = int(options.get("naive_examples", NAIVE_EXAMPLES))
    model.eval()
    x_all = data.view(split, model.likelihood.view)
    tally = _Tally(
        make_generator(seed, "vae-iwae", split, device=device),
        make_generator(seed, "vae-naive", split, device=device),
    )
    state = partial.load() if partial is not None else None
    if state is not None:
        tally.restore(state)
    n = x_all.shape[0]
    desc = f"evaluate k={k}" + (f" (continued at {tally.done}/{n})" if tally.done else "")
    prog = Progress(math.ceil((n - tally.done) / BATCH), desc, os.isatty(2), every_s=60.0)
    saved = time.perf_counter()
    for i in range(tally.done, n, BATCH):
        x = x_all[i : i + BATCH].to(device)
        tally.add(model, x, k, n_naive - i)
        prog.update(x.shape[0])
        if partial is not None and (tally.done == n or time.perf_counter() - saved >= SAVE_EVERY_S):
            partial.save(tally.state())
            saved = time.perf_counter()
    prog.close()
    return _summary(tally, k, int(x_all[0].numel()), model.cfg.likelihood)


def _summary(tally: _Tally, k: int, dims: int, likelihood: str) -> dict[str, Any]:
    """The evaluation record from the per-example results of all batches."""
    nll, kl, se = tally.column("nll"), tally.column("kl"), tally.column("se")
    n = nll.shape[0]
    neg_elbo = -_mean(tally.column("elbo"))
    out: dict[str, Any] = {
        "examples": n,
        "k": k,
        "likelihood": likelihood,
        "neg_elbo": neg_elbo,
        "kl": _mean(kl),
        "recon": neg_elbo - _mean(kl),
        "nll": _mean(nll),
        "nll_bits_per_dim": bits_per_dim(_mean(nll), dims),
        "neg_elbo_bits_per_dim": bits_per_dim(neg_elbo, dims),
        "nll_mc_stderr": float(se.pow(2).sum().sqrt().item() / n),
        "iwae_ess_mean": _mean(tally.column("ess")),
        "nll_time_s": tally.nll_s,
    }
    if tally.cols["naive_ll"]:
        naive_ess = tally.column("naive_ess")
        m = naive_ess.shape[0]
        out.update(
            {
                "naive_examples": m,
                "naive_nll": -_mean(tally.column("naive_ll")),
                "naive_stderr_mean": _mean(tally.column("naive_se")),
                "naive_ess_mean": _mean(naive_ess),
                "naive_ess_median": float(naive_ess.median().item()),
                "nll_same_examples": _mean(nll[:m]),
                "naive_time_s": tally.naive_s,
            }
        )
    return out
