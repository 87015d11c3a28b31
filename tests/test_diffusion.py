"""The diffusion family: the forward process in closed form, the posterior, the bound's terms,
the samplers (DDIM with eta = 1 over every step is the ancestral sampler), EMA for sampling,
the U-Net on several shapes, and the CLI from training to compare."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.family import register
from genzoo.models.diffusion.bound import (
    bound_terms,
    discretized_gaussian_log_prob,
    estimate_bound,
    prior_term,
    strata,
)
from genzoo.models.diffusion.config import DiffusionConfig
from genzoo.models.diffusion.family import DiffusionFamily
from genzoo.models.diffusion.model import Diffusion
from genzoo.models.diffusion.sample import ancestral, ddim, ddim_steps
from genzoo.models.diffusion.schedule import Schedule, make_betas
from genzoo.models.diffusion.step import ema_decay
from genzoo.models.diffusion.unet import resolutions
from tests.conftest import run_cli

register(DiffusionFamily)  # until genzoo is reinstalled with the new entry point

TINY = {"channels": 8, "channel_mult": (1, 2), "groups": 4, "blocks": 1}
SCHEDULES = ("linear", "cosine")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _gaussian_eps(schedule: Schedule, m: float, s: float):
    """The exact noise predictor when every pixel of x_0 is N(m, s^2): E[eps | x_t]."""

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = Schedule.at(schedule.alphas_bar, t, x)
        a, b2 = abar.sqrt(), 1 - abar
        return b2.sqrt() * (x - a * m) / (a * a * s * s + b2)

    return eps_fn


@pytest.mark.parametrize("kind", SCHEDULES)
def test_closed_form_q_matches_iterating_the_forward_process(kind):
    sched = Schedule(make_betas(kind, 200))
    x0 = torch.tensor([[-0.7, 0.2, 1.0]], dtype=torch.float64)
    mean, var = x0.clone(), torch.zeros(1, dtype=torch.float64)  # moments of x_t given x_0
    for t, beta in enumerate(sched.betas):
        mean, var = (1 - beta).sqrt() * mean, (1 - beta) * var + beta
        m, v = sched.q_mean_var(x0, torch.tensor([t]))
        torch.testing.assert_close(m, mean, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(v.reshape(1), var, rtol=1e-10, atol=1e-12)
    # and by sampling step after step: 20,000 chains of 40 steps
    short = Schedule(make_betas(kind, 40))
    x = x0.expand(20_000, 3).clone()
    gen = _gen(0)
    for beta in short.betas:
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=gen).double()
    m, v = short.q_mean_var(x0, torch.tensor([39]))
    se = (v.reshape(()) / x.shape[0]).sqrt()
    assert (x.mean(0) - m[0]).abs().max() < 5 * se
    assert (x.var(0) / v.reshape(()) - 1).abs().max() < 5 * math.sqrt(2 / x.shape[0])


@pytest.mark.parametrize("kind", SCHEDULES)
def test_posterior_is_bayes_on_gaussians(kind):
    sched = Schedule(make_betas(kind, 100))
    gen = _gen(1)
    x0, xt = torch.randn(6, 5, generator=gen).double(), torch.randn(6, 5, generator=gen).double()
    t = torch.tensor([1, 2, 10, 50, 98, 99])
    mean, var = sched.posterior(x0, xt, t)
    abar_prev = sched.alphas_bar_prev[t][:, None]
    alpha, beta = 1 - sched.betas[t][:, None], sched.betas[t][:, None]
    # prior x_{t-1} ~ N(sqrt(abar_prev) x_0, 1 - abar_prev), likelihood x_t ~ N(sqrt(alpha) x, beta)
    precision = 1 / (1 - abar_prev) + alpha / beta
    bayes_mean = (abar_prev.sqrt() * x0 / (1 - abar_prev) + alpha.sqrt() * xt / beta) / precision
    torch.testing.assert_close(mean, bayes_mean, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(var, 1 / precision, rtol=1e-9, atol=1e-14)
    # at t = 0 there is nothing left to infer: the "posterior" is x_0 itself
    m0, v0 = sched.posterior(x0[:1], xt[:1], torch.tensor([0]))
    torch.testing.assert_close(m0, x0[:1])
    assert v0.abs().sum() == 0


@pytest.mark.parametrize("kind", SCHEDULES)
def test_prior_term_vanishes_for_a_long_schedule(kind):
    x0 = torch.rand(8, 1, 4, 4, generator=_gen(2)).double() * 2 - 1
    long = prior_term(Schedule(make_betas(kind, 1000)), x0) / 16  # nats per pixel
    assert (long < 1e-4).all() and (long >= 0).all(), long
    short = prior_term(Schedule(torch.full((50,), 1e-3, dtype=torch.float64)), x0) / 16
    assert (short > 1e-2).all(), short  # too little noise leaves x_T far from N(0, I)


def test_discretised_decoder_is_a_distribution_over_256_values():
    x = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    gen = _gen(3)
    for scale in (1e-3, 0.01, 0.3, 3.0):
        mean = torch.rand(5, 1, generator=gen).double() * 2.4 - 1.2
        logp = discretized_gaussian_log_prob(x[None], mean, torch.tensor(2 * math.log(scale)))
        torch.testing.assert_close(logp.exp().sum(1), torch.ones(5, dtype=torch.float64))
        assert torch.isfinite(logp).all() or scale < 0.01  # far bins may underflow to -inf


def test_stratified_bound_is_unbiased_and_exact_with_every_step():
    sched = Schedule(make_betas("linear", 12))
    eps_fn = _gaussian_eps(sched, 0.1, 0.5)
    x0 = (torch.randint(0, 256, (3, 1, 2, 2), generator=_gen(4)).double() / 127.5) - 1
    gen = _gen(5)
    r = 200
    exact = torch.stack([bound_terms(eps_fn, sched, x0, gen, "small").sum(1) for _ in range(r)])
    strat = torch.stack([estimate_bound(eps_fn, sched, x0, gen, "small", 4)[0] for _ in range(r)])
    every = torch.stack([estimate_bound(eps_fn, sched, x0, gen, "small", 0)[0] for _ in range(r)])
    for est in (strat, every):
        se = (exact.var(0) / r + est.var(0) / r).sqrt()
        assert ((est.mean(0) - exact.mean(0)).abs() < 4 * se).all(), (est.mean(0), exact.mean(0))
    assert (strat.var(0) > every.var(0)).all()  # sampling steps adds variance


def test_strata_partition_the_steps_narrowest_first():
    assert strata(1000, 0) == list(range(1, 1001)) == strata(1000, 999)
    edges = strata(1000, 25)
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    assert edges[0] == 1 and edges[-1] == 1000 and len(widths) <= 25
    assert min(widths) >= 1 and widths[0] == 1 and widths == sorted(widths)


def _tiny(timesteps: int = 50, **kw) -> Diffusion:
    torch.manual_seed(0)
    return Diffusion(DiffusionConfig(timesteps=timesteps, **{**TINY, **kw}), (1, 8, 8))


def _exact_bound(model: Diffusion, x0: torch.Tensor) -> float:
    terms = bound_terms(model.eps, model.schedule, x0.double(), _gen(6), "small")
    return terms.sum(1).mean().item()


def test_bound_is_finite_and_decreases_with_training():
    fam = DiffusionFamily()
    model = _tiny(ema_decay=0.9)
    x0 = (torch.randint(0, 256, (4, 1, 8, 8), generator=_gen(7)).float() / 127.5) - 1
    step = fam.make_step(model, model.cfg, TrainConfig(lr=3e-3, grad_clip=1.0))
    before = _exact_bound(model, x0)
    gen = _gen(8)
    batch = Batch(x0.repeat(4, 1, 1, 1), torch.zeros(16, dtype=torch.long))
    for _ in range(100):
        step.train_step(batch, gen)
    after = _exact_bound(model, x0)
    assert math.isfinite(before) and math.isfinite(after)
    assert after < 0.8 * before, (before, after)


def test_ddim_with_eta_1_and_every_step_is_the_ancestral_sampler():
    # x_0 ~ N(m, s^2) per pixel, with its exact noise predictor: the answer is known
    sched = Schedule(make_betas("linear", 1000))
    m, s, n = 0.3, 0.2, 4000
    eps_fn = _gaussian_eps(sched, m, s)
    x_T = torch.randn(n, 2, generator=_gen(9)).double()
    a = ancestral(eps_fn, sched, x_T, _gen(10), "small")
    d = ddim(eps_fn, sched, x_T, _gen(10), steps=1000, eta=1.0)
    torch.testing.assert_close(a, d, rtol=1e-9, atol=1e-9)  # same noise: the same samples
    d = ddim(eps_fn, sched, torch.randn(n, 2, generator=_gen(11)).double(), _gen(12), 1000, 1.0)
    # independent draws: the same distribution within the sampling error (5 standard errors)
    assert ((a.mean(0) - d.mean(0)).abs() < 5 * s * math.sqrt(2 / n)).all()
    assert ((a.var(0) - d.var(0)).abs() < 5 * s**2 * math.sqrt(4 / n)).all()
    for x in (a, d):  # and that of the data, up to the fixed variance's known small bias
        assert ((x.mean(0) - m).abs() < 5 * s / math.sqrt(n)).all(), x.mean(0)
        assert ((x.var(0) / s**2 - 1).abs() < 5 * math.sqrt(2 / n) + 0.03).all(), x.var(0)
    fewer = ddim(eps_fn, sched, x_T, _gen(10), steps=10, eta=1.0)
    assert (fewer - a).abs().max() > 1e-3  # a subsequence is another sampler


def test_ddim_steps_cover_the_schedule():
    assert ddim_steps(1000, 1000).tolist() == list(range(1000))
    seq = ddim_steps(1000, 50)
    assert len(seq) == 50 and seq[0] == 0 and seq[-1] == 999 and (seq.diff() > 0).all()


@pytest.mark.parametrize("steps, eta", [(0, 0.0), (5, 0.0), (5, 0.7)])
def test_the_same_generator_gives_the_same_samples(steps, eta):
    fam, model = DiffusionFamily(), _tiny(timesteps=20).eval()
    a = fam.sample(model, 6, _gen(13), steps=steps, eta=eta)
    b = fam.sample(model, 6, _gen(13), steps=steps, eta=eta)
    c = fam.sample(model, 6, _gen(14), steps=steps, eta=eta)
    assert a.shape == (6, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "shape, levels", [((1, 28, 28), 3), ((3, 32, 32), 3), ((1, 16, 16), 3), ((1, 7, 7), 1)]
)
def test_unet_output_shape_equals_input_shape(shape, levels):
    assert resolutions(shape[1:], 3) == levels
    model = Diffusion(DiffusionConfig(**{**TINY, "channel_mult": (1, 2, 2)}), shape)
    x = torch.randn(3, *shape, generator=_gen(15))
    out = model(x, torch.tensor([0, 0, 999]))
    assert out.shape == x.shape
    assert not torch.allclose(out[0], model(x, torch.tensor([500, 0, 999]))[0])  # uses t


def test_ema_is_what_sampling_uses():
    fam, model = DiffusionFamily(), _tiny(timesteps=20, ema_decay=0.5)
    step = fam.make_step(model, model.cfg, TrainConfig(lr=1e-2))
    x0 = torch.rand(8, 1, 8, 8, generator=_gen(16)) * 2 - 1
    ema_before = {k: v.clone() for k, v in model.ema.weights().items()}
    net_before = {k: v.detach().clone() for k, v in model.net.named_parameters()}
    step.train_step(Batch(x0, torch.zeros(8, dtype=torch.long)), _gen(17))
    # one update with the warm-up decay d = min(0.5, 1/10): ema = d ema + (1 - d) weights
    d = ema_decay(0.5, 0)
    for name, p in model.net.named_parameters():
        assert not torch.equal(p, net_before[name])
        torch.testing.assert_close(model.ema.weights()[name], d * ema_before[name] + (1 - d) * p)
    model.eval()
    sample = fam.sample(model, 4, _gen(18), steps=4)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(torch.randn(p.shape, generator=_gen(19)))
    assert torch.equal(fam.sample(model, 4, _gen(18), steps=4), sample)  # raw weights unused
    again = _tiny(timesteps=20, ema_decay=0.5)
    again.load_state_dict(model.state_dict())  # a checkpoint keeps the EMA weights
    assert torch.equal(fam.sample(again.eval(), 4, _gen(18), steps=4), sample)
    with torch.no_grad():
        for v in model.ema.weights().values():
            v.mul_(0.5)
    assert not torch.equal(fam.sample(model, 4, _gen(18), steps=4), sample)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in model.net.parameters()
    )  # the average is not counted as weights
    assert step.state_dict()["ema_updates"] == 1


def test_cli_train_sample_evaluate_compare(tmp_path, capsys):
    from genzoo.cli.main import main

    env = None  # found through its entry point in pyproject.toml, like every family
    # no figures at epoch 0 (--sample-epochs=): the final ones are checked
    res = run_cli(
        "train", "diffusion", "--epochs", "1", "--limit-train", "256", "--limit-eval", "128",
        "--threads", "1", "--channels", "8", "--channel-mult", "1,2", "--groups", "4",
        "--blocks", "1", "--timesteps", "100", "--runs-dir", str(tmp_path), "--name", "d",
        "--quiet", "--sample-epochs=", env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    run = tmp_path / "d"
    for fig in ("samples.png", "denoising.png", "loss.png"):
        assert (run / "figures" / fig).is_file(), fig
    out = tmp_path / "s.png"
    res = run_cli("sample", str(run), "-n", "8", "--steps", "10", "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.stat().st_size > 100
    capsys.readouterr()
    # refused in-process: a usage error needs no start-up of its own
    assert main(["sample", str(run), "--temperature", "0.5", "--out", str(out)]) == 2
    assert "--temperature" in capsys.readouterr().err
    res = run_cli(
        "evaluate", str(run), "--bound-t", "5", "--samples", "32", "--threads", "1", env=env
    )
    assert res.returncode == 0, res.stderr[-2000:]
    record = json.loads((run / "eval.json").read_text())
    assert record["family"] == "diffusion" and record["bpd_is_bound"] is True
    assert math.isfinite(record["bpd"]) and record["bound_images"] == 128
    assert record.get("fid") is not None
    capsys.readouterr()
    assert main(["compare", str(run), "--no-floor"]) == 0  # in-process: one start-up fewer
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| d |"))
    assert "| 8-bit (bound) |" in row, row


def test_compare_labels_a_bound_and_the_data_it_is_on():
    from genzoo.evaluation.table import comparison_notes, comparison_rows

    flow = {"family": "flow", "data_view": "uint8", "bpd": 1.1}
    diff = {"family": "diffusion", "data_view": "signed", "bpd": 1.2, "bpd_is_bound": True,
            "likelihood_view": "uint8"}  # fmt: skip
    rows = comparison_rows([("f", flow), ("d", diff)])
    assert [r["data"] for r in rows] == ["8-bit", "8-bit (bound)"]
    assert "Here: 8-bit." in comparison_notes([("f", flow), ("d", diff)])[0]
