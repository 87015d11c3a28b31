"""The DCGAN and the GAN options: shapes, spectral norm, hinge loss, R1 penalty, EMA sampling."""

from __future__ import annotations

import math
import os

import pytest
import torch
from torch import nn

from genzoo.config import TrainConfig
from genzoo.data.batches import Batch
from genzoo.errors import ConfigError
from genzoo.models.gan import GAN, GANConfig, discriminator_loss, generator_loss
from genzoo.models.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from genzoo.models.gan.losses import hinge_discriminator_loss, hinge_generator_loss, r1_penalty
from genzoo.models.gan.step import GANStep

TRAIN = TrainConfig(epochs=1, batch_size=8, lr=1e-3, betas=(0.5, 0.999))
OPTIONS = {
    "plain": {},
    "spectral_norm": {"spectral_norm": True},
    "hinge": {"loss": "hinge"},
    "r1": {"r1": 10.0},
    "r1_lazy": {"r1": 10.0, "r1_every": 2},
    "ema": {"ema_decay": 0.9},
    "all": {"spectral_norm": True, "loss": "hinge", "r1": 1.0, "ema_decay": 0.9},
}


def _step(shape=(1, 28, 28), **kw) -> GANStep:
    torch.manual_seed(0)
    cfg = GANConfig(arch="dcgan", z_dim=8, width=4, **kw)
    return GANStep(GAN(cfg, shape).double().train(), cfg, TRAIN)


def _x(n: int = 8, shape=(1, 28, 28)) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n, *shape, generator=gen, dtype=torch.float64) * 2 - 1


def _params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("sn", [False, True])
def test_shapes_and_three_generator_stages(shape, sn):
    torch.manual_seed(0)
    gan = GAN(GANConfig(arch="dcgan", z_dim=8, width=4, spectral_norm=sn), shape)
    assert gan.generator(torch.randn(5, 8)).shape == (5, *shape)
    assert gan.discriminator(torch.rand(5, *shape)).shape == (5,)
    assert gan.sample(3, torch.Generator().manual_seed(0)).shape == (3, *shape)
    layers = list(gan.generator.modules())
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in layers) == 2
    assert sum(isinstance(m, nn.Conv2d) for m in layers) == 1  # the stride-1 output stage
    assert isinstance(layers[-1], nn.Tanh)  # no BatchNorm on G's output
    d_layers = list(gan.discriminator.net)
    assert not isinstance(d_layers[1], nn.BatchNorm2d)  # none on D's first layer
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_layers) != sn


def test_sizes_not_divisible_by_four_are_refused():
    with pytest.raises(ConfigError, match="divisible by 4"):
        DCGANGenerator(GANConfig(arch="dcgan"), (1, 30, 30))
    with pytest.raises(ConfigError, match="divisible by 4"):
        DCGANDiscriminator(GANConfig(arch="dcgan"), (1, 28, 26))


@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_trains_a_step(name):
    step = _step(**OPTIONS[name])
    g0, d0 = _params(step.gan.generator), _params(step.gan.discriminator)
    terms = step.train_step(Batch(_x(), torch.zeros(8, dtype=torch.long)), torch.Generator())
    for key in ("loss", "loss_d", "loss_g", "d_real", "d_fake"):
        assert terms[key].shape == (8,) and torch.isfinite(terms[key]).all(), key
    after_g, after_d = _params(step.gan.generator), _params(step.gan.discriminator)
    assert all(not torch.equal(g0[k], after_g[k]) for k in g0)
    still = {k for k in d0 if torch.equal(d0[k], after_d[k])}
    # hinge: with every logit inside the margin, the last bias's gradient is (#fake - #real)/B
    last = len(step.gan.discriminator.net) - 1  # the final Linear
    hinge = OPTIONS[name].get("loss") == "hinge"
    assert {k.split(".")[1] for k in still} <= ({str(last)} if hinge else set()), still


def test_bce_and_hinge_losses_by_hand():
    real = torch.tensor([2.0, -0.5, 0.0], dtype=torch.float64)
    fake = torch.tensor([-3.0, 0.5, 1.5], dtype=torch.float64)
    sig = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    bce_d = [-math.log(sig(r)) - math.log(1 - sig(f)) for r, f in zip(real, fake, strict=True)]
    torch.testing.assert_close(discriminator_loss(real, fake), torch.tensor(bce_d).double())
    bce_g = [-math.log(sig(f)) for f in fake]
    torch.testing.assert_close(generator_loss(fake), torch.tensor(bce_g).double())
    # hinge: max(0, 1 - r) + max(0, 1 + f); G: -f
    hinge_d = torch.tensor([0.0 + 0.0, 1.5 + 1.5, 1.0 + 2.5], dtype=torch.float64)
    torch.testing.assert_close(hinge_discriminator_loss(real, fake), hinge_d)
    torch.testing.assert_close(hinge_generator_loss(fake), -fake)


def test_r1_penalty_matches_an_independent_gradient():
    torch.manual_seed(0)
    disc = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Softplus(), nn.Flatten(), nn.Linear(12, 1))
    disc = disc.double()
    x = torch.randn(4, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    got = r1_penalty(disc(x).squeeze(1), x, gamma=3.0)
    for i in range(4):  # one example at a time, through autograd.functional
        jac = torch.autograd.functional.jacobian(lambda xi: disc(xi[None]).sum(), x[i].detach())
        torch.testing.assert_close(got[i], 1.5 * jac.pow(2).sum())
    got.sum().backward()  # differentiable: D's weights receive the penalty's gradient
    weights = [p for p in disc.parameters() if p.dim() > 1]  # (biases do not move grad_x D)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights)


def test_lazy_r1_applies_every_n_steps_and_counts_through_resume():
    step = _step(r1=1.0, r1_every=3, spectral_norm=True)
    due = []
    for _ in range(7):
        due.append(step._r1_due())
        step.d_step(_x(), torch.Generator().manual_seed(0))
    assert due == [True, False, False, True, False, False, True]
    again = _step(r1=1.0, r1_every=3, spectral_norm=True)
    again.load_state_dict(step.state_dict())  # 7 steps done: the next is step 7, not due
    assert not again._r1_due()


def test_r1_changes_the_discriminator_update():
    a, b = _step(spectral_norm=True), _step(spectral_norm=True, r1=100.0)
    a.d_step(_x(), torch.Generator().manual_seed(0))
    b.d_step(_x(), torch.Generator().manual_seed(0))
    da, db = _params(a.gan.discriminator), _params(b.gan.discriminator)
    assert any(not torch.equal(da[k], db[k]) for k in da)


def test_spectral_norm_makes_each_weight_unit_norm():
    torch.manual_seed(0)
    disc = DCGANDiscriminator(GANConfig(arch="dcgan", width=4, spectral_norm=True), (3, 32, 32))
    for p in disc.parameters():  # far from unit norm before normalising
        p.data.mul_(5.0)
    with torch.no_grad():
        for _ in range(30):  # power iterations run in training mode, one per forward
            disc(torch.rand(2, 3, 32, 32))
    layers = [m for m in disc.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == 4
    for m in layers:
        w = m.weight.detach().flatten(1)  # (out, in * k * k), as spectral_norm treats it
        raw = m.parametrizations.weight.original.detach().flatten(1)
        assert torch.linalg.matrix_norm(raw, ord=2) > 2
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=1e-3)


def test_ema_update_rule_and_buffers():
    step = _step(ema_decay=0.75)
    gan = step.gan
    ema0 = _params(gan.generator_ema)
    step.g_step(_x(), torch.Generator().manual_seed(2))
    g = dict(gan.generator.named_parameters())
    for k, p in gan.generator_ema.named_parameters():
        torch.testing.assert_close(p, 0.75 * ema0[k] + 0.25 * g[k].detach())
    buffers = dict(gan.generator.named_buffers())
    for k, b_ema in gan.generator_ema.named_buffers():
        assert torch.equal(b_ema, buffers[k]), k  # BatchNorm statistics copied from G
    assert gan.sampler is gan.generator_ema


def test_ema_samples_and_checkpoint(tmp_path):
    """Train one tiny epoch; the loaded run samples from the EMA weights, not G's."""
    from genzoo.api import train
    from genzoo.runs import load_run
    from genzoo.training.checkpoint import load_checkpoint

    if not os.environ.get("GENZOO_DATA_DIR"):
        pytest.skip("GENZOO_DATA_DIR not set")
    cfg = GANConfig(arch="dcgan", z_dim=8, width=4, ema_decay=0.5)
    train("gan", tmp_path / "run", threads=1, epochs=1, batch_size=16, limit_train=64,
          limit_eval=32, arch="dcgan", z_dim=8, width=4, ema_decay=0.5, log_every=0,
          sample_epochs=())  # fmt: skip
    run = load_run(tmp_path / "run", "last")
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    ema, plain = DCGANGenerator(cfg), DCGANGenerator(cfg)
    ema.load_state_dict({k[14:]: v for k, v in state.items() if k.startswith("generator_ema.")})
    plain.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("generator.")})
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(5))
    got = run.sample(6, torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(got, (ema.eval()(z) + 1) / 2)
        assert not torch.allclose(got, (plain.eval()(z) + 1) / 2)


def test_config_refusals_and_per_arch_lr():
    from genzoo.api import make_config

    with pytest.raises(ConfigError, match="g-loss"):
        GANConfig(arch="dcgan", loss="hinge", g_loss="minimax")
    with pytest.raises(ConfigError, match="spectral-norm"):
        GANConfig(spectral_norm=True)
    dcgan = make_config("gan", arch="dcgan").train
    assert dcgan.lr == 2e-4 and dcgan.epochs == 60  # the measured hour-sized run
    assert make_config("gan").train.lr == 5e-4  # the report's MLP GAN, unchanged
    assert make_config("gan").train.epochs == 200
    assert make_config("gan", arch="dcgan", lr=1e-3).train.lr == 1e-3


def test_grouped_batchnorm_equals_separate_calls():
    """One call on [real; fake] with groups=2 is two calls, one per half (BatchNorm apart)."""
    torch.manual_seed(0)
    one = DCGANDiscriminator(GANConfig(arch="dcgan", width=4)).double().train()
    two = DCGANDiscriminator(GANConfig(arch="dcgan", width=4)).double().train()
    two.load_state_dict(one.state_dict())
    real, fake = _x(6), _x(6).flip(0).mul(0.5)
    joint = one(torch.cat([real, fake]), groups=2)
    torch.testing.assert_close(joint, torch.cat([two(real), two(fake)]))
    for (k, a), b in zip(one.state_dict().items(), two.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)  # running statistics updated alike
    assert not torch.allclose(joint, one(torch.cat([real, fake])))  # pooled stats differ
