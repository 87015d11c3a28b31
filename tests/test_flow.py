"""Property tests of the flow family: every transform, in float64, with random non-identity
weights (the conditioners' zero-initialised last layers are re-initialised, otherwise every
coupling is the identity and the checks pass trivially).

One parametrised set of checks runs over all transforms (no copied tests): round trip,
log-det against the autograd Jacobian, inverse log-det, gradients, train/eval, save/load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from genzoo.maths import bits_per_dim
from genzoo.models.flow import (
    ActNorm,
    AffineCoupling,
    CompositeTransform,
    Flatten,
    Flow,
    IntervalSqueeze,
    InverseTransform,
    Logit,
    SpaceToDepth,
    Transform,
    UniformDequantize,
    channel_mask,
    checkerboard_mask,
    preprocessing,
    realnvp_flow,
)
from genzoo.models.flow.mlp import mlp_flow
from genzoo.models.flow.nets import MaskedNet, MLPNet, ResNet

DTYPE = torch.float64
SHAPE = (2, 4, 4)  # small images: Jacobians are 32 x 32


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randomize(module: nn.Module, seed: int = 0, scale: float = 0.3) -> nn.Module:
    """Perturb every parameter (zero-initialised layers become non-zero)."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


# inputs ---------------------------------------------------------------------------------------
def normal(shape: tuple[int, ...]) -> Callable[[int], Tensor]:
    return lambda b: torch.randn(b, *shape, generator=gen(1), dtype=DTYPE)


def unit(shape: tuple[int, ...]) -> Callable[[int], Tensor]:
    return lambda b: 0.05 + 0.9 * torch.rand(b, *shape, generator=gen(1), dtype=DTYPE)


def pixels(shape: tuple[int, ...]) -> Callable[[int], Tensor]:
    return lambda b: torch.randint(0, 256, (b, *shape), generator=gen(1)).to(DTYPE)


@dataclass
class Case:
    """A transform factory (seed -> transform) and the inputs it is defined on."""

    make: Callable[[int], Transform]
    inputs: Callable[[int], Tensor]
    stochastic: bool = False  # uses the generator (dequantisation): fixed seed per call
    continuous_inverse: bool = True  # the inverse is differentiable (not a floor)
    parameter_free: bool = False  # declared: has no parameters (every other case must have some)


def _coupling_mlp(seed: int) -> Transform:
    torch.manual_seed(seed)
    mask = checkerboard_mask(4, 4).expand(2, 4, 4).reshape(-1)
    return AffineCoupling(mask, MLPNet(32, 16, 64))


def _coupling_conv(seed: int, mask: Tensor) -> Transform:
    torch.manual_seed(seed)
    c = SHAPE[0]
    return AffineCoupling(mask, ResNet(c, 8, 2 * c, blocks=1), learn_scale=True)


def _actnorm(seed: int) -> Transform:
    t = ActNorm(SHAPE[0])
    t.initialize(normal(SHAPE)(8))
    return t


def _small_realnvp(seed: int) -> Transform:
    torch.manual_seed(seed)
    return realnvp_flow((1, 4, 4), scales=1, channels=8, blocks=1)


def _small_mlp(seed: int, compact: bool = True) -> Transform:
    torch.manual_seed(seed)
    return mlp_flow((1, 4, 4), pairs=2, hidden=16, compact=compact)


def _whole_flow(seed: int) -> Transform:
    """Preprocessing and a multi-scale body on 8-bit 1x4x4 images: the model's own transform."""
    torch.manual_seed(seed)
    body = realnvp_flow((1, 4, 4), scales=1, channels=8, blocks=1)
    return CompositeTransform([*preprocessing(0.05).transforms, body])


CASES: dict[str, Case] = {
    "dequantize": Case(lambda s: UniformDequantize(), pixels(SHAPE), True, False, True),
    "interval_squeeze": Case(lambda s: IntervalSqueeze(0.05), unit(SHAPE), parameter_free=True),
    "logit": Case(lambda s: Logit(), unit(SHAPE), parameter_free=True),
    "inverse_logit": Case(lambda s: InverseTransform(Logit()), normal(SHAPE), parameter_free=True),
    "preprocessing": Case(lambda s: preprocessing(0.05), pixels(SHAPE), True, False, True),
    "flatten": Case(lambda s: Flatten(SHAPE), normal(SHAPE), parameter_free=True),
    "space_to_depth": Case(lambda s: SpaceToDepth(), normal(SHAPE), parameter_free=True),
    "actnorm": Case(_actnorm, normal(SHAPE)),
    "coupling_mlp": Case(_coupling_mlp, normal((32,))),
    "coupling_checkerboard": Case(
        lambda s: _coupling_conv(s, checkerboard_mask(4, 4, 1)), normal(SHAPE)
    ),
    "coupling_channel": Case(lambda s: _coupling_conv(s, channel_mask(2)), normal(SHAPE)),
    "inverse_coupling": Case(
        lambda s: InverseTransform(_coupling_conv(s, channel_mask(2, 1))), normal(SHAPE)
    ),
    "mlp_flow": Case(_small_mlp, normal((1, 4, 4))),
    "mlp_flow_dense": Case(lambda s: _small_mlp(s, compact=False), normal((1, 4, 4))),
    "realnvp_flow": Case(_small_realnvp, normal((1, 4, 4))),
    "whole_flow": Case(_whole_flow, pixels((1, 4, 4)), True, False),
}


def build(name: str, seed: int = 0) -> tuple[Transform, Tensor]:
    case = CASES[name]
    t = randomize(case.make(seed).to(DTYPE), seed)
    return t, case.inputs(5)


def fwd(case: Case, t: Transform, x: Tensor) -> tuple[Tensor, Tensor]:
    return t(x, gen(7) if case.stochastic else None)


names = pytest.mark.parametrize("name", list(CASES))


@names
def test_round_trip(name: str):
    case = CASES[name]
    t, x = build(name)
    z, _ = fwd(case, t, x)
    x_back, _ = t.inverse(z)
    assert x_back.shape == x.shape
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)


@names
def test_logdet_matches_autograd_jacobian(name: str):
    case = CASES[name]
    t, x = build(name)
    for i in range(2):
        xi = x[i : i + 1]
        _, ld = fwd(case, t, xi)
        jac = torch.autograd.functional.jacobian(lambda v: fwd(case, t, v)[0].reshape(-1), xi)
        jac = jac.reshape(jac.shape[0], -1)
        assert jac.shape[0] == jac.shape[1]
        sign, logabsdet = torch.linalg.slogdet(jac)
        assert sign != 0
        torch.testing.assert_close(ld[0], logabsdet, atol=1e-6, rtol=1e-9)


@names
def test_inverse_logdet_is_minus_forward(name: str):
    case = CASES[name]
    t, x = build(name)
    z, ld = fwd(case, t, x)
    _, ld_inv = t.inverse(z)
    assert ld.shape == ld_inv.shape == (x.shape[0],)
    torch.testing.assert_close(ld_inv, -ld, atol=1e-6, rtol=1e-9)


@names
def test_every_parameter_gets_a_gradient(name: str):
    """A transform declared parameter-free has none; every other one has parameters (one that
    lost them fails here) and each receives a non-zero gradient."""
    case = CASES[name]
    t, x = build(name)
    params = list(t.parameters())
    if case.parameter_free:
        assert not params, [n for n, _ in t.named_parameters()]
        return
    assert params, f"{name} is not declared parameter-free but has no parameters"
    z, ld = fwd(case, t, x)
    (z.pow(2).sum() - ld.sum()).backward()
    for n, p in t.named_parameters():
        assert p.grad is not None, n
        assert p.grad.abs().sum() > 0, n


@names
def test_train_and_eval_mode_agree(name: str):
    """No layer depends on the batch once initialised (ActNorm, no batch norm)."""
    case = CASES[name]
    t, x = build(name)
    z_train, ld_train = fwd(case, t.train(), x)
    z_eval, ld_eval = fwd(case, t.eval(), x)
    torch.testing.assert_close(z_train, z_eval, atol=0, rtol=0)
    torch.testing.assert_close(ld_train, ld_eval, atol=0, rtol=0)


@names
def test_save_load_round_trip(name: str, tmp_path):
    case = CASES[name]
    t, x = build(name, seed=0)
    path = tmp_path / "t.pt"
    torch.save(t.state_dict(), path)
    other = case.make(1).to(DTYPE)
    other.load_state_dict(torch.load(path, weights_only=True))
    z0, ld0 = fwd(case, t, x)
    z1, ld1 = fwd(case, other, x)
    torch.testing.assert_close(z1, z0, atol=0, rtol=0)
    torch.testing.assert_close(ld1, ld0, atol=0, rtol=0)


@names
def test_inputs_follow_dtype(name: str):
    case = CASES[name]
    t, x = build(name)
    z, ld = fwd(case, t, x)
    assert z.dtype == DTYPE and ld.dtype == DTYPE


# closed-form densities -------------------------------------------------------------------------
class NormalQuantile(Transform):
    """``v in (0, 1) -> Phi^{-1}(v)``: maps U(0, 1) to N(0, 1) exactly (test-only)."""

    def _forward(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        z = math.sqrt(2) * torch.erfinv(2 * x - 1)
        log_phi = -0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)
        return z, -log_phi.reshape(x.shape[0], -1).sum(1)


def test_bpd_of_uniform_8bit_data_is_exactly_8():
    """Uniform 8-bit data under the exact uniform model: 8 bits/dim, whatever the noise."""
    pre = preprocessing(0.05)
    undo = [InverseTransform(t) for t in reversed(pre.transforms[1:])]
    model = Flow(CompositeTransform([*pre.transforms, *undo, NormalQuantile()]), (1, 4, 4))
    x = pixels((1, 4, 4))(64)
    bpd = bits_per_dim(-model.log_prob(x, gen(3)), model.dims)
    torch.testing.assert_close(bpd, torch.full_like(bpd, 8.0), atol=1e-9, rtol=0)


def test_bpd_of_elementwise_affine_flow_on_gaussian_data():
    """x ~ N(mu, sigma^2) per dimension; ActNorm set to (x - mu) / sigma is the exact model."""
    d = 16
    g = gen(4)
    mu = torch.randn(d, generator=g, dtype=DTYPE)
    sigma = torch.rand(d, generator=g, dtype=DTYPE) + 0.5
    x = mu + sigma * torch.randn(20000, d, generator=g, dtype=DTYPE)
    norm = ActNorm(d).to(DTYPE)
    with torch.no_grad():
        norm.bias.copy_(-mu)
        norm.log_scale.copy_(-sigma.log())
        norm.initialized.fill_(True)
    model = Flow(norm, (d,))
    exact = torch.distributions.Normal(mu, sigma).log_prob(x).sum(1)
    torch.testing.assert_close(model.log_prob(x), exact, atol=1e-9, rtol=1e-12)
    entropy_bits = (0.5 * torch.log(2 * math.pi * math.e * sigma**2)).mean() / math.log(2)
    bpd = bits_per_dim(-model.log_prob(x), model.dims).mean()
    assert abs(bpd - entropy_bits) < 0.01  # Monte Carlo error of 20000 draws ~ 0.002


def test_inverse_logit_is_finite_where_the_sigmoid_saturates():
    z = torch.tensor([[-200.0, -40.0, 0.0, 40.0, 200.0]])
    x, ld = Logit().inverse(z)
    assert torch.isfinite(x).all() and torch.isfinite(ld).all()
    assert (x > 0).all() and (x < 1).all()
    images, _ = preprocessing(0.05).inverse(torch.tensor([[-1e4, 0.0, 1e4]]))
    assert images.tolist() == [[0.0, 128.0, 255.0]]


def test_actnorm_data_dependent_init_standardises():
    x = 3 + 2 * torch.randn(256, 3, 4, 4, generator=gen(5), dtype=DTYPE)
    norm = ActNorm(3).to(DTYPE)
    z, _ = norm(x)
    assert bool(norm.initialized)
    torch.testing.assert_close(z.mean((0, 2, 3)), torch.zeros(3, dtype=DTYPE), atol=1e-9, rtol=0)
    torch.testing.assert_close(z.std((0, 2, 3)), torch.ones(3, dtype=DTYPE), atol=1e-5, rtol=0)


def test_compact_conditioner_equals_the_dense_one():
    """``MaskedNet`` computes what the report's dense 784-input net computes in a coupling."""
    mask = checkerboard_mask(4, 4, 1).reshape(-1).to(DTYPE)
    torch.manual_seed(0)
    dense = randomize(MLPNet(16, 12, 32).to(DTYPE), 0)
    t_dense = AffineCoupling(mask, dense)
    t_compact = AffineCoupling(mask, MaskedNet.from_dense(mask, dense))
    x = normal((16,))(6)
    z0, ld0 = t_dense(x)
    z1, ld1 = t_compact(x)
    torch.testing.assert_close(z1, z0, atol=1e-12, rtol=0)
    torch.testing.assert_close(ld1, ld0, atol=1e-12, rtol=0)


def test_fresh_couplings_are_the_identity():
    """The zero-initialised last layer makes an untrained coupling the identity (the reason
    every other test re-initialises it)."""
    t = _coupling_mlp(0).to(DTYPE)
    x = normal((32,))(4)
    z, ld = t(x)
    torch.testing.assert_close(z, x)
    torch.testing.assert_close(ld, torch.zeros(4, dtype=DTYPE))
