"""GAN family: step isolation, losses, EMA, sampling, interpolation paths and a CLI smoke run."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.maths.interpolation import choose_pairs, interpolate, lerp, quantile, slerp
from genzoo.models.gan import GAN, GANConfig, discriminator_loss, generator_loss
from genzoo.models.gan.step import GANStep

TRAIN = TrainConfig(epochs=1, batch_size=8, lr=1e-3, betas=(0.5, 0.999))


def _step(arch: str = "mlp", **kw) -> GANStep:
    torch.manual_seed(0)
    cfg = GANConfig(arch=arch, z_dim=8, width=4, **kw)
    model = GAN(cfg).double().train()
    return GANStep(model, cfg, TRAIN)


def _batch(n: int = 8) -> Batch:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 28, 28, generator=gen, dtype=torch.float64) * 2 - 1
    return Batch(x, torch.zeros(n, dtype=torch.long))


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_d_step_changes_only_discriminator(arch):
    step = _step(arch)
    g0, d0 = _snapshot(step.gan.generator), _snapshot(step.gan.discriminator)
    step.d_step(_batch().x, torch.Generator().manual_seed(2))
    assert not _changed(g0, step.gan.generator)
    assert _changed(d0, step.gan.discriminator) == set(d0)  # every D parameter moved


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_g_step_changes_only_generator(arch):
    step = _step(arch)
    g0, d0 = _snapshot(step.gan.generator), _snapshot(step.gan.discriminator)
    step.g_step(_batch().x, torch.Generator().manual_seed(2))
    assert not _changed(d0, step.gan.discriminator)
    assert all(p.grad is None for p in step.gan.discriminator.parameters())
    assert _changed(g0, step.gan.generator) == set(g0)
    assert all(p.requires_grad for p in step.gan.discriminator.parameters())


def test_train_step_terms_and_eval_step_changes_nothing():
    step = _step()
    out = step.train_step(_batch(), torch.Generator().manual_seed(3))
    assert set(out) == {"loss", "loss_d", "loss_g", "d_real", "d_fake"}
    assert all(v.shape == (8,) for v in out.values())
    torch.testing.assert_close(out["loss"], out["loss_d"] + out["loss_g"])
    assert ((out["d_real"] > 0) & (out["d_real"] < 1)).all()
    state = {k: v.clone() for k, v in step.model.state_dict().items()}
    step.model.eval()
    ev = step.eval_step(_batch(), torch.Generator().manual_seed(4))
    assert "loss" not in ev  # no model selection by D's validation loss (see step.py)
    assert set(ev) == {"loss_d", "loss_g", "d_real", "d_fake"}
    for k, v in step.model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_losses_equal_hand_computed_values():
    real = torch.tensor([0.0, 2.0, -1.0, 30.0], dtype=torch.float64)
    fake = torch.tensor([1.0, -3.0, 0.5, -30.0], dtype=torch.float64)

    def sig(v: float) -> float:
        return 1 / (1 + math.exp(-v))

    d = [
        -math.log(sig(r)) - math.log(1 - sig(f))
        for r, f in zip(real.tolist(), fake.tolist(), strict=True)
    ]
    ns = [-math.log(sig(f)) for f in fake.tolist()]
    mm = [math.log(1 - sig(f)) for f in fake.tolist()]
    torch.testing.assert_close(discriminator_loss(real, fake), torch.tensor(d, dtype=torch.float64))
    torch.testing.assert_close(generator_loss(fake), torch.tensor(ns, dtype=torch.float64))
    torch.testing.assert_close(
        generator_loss(fake, "minimax"), torch.tensor(mm, dtype=torch.float64)
    )
    # at D = 1/2 everywhere, D's loss is log 4
    zero = torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(discriminator_loss(zero, zero), torch.full_like(zero, math.log(4)))
    # huge logits stay finite (computed from logits, not log(sigmoid))
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(discriminator_loss(big, -big)).all()
    assert torch.isfinite(generator_loss(-big)).all()


def test_ema_follows_generator_and_is_in_state_dict():
    step = _step(ema_decay=0.5)
    gan = step.gan
    ema0 = _snapshot(gan.generator_ema)
    g0 = _snapshot(gan.generator)
    step.g_step(_batch().x, torch.Generator().manual_seed(2))
    for k, p in gan.generator_ema.named_parameters():
        torch.testing.assert_close(
            p, 0.5 * ema0[k] + 0.5 * dict(gan.generator.named_parameters())[k]
        )
        assert not p.requires_grad
    assert g0.keys() == ema0.keys()
    assert any(k.startswith("generator_ema.") for k in gan.state_dict())
    assert gan.sampler is gan.generator_ema
    assert not any(k.startswith("generator_ema.") for k in GAN(GANConfig()).state_dict())


def test_samples_in_unit_range_and_independent_of_batch():
    gan = GAN(GANConfig(z_dim=8)).eval()
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    x = gan.decode(z)
    assert x.shape == (6, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    torch.testing.assert_close(gan.decode(z[:2]), x[:2])  # eval-mode BatchNorm
    a = gan.sample(4, torch.Generator().manual_seed(5))
    b = gan.sample(4, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("path", ["lerp", "slerp", "quantile"])
def test_interpolation_endpoints_are_exact(path):
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        z0, z1 = torch.randn(2, 50, generator=gen, dtype=dtype)
        out = interpolate(z0, z1, 9, path)
        assert out.shape == (9, 50) and out.dtype == dtype
        assert torch.equal(out[0], z0) and torch.equal(out[-1], z1)
        assert torch.isfinite(out).all()


def test_slerp_keeps_unit_norm_and_lerp_is_straight():
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 20, generator=gen, dtype=torch.float64)
    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    t = torch.linspace(0, 1, 33, dtype=torch.float64)
    path = slerp(u0, u1, t)
    torch.testing.assert_close(path.norm(dim=1), torch.ones(33, dtype=torch.float64))
    # constant angular speed: consecutive points equally far apart
    gaps = (path[1:] - path[:-1]).norm(dim=1)
    torch.testing.assert_close(gaps, gaps.mean().expand_as(gaps))
    torch.testing.assert_close(lerp(z0, z1, t)[16], 0.5 * (z0 + z1))
    # parallel latents fall back to the straight line
    torch.testing.assert_close(slerp(u0, 2 * u0, t), lerp(u0, 2 * u0, t))


def test_quantile_path_is_equidistant_in_the_unit_cube():
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 10, generator=gen, dtype=torch.float64)
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    u = torch.special.ndtr(quantile(z0, z1, t))
    steps = u[1:] - u[:-1]  # (8, D), all equal per dimension
    torch.testing.assert_close(steps, steps.mean(0, keepdim=True).expand_as(steps))


def test_choose_pairs_joins_different_classes():
    labels = torch.tensor([3, 3, 7, 1, 7, 1, 3, 9])
    pairs = choose_pairs(labels, 6)
    assert len(pairs) == 6
    assert all(labels[i] != labels[j] for i, j in pairs)
    assert len({(int(labels[i]), int(labels[j])) for i, j in pairs}) > 1
    rand = choose_pairs(None, 4, torch.Generator().manual_seed(0), n=10)
    assert all(i != j and 0 <= i < 10 and 0 <= j < 10 for i, j in rand)


def test_cli_train_sample_interpolate(tmp_path, capsys):
    if not os.environ.get("GENZOO_DATA_DIR"):
        pytest.skip("GENZOO_DATA_DIR not set")
    from genzoo.cli.main import main

    runs = tmp_path / "runs"
    args = ["train", "gan", "--epochs", "1", "--limit-train", "128", "--limit-eval", "64"]
    args += ["--z-dim", "16", "--ema-decay", "0.9", "--sample-epochs", "0,1", "--log-every", "1"]
    assert main([*args, "--runs-dir", str(runs), "--name", "g", "--threads", "1", "--quiet"]) == 0
    run = runs / "g"
    for name in ("samples_epoch000.png", "samples_epoch001.png", "samples.png",
                 "losses.png", "d_outputs.png", "losses_epoch.png"):  # fmt: skip
        assert (run / "figures" / name).is_file(), name
    out = tmp_path / "s.png"
    assert main(["sample", str(run), "-n", "16", "--out", str(out), "--device", "cpu"]) == 0
    assert out.is_file()
    for path in ("lerp", "slerp", "quantile"):
        target = tmp_path / f"i-{path}.png"
        code = main(["interpolate", str(run), "--path", path, "--rows", "3", "--out",
                     str(target), "--device", "cpu"])  # fmt: skip
        assert code == 0 and target.is_file()
    from PIL import Image

    with Image.open(tmp_path / "i-lerp.png") as img:  # 3 rows of 9 (30 px per cell, scale 2)
        assert img.size == (2 * (9 * 30 + 2), 2 * (3 * 30 + 2))
    assert "endpoints:" in capsys.readouterr().out


def test_resume_is_exact_with_two_optimizers_and_ema(tmp_path):
    from genzoo.api import make_config
    from genzoo.training.loop import fit

    kw = dict(epochs=2, limit_train=128, limit_eval=64, z_dim=8, ema_decay=0.9, log_every=0)
    cfg = make_config("gan", seed=3, sample_epochs=(), **kw)
    full = fit(cfg, tmp_path / "full", quiet=True)
    first = fit(make_config("gan", seed=3, sample_epochs=(), **{**kw, "epochs": 1}),
                tmp_path / "part", quiet=True)  # fmt: skip
    assert len(first.history) == 2
    config_path = tmp_path / "part" / "config.json"
    saved = json.loads(config_path.read_text())
    saved["train"]["epochs"] = 2  # extend the run, as a user would to train longer
    config_path.write_text(json.dumps(saved))
    resumed = fit(None, tmp_path / "part", resume=True, quiet=True)  # type: ignore[arg-type]
    assert full.history[-1]["loss_d"] == resumed.history[-1]["loss_d"]
    assert full.history[-1]["loss_g"] == resumed.history[-1]["loss_g"]
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_choose_pairs_prefers_confident_candidates():
    labels = torch.tensor([0, 0, 1, 1])
    scores = torch.tensor([0.2, 0.9, 0.95, 0.3])
    # most confident first, then the next ones (rows differ)
    assert choose_pairs(labels, 2, scores=scores) == [(1, 2), (3, 0)]
