"""Properties of the VAE family: bounds, likelihoods, estimators, steps and the CLI.

Maths tests run in float64 with fixed seeds; the CLI tests use a few hundred images.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.family import get_family
from genzoo.maths import (
    bits_per_dim,
    gaussian_kl,
    gaussian_log_prob,
    log_mean_exp,
    standard_normal_log_prob,
)
from genzoo.models.vae import VAE, VAEConfig
from genzoo.models.vae.bounds import LogWeightStats, effective_sample_size, log_mean_stderr
from genzoo.models.vae.family import normal_quantile_grid
from genzoo.models.vae.importance import importance_stats, naive_stats, stream_log_weights
from genzoo.models.vae.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood
from genzoo.models.vae.step import VAEStep


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- KL and bounds ------------------------------------------------------------------------------
def test_closed_form_kl_equals_monte_carlo():
    g = _gen(1)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64) * 0.7
    eps = torch.randn(200_000, 4, 3, generator=g, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * eps
    diff = gaussian_log_prob(z, mu, logvar) - standard_normal_log_prob(z)  # (S, 4)
    mc, se = diff.mean(0), diff.std(0) / math.sqrt(diff.shape[0])
    assert torch.all((mc - gaussian_kl(mu, logvar)).abs() < 4 * se + 1e-12)


def test_iwae_bound_is_at_least_the_elbo_for_any_weights():
    lw = torch.randn(50, 7, generator=_gen(2), dtype=torch.float64) * 3
    for k in (1, 2, 10, 50):
        assert torch.all(log_mean_exp(lw[:k]) >= lw[:k].mean(0) - 1e-12)
    assert torch.allclose(log_mean_exp(lw[:1]), lw[0])
    ess = effective_sample_size(lw)
    assert torch.all((ess >= 1 - 1e-12) & (ess <= 50 + 1e-9))
    assert torch.allclose(
        effective_sample_size(torch.zeros(8, 2, dtype=torch.float64)),
        torch.full((2,), 8.0, dtype=torch.float64),
    )


def test_streamed_statistics_equal_direct_computation():
    lw = torch.randn(103, 5, generator=_gen(3), dtype=torch.float64) * 4 - 90
    stats = LogWeightStats()
    for chunk in lw.split(17):
        stats.update(chunk)
    assert stats.k == 103
    torch.testing.assert_close(stats.log_mean(), log_mean_exp(lw))
    torch.testing.assert_close(stats.mean_log(), lw.mean(0))
    torch.testing.assert_close(stats.ess(), effective_sample_size(lw))
    w = lw.exp() / lw.exp().mean(0)  # normalised weights: SE of the mean / mean
    direct = (w.var(0, unbiased=False) / 103).sqrt()
    torch.testing.assert_close(log_mean_stderr(stats.ess(), 103), direct)
    calls = []
    stream_log_weights(lambda c: calls.append(c) or lw[:c], k=10, chunk=4)
    assert calls == [4, 4, 2]
    assert bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)


def _tiny_vae(likelihood: str = "bernoulli", arch: str = "mlp", seed: int = 0, z: int = 2) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(arch=arch, hidden=16, z_dim=z, likelihood=likelihood, channels=4)).double()


def _binary_images(n: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, 1, 28, 28, generator=_gen(seed)) < 0.3).double()


def test_iwae_grows_with_k_in_expectation():
    model = _tiny_vae()
    x = _binary_images(3)
    mu, logvar = model.encode(x)
    with torch.no_grad():
        lw = model.log_weights(x, mu, logvar, 400 * 25, _gen(4)).view(400, 25, 3)
    bounds = [log_mean_exp(lw[:, :k], dim=1) for k in (1, 5, 25)]  # (400, 3) each
    means = [b.mean(0) for b in bounds]  # expectation over 400 independent repeats
    ses = [b.std(0) / 20 for b in bounds]
    with torch.no_grad():
        elbo = -model(x.repeat(4000, 1, 1, 1), _gen(5)).loss.view(4000, 3)
    tol = 4 * elbo.std(0) * math.sqrt(1 / 400 + 1 / 4000)
    assert torch.all((means[0] - elbo.mean(0)).abs() < tol)  # IWAE_1 is the ELBO
    for lo, hi, se_lo, se_hi in zip(means, means[1:], ses, ses[1:], strict=False):
        assert torch.all(hi - lo > 3 * (se_lo**2 + se_hi**2).sqrt())


# -- exact marginal of a linear-Gaussian model ----------------------------------------------------
class _Gaussian(Likelihood):
    """p(x|z) = N(x | decoder(z), sigma^2 I) on continuous x, for an exact marginal."""

    view = "unit"

    def __init__(self, sigma: float) -> None:
        self.sigma = sigma

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        d = x[0].numel()
        sq = (x - params).pow(2).flatten(-3).sum(-1)
        return -0.5 * sq / self.sigma**2 - 0.5 * d * math.log(2 * math.pi * self.sigma**2)


def _linear_gaussian_vae(shift: float = 0.0, widen: float = 0.0):
    """A VAE with a linear decoder, Gaussian likelihood and the exact (diagonal) posterior as
    encoder, perturbed by ``shift`` (mean) and ``widen`` (log variance)."""
    g = _gen(6)
    d, sigma = 784, 1.0
    q, _ = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))
    w = q * torch.tensor([1.5, 0.8], dtype=torch.float64)  # orthogonal columns: W^T W diagonal
    b = torch.randn(d, generator=g, dtype=torch.float64) * 0.1
    post_var = 1.0 / (1.0 + (w * w).sum(0) / sigma**2)  # (2,)
    a = post_var[:, None] * w.T / sigma**2  # posterior mean = a (x - b)
    model = _tiny_vae()
    model.likelihood = _Gaussian(sigma)
    model.decoder = nn.Sequential(nn.Linear(2, d), nn.Unflatten(1, (1, 28, 28))).double()
    model.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, 4)).double()
    with torch.no_grad():
        model.decoder[0].weight.copy_(w)
        model.decoder[0].bias.copy_(b)
        enc = model.encoder[1]
        enc.weight.zero_()
        enc.weight[:2] = a
        enc.bias[:2] = -a @ b + shift
        enc.bias[2:] = post_var.log() + widen
    z = torch.randn(5, 2, generator=g, dtype=torch.float64)
    x = (z @ w.T + b + sigma * torch.randn(5, d, generator=g, dtype=torch.float64)).view(
        5, 1, 28, 28
    )
    cov = w @ w.T + sigma**2 * torch.eye(d, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b, covariance_matrix=cov).log_prob(x.view(5, d))
    return model, x, exact


def test_importance_sampling_is_exact_with_the_true_posterior():
    model, x, exact = _linear_gaussian_vae()
    stats, _ = importance_stats(model, x, k=3, generator=_gen(7))
    torch.testing.assert_close(stats.log_mean(), exact, rtol=0, atol=1e-8)
    torch.testing.assert_close(stats.ess(), torch.full_like(exact, 3.0))


def test_importance_sampled_likelihood_converges_to_the_exact_marginal():
    model, x, exact = _linear_gaussian_vae(shift=0.4, widen=0.7)
    stats, _ = importance_stats(model, x, k=20_000, generator=_gen(8), rows=4096)
    assert torch.all(stats.mean_log() < exact - 0.05)  # the ELBO is strictly below
    err = (stats.log_mean() - exact).abs()
    assert torch.all(err < 4 * stats.stderr() + 1e-3) and torch.all(err < 0.03)
    naive = naive_stats(model, x, k=30_000, generator=_gen(9), rows=4096)
    assert torch.all((naive.log_mean() - exact).abs() < 4 * naive.stderr() + 0.01)


# -- likelihoods ----------------------------------------------------------------------------------
def test_bernoulli_samples_have_the_decoder_mean():
    p = torch.tensor([0.02, 0.3, 0.9, 0.99], dtype=torch.float64)
    logits = torch.logit(p).view(1, 1, 1, 4).expand(40_000, 1, 1, 4)
    draws = Bernoulli().sample(logits, _gen(10))
    se = (p * (1 - p) / 40_000).sqrt()
    assert torch.all((draws.mean(0).view(4) - p).abs() < 4 * se)
    # through the model: a decoder that ignores z and says p = 0.9 everywhere gives mostly ones
    model = _tiny_vae()
    with torch.no_grad():
        model.decoder[-2].weight.zero_()
        model.decoder[-2].bias.fill_(math.log(9.0))
    assert model.sample(500, _gen(11)).mean().item() == pytest.approx(0.9, abs=0.01)
    assert model.sample(2, _gen(11), mean=True).mean().item() == pytest.approx(0.9, abs=1e-9)


def test_bernoulli_log_prob_is_bce_and_broadcasts():
    logits = torch.randn(3, 2, 1, 28, 28, generator=_gen(12), dtype=torch.float64) * 3
    x = _binary_images(2)
    lp = Bernoulli().log_prob(logits, x)
    assert lp.shape == (3, 2)
    ref = (
        -nn.functional.binary_cross_entropy_with_logits(
            logits, x.expand_as(logits), reduction="none"
        )
        .flatten(2)
        .sum(-1)
    )
    torch.testing.assert_close(lp, ref)


def _logistic_params(n: int = 2, seed: int = 13) -> torch.Tensor:
    g = _gen(seed)
    mu = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64) * 1.4 - 0.2
    log_s = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64) * 6 - 8  # tiny to wide
    return torch.cat([mu, log_s], dim=1)


def test_discretized_logistic_is_a_normalised_distribution_with_the_stated_mean():
    lik = DiscretizedLogistic()
    params = _logistic_params()
    log_pmf = lik.log_pmf(params)  # (2, 1, 4, 4, 256)
    assert not torch.isnan(log_pmf).any() and (log_pmf <= 0).all()
    torch.testing.assert_close(log_pmf.exp().sum(-1), torch.ones(2, 1, 4, 4, dtype=torch.float64))
    values = torch.arange(256, dtype=torch.float64)
    mean = (log_pmf.exp() * values).sum(-1) / 255
    torch.testing.assert_close(lik.mean(params), mean)
    # log_prob of whole images is the sum of per-pixel pmf entries
    v = torch.randint(0, 256, (2, 1, 4, 4), generator=_gen(14))
    v[0, 0, 0, 0], v[1, 0, 0, 0] = 0, 255
    picked = log_pmf.gather(-1, v.unsqueeze(-1)).squeeze(-1).flatten(1).sum(-1)
    torch.testing.assert_close(lik.log_prob(params, v), picked)


def test_discretized_logistic_samples_follow_the_pmf():
    lik = DiscretizedLogistic()
    params = torch.tensor([0.5, math.log(0.02)], dtype=torch.float64).view(1, 2, 1, 1)
    draws = lik.sample(params.expand(50_000, -1, -1, -1), _gen(15)) * 255
    freq = torch.bincount(draws.round().long().view(-1), minlength=256).double() / 50_000
    pmf = lik.log_pmf(params).exp().view(256)
    assert (freq - pmf).abs().max() < 4 * (pmf * (1 - pmf) / 50_000).sqrt().max() + 1e-3


def test_discretized_logistic_gradients_are_finite_at_the_extremes():
    params = torch.tensor([[-3.0, 5.0, 0.5, 0.5], [-9.0, -9.0, 2.0, -20.0]], dtype=torch.float64)
    params = params.view(2, 4, 1, 1).permute(2, 0, 1, 3).reshape(1, 2, 1, 4).requires_grad_()
    x = torch.tensor([0, 255, 128, 3]).view(1, 1, 1, 4)
    lp = DiscretizedLogistic().log_prob(params, x)
    lp.sum().backward()
    assert torch.isfinite(lp).all() and torch.isfinite(params.grad).all()


# -- steps and family -----------------------------------------------------------------------------
def _batch(likelihood: str, n: int = 8) -> Batch:
    if likelihood == "logistic":
        x = torch.randint(0, 256, (n, 1, 28, 28), generator=_gen(16), dtype=torch.uint8)
    else:
        x = _binary_images(n).float()
    return Batch(x, torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize(("arch", "likelihood"), [("mlp", "bernoulli"), ("conv", "logistic")])
def test_train_step_changes_weights_and_eval_step_does_not(arch, likelihood):
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch=arch, hidden=16, z_dim=3, likelihood=likelihood, channels=4))
    step = VAEStep(model, model.cfg, TrainConfig(lr=1e-2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = step.eval_step(_batch(likelihood), _gen(17))
    assert set(out) == {"loss", "recon", "kl"} and out["loss"].shape == (8,)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    out = step.train_step(_batch(likelihood), _gen(18))
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])
    changed = [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]
    assert set(changed) == set(before)  # every parameter moved
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_family_interface():
    fam = get_family("vae")
    cfg = VAEConfig(hidden=16, z_dim=5)
    model = fam.build(cfg, (1, 28, 28))
    x = _batch("bernoulli", 4).x
    z = fam.encode(model, x)
    assert z.shape == (4, 5) and fam.latent_dim(cfg, (1, 28, 28)) == 5
    images = fam.decode(model, z)
    assert images.shape == (4, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert fam.data_view(VAEConfig(likelihood="logistic")) == "uint8"
    assert fam.sample(model, 3, _gen(0), mean=True).shape == (3, 1, 28, 28)
    with pytest.raises(TypeError):  # undeclared options are not swallowed
        fam.sample(model, 3, _gen(0), temperature=2.0)


def test_normal_quantile_grid_is_symmetric():
    grid = normal_quantile_grid(20)
    assert grid.shape == (400, 2) and torch.isfinite(grid).all()
    torch.testing.assert_close(grid.flip(0), -grid)
    assert grid[0, 1] > 0 and grid[0, 0] < 0  # top-left: low z1, high z2


def test_panels_are_composed_from_every_epoch_on_disk(tmp_path):
    """A resumed run's panels hold the epochs drawn before the interruption too."""
    from genzoo.training.rundir import RunDir
    from genzoo.viz.figures import draw_figures

    fam = get_family("vae")
    run = RunDir(tmp_path)
    for epoch in (0, 2, 10):  # e.g. 0 and 2 before a crash, 10 after the resume
        run.save_snapshot("samples", epoch, torch.rand(8, 1, 28, 28, generator=_gen(epoch)))
    draw_figures(fam.figures, tmp_path / "figures", run.snapshot_files(), [], epoch=10)
    names = {p.name for p in (tmp_path / "figures").iterdir()}
    assert names == {"samples.png", "samples_epoch010.png"}  # no records: no curves


# -- command line ---------------------------------------------------------------------------------
def test_cli_train_sample_evaluate_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from genzoo.cli.main import main

    common = ["--limit-train", "300", "--limit-eval", "200", "--runs-dir", str(tmp_path)]
    common += ["--threads", "1", "--quiet", "--epochs", "2", "--hidden", "64"]
    assert (
        main(["train", "vae", "--z-dim", "2", "--name", "z2", "--sample-epochs", "0,2", *common])
        == 0
    )
    run = tmp_path / "z2"
    figures = {p.name for p in (run / "figures").iterdir()}
    for name in ("curves.png", "samples.png", "means.png", "manifold.png", "recon.png"):
        assert name in figures
    assert "manifold_epoch000.png" in figures and "samples_epoch002.png" in figures
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "val"}

    out = tmp_path / "s.png"
    assert main(["sample", str(run), "-n", "16", "--out", str(out)]) == 0 and out.is_file()
    assert main(["evaluate", str(run), "--k", "8", "--threads", "1"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert result["examples"] == 200 and result["k"] == 8
    assert result["nll"] <= result["neg_elbo"] + 1e-9  # IWAE_k >= ELBO on the same draws
    assert 1 <= result["naive_ess_mean"] <= 8
    assert result["nll_bits_per_dim"] == pytest.approx(result["nll"] / (784 * math.log(2)))

    args = ["--likelihood", "logistic", "--arch", "conv", "--channels", "4", "--sample-epochs", "2"]
    assert main(["train", "vae", "--name", "conv", *args, *common]) == 0
    assert main(["evaluate", str(tmp_path / "conv"), "--k", "4", "--threads", "1"]) == 0
    conv = json.loads((tmp_path / "conv" / "eval.json").read_text())
    assert conv["likelihood"] == "logistic" and 0 < conv["nll_bits_per_dim"] < 8

    fig = tmp_path / "curves.png"
    plot = ["plot", "curves", str(run), str(tmp_path / "conv"), "--hline", "ref=300"]
    assert main([*plot, "--out", str(fig)]) == 0
    assert fig.is_file()


@pytest.mark.parametrize("arch", ["conv", "resconv"])
def test_conv_networks_run_channels_last_and_compute_the_plain_layout(arch):
    """The conv networks keep weights and activations channels-last (faster on CPU), yet give
    the plain layout's numbers, a contiguous output and the plain Sequential's state dict."""
    import copy

    torch.manual_seed(0)
    cfg = VAEConfig(arch=arch, channels=4, hidden=16, z_dim=3, likelihood="logistic")
    model = VAE(cfg, (3, 12, 12)).double()
    for net, x in ((model.encoder, torch.rand(5, 3, 12, 12)), (model.decoder, torch.randn(5, 3))):
        convs = [p for p in net.parameters() if p.dim() == 4]
        assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
        plain = nn.Sequential(*copy.deepcopy(list(net))).to(memory_format=torch.contiguous_format)
        assert list(plain.state_dict()) == list(net.state_dict())
        out = net(x.double())
        assert out.is_contiguous() and torch.allclose(out, plain(x.double()), atol=1e-12)
