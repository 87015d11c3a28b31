"""The VAE's training objectives and residual nets: IWAE bound (K = 1 is the ELBO, weakly
growing with K, exact for an exact posterior), KL warm-up and free bits by value, resconv shapes,
and fused Adam agreeing with the per-tensor one.

Maths in float64 with fixed seeds.
"""

from __future__ import annotations

import json

import pytest
import torch

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.errors import ConfigError
from genzoo.maths import gaussian_log_prob, log_mean_exp, standard_normal_log_prob
from genzoo.models.vae import VAE, VAEConfig
from genzoo.models.vae.networks import ResBlock
from genzoo.models.vae.objectives import free_bits_kl, kl_per_dim, kl_weight
from genzoo.models.vae.step import VAEStep
from tests.test_vae import _binary_images, _gen, _linear_gaussian_vae, _tiny_vae


# -- IWAE ----------------------------------------------------------------------------------------
def test_iwae_with_one_sample_is_the_elbo_of_the_same_noise():
    model = _tiny_vae(z=3)
    x = _binary_images(6)
    elbo = model(x, _gen(1))  # single sample, closed-form KL
    iwae = model(x, _gen(1), k=1)  # the same generator draws the same eps
    torch.testing.assert_close(iwae.z, elbo.z, rtol=0, atol=0)
    # the single-sample ELBO with the Monte-Carlo KL: log p(x|z) + log p(z) - log q(z|x)
    mc_kl = gaussian_log_prob(elbo.z, elbo.mu, elbo.logvar) - standard_normal_log_prob(elbo.z)
    torch.testing.assert_close(-iwae.loss, -elbo.recon - mc_kl, rtol=0, atol=1e-10)
    torch.testing.assert_close(iwae.kl, elbo.kl)  # closed form either way
    torch.testing.assert_close(iwae.loss, iwae.recon + iwae.kl)  # k = 1: bound = ELBO


def test_iwae_objective_grows_weakly_with_k_on_average():
    model = _tiny_vae(z=2)
    x = _binary_images(3)
    with torch.no_grad():
        bounds = {
            k: torch.stack([-model(x, _gen(100 + r), k=k).loss for r in range(300)])  # (300, 3)
            for k in (1, 4, 16)
        }
    means = {k: b.mean(0) for k, b in bounds.items()}
    ses = {k: b.std(0) / 300**0.5 for k, b in bounds.items()}
    for lo, hi in ((1, 4), (4, 16)):
        assert torch.all(means[hi] - means[lo] > -3 * (ses[lo] ** 2 + ses[hi] ** 2).sqrt())
    assert torch.all(means[16] > means[1])  # strictly, for a posterior q cannot match


@pytest.mark.parametrize("k", [1, 5])
def test_iwae_objective_is_log_p_x_for_an_exact_posterior(k):
    model, x, exact = _linear_gaussian_vae()
    out = model(x, _gen(11), k=k)
    torch.testing.assert_close(-out.loss, exact, rtol=0, atol=1e-8)
    assert out.log_weights.shape == (k, 5)


def test_iwae_objective_has_gradients_and_is_log_mean_exp_of_the_weights():
    model = _tiny_vae(z=3)
    x = _binary_images(4)
    out = model(x, _gen(2), k=7)
    torch.testing.assert_close(out.loss, -log_mean_exp(out.log_weights, dim=0))
    out.loss.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# -- KL warm-up and free bits --------------------------------------------------------------------
def test_kl_weight_rises_linearly_then_stays_at_one():
    assert kl_weight(0.0, 10) == 0.0
    assert kl_weight(2.5, 10) == pytest.approx(0.25)
    assert kl_weight(10.0, 10) == 1.0 and kl_weight(37.0, 10) == 1.0
    assert kl_weight(0.0, 0) == 1.0  # off


def test_free_bits_floor_each_dimension_of_the_batch_mean_kl():
    kl_dims = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.2]], dtype=torch.float64)  # (B=2, D=3)
    # batch means per dim: 0.2, 3.0, 0.1; with a floor of 0.5: 0.5 + 3.0 + 0.5
    assert free_bits_kl(kl_dims, 0.5).item() == pytest.approx(4.0)
    assert free_bits_kl(kl_dims, 0.0).item() == pytest.approx(3.3)  # plain mean KL
    g = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.2]], dtype=torch.float64, requires_grad=True)
    free_bits_kl(g, 0.5).backward()
    assert torch.equal(g.grad, torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]]).double())


def test_kl_per_dim_sums_to_the_closed_form_kl():
    model = _tiny_vae(z=4)
    out = model(_binary_images(5), _gen(3))
    per_dim = kl_per_dim(out.mu, out.logvar)
    assert per_dim.shape == (5, 4) and torch.all(per_dim >= 0)
    torch.testing.assert_close(per_dim.sum(-1), out.kl)


def _step(seed: int, **cfg) -> VAEStep:
    torch.manual_seed(seed)
    model = VAE(VAEConfig(hidden=16, z_dim=3, **cfg)).double()
    return VAEStep(model, model.cfg, TrainConfig(lr=1e-2))


def _grads(step: VAEStep, batch: Batch, seed: int) -> dict[str, torch.Tensor]:
    step.train_step(batch, _gen(seed))
    return {n: p.grad.clone() for n, p in step.model.named_parameters()}


def test_kl_warmup_weights_the_kl_gradient_by_the_schedule():
    x = _binary_images(8)
    batch = Batch(x, torch.zeros(8, dtype=torch.long))
    warm = _step(0, kl_warmup=4.0)
    warm.set_position(global_step=10, steps_per_epoch=20)  # half an epoch in: weight 1/8
    out = warm.train_step(batch, _gen(5))
    assert torch.all(out["kl_weight"] == 0.125)
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])  # the bound, unweighted
    g_warm = {n: p.grad.clone() for n, p in warm.model.named_parameters()}
    # the same update by hand: recon + kl / 8 from the same weights and noise
    ref = _step(0)
    mu_out = ref.model(x, _gen(5))
    (mu_out.recon.mean() + 0.125 * mu_out.kl.mean()).backward()
    for n, p in ref.model.named_parameters():
        torch.testing.assert_close(g_warm[n], p.grad)


def test_free_bits_step_minimises_the_floored_kl():
    x = _binary_images(8)
    batch = Batch(x, torch.zeros(8, dtype=torch.long))
    g_fb = _grads(_step(0, free_bits=0.3), batch, 5)
    ref = _step(0)
    out = ref.model(x, _gen(5))
    (out.recon.mean() + free_bits_kl(kl_per_dim(out.mu, out.logvar), 0.3)).backward()
    for n, p in ref.model.named_parameters():
        torch.testing.assert_close(g_fb[n], p.grad)


def test_iwae_step_reports_the_bound_and_refuses_warmup():
    out = _step(0, objective="iwae", k_train=3).train_step(
        Batch(_binary_images(4), torch.zeros(4, dtype=torch.long)), _gen(1)
    )
    assert set(out) == {"loss", "recon", "kl"} and out["loss"].shape == (4,)
    assert torch.all(out["loss"] <= out["recon"] + out["kl"] + 1e-9)  # IWAE_k >= k-sample ELBO
    with pytest.raises(ConfigError, match="elbo objective"):
        VAEConfig(objective="iwae", kl_warmup=2.0)


# -- residual nets -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "likelihood"), [((1, 28, 28), "bernoulli"), ((3, 32, 32), "logistic")]
)
def test_resconv_nets_have_the_shapes_of_the_data(shape, likelihood):
    torch.manual_seed(0)
    cfg = VAEConfig(arch="resconv", hidden=32, z_dim=5, channels=8, res_blocks=2)
    cfg = VAEConfig(**{**cfg.__dict__, "likelihood": likelihood})
    model = VAE(cfg, shape)
    n_blocks = sum(isinstance(m, ResBlock) for m in model.modules())
    assert n_blocks == 8  # 2 per resolution, 2 resolutions, encoder and decoder
    x = torch.rand(2, *shape, generator=_gen(0))
    x = (x < 0.5).float() if likelihood == "bernoulli" else (x * 255).to(torch.uint8)
    out = model(x, _gen(1))
    assert out.mu.shape == (2, 5) and torch.isfinite(out.loss).all()
    params = model.decode(out.z)
    assert params.shape == (2, model.likelihood.param_channels * shape[0], *shape[1:])


def test_residual_block_is_identity_plus_its_branch():
    torch.manual_seed(0)
    block = ResBlock(6).double()
    x = torch.randn(2, 6, 5, 5, generator=_gen(2), dtype=torch.float64)
    torch.testing.assert_close(block(x), x + block.branch(x))
    assert not torch.allclose(block(x), x)  # non-identity at initialisation


# -- fused Adam ----------------------------------------------------------------------------------
def test_fused_adam_is_used_and_agrees_with_the_per_tensor_one_to_rounding():
    steps = [_step(0), _step(0)]
    assert steps[0].optimizers["adam"].param_groups[0]["fused"] is True
    plain = steps[1]
    plain.optimizers["adam"] = torch.optim.Adam(
        plain.model.parameters(), lr=1e-2, betas=plain.train_cfg.betas
    )
    batch = Batch(_binary_images(8), torch.zeros(8, dtype=torch.long))
    for i in range(5):
        for s in steps:
            s.train_step(batch, _gen(i))
    for a, b in zip(steps[0].model.parameters(), steps[1].model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


# -- CLI -----------------------------------------------------------------------------------------
def _records(run, split: str = "train") -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def test_cli_warmup_free_bits_resconv_and_iwae_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from genzoo.cli.main import main

    common = ["--limit-train", "256", "--limit-eval", "64", "--runs-dir", str(tmp_path)]
    common += ["--threads", "1", "--quiet", "--epochs", "2", "--hidden", "32", "--z-dim", "4"]
    common += ["--sample-epochs=", "--batch-size", "64"]
    warm = ["--kl-warmup", "4", "--free-bits", "0.05", "--name", "warm"]
    warm += ["--arch", "resconv", "--channels", "4"]
    assert main(["train", "vae", *warm, *common]) == 0
    cfg = json.loads((tmp_path / "warm" / "config.json").read_text())
    assert cfg["model"]["kl_warmup"] == 4 and cfg["model"]["arch"] == "resconv"
    assert cfg["train"]["precision"] == "fp32" and "AMX" in cfg["precision_note"]
    # 4 updates per epoch: weights (0, 1, 2, 3) / 16 in epoch 1, (4, ..., 7) / 16 in epoch 2
    weights = [r["kl_weight"] for r in _records(tmp_path / "warm")]
    assert weights == pytest.approx([6 / 64, 22 / 64])
    iwae = ["--objective", "iwae", "--k-train", "3", "--name", "iwae"]
    assert main(["train", "vae", *iwae, *common]) == 0
    val = _records(tmp_path / "iwae", "val")[-1]
    assert val["loss"] <= val["recon"] + val["kl"]  # minus IWAE_3 <= minus the 3-sample ELBO
    ev = ["--k", "8", "--naive-examples", "0", "--no-quality", "--threads", "1"]
    assert main(["evaluate", str(tmp_path / "iwae"), *ev]) == 0
    assert json.loads((tmp_path / "iwae" / "eval.json").read_text())["k"] == 8
