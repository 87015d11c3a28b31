"""``genzoo.maths`` against independent computations in float64 (seeded)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genzoo.maths import (
    LOG_2PI,
    bits_per_dim,
    gaussian_kl,
    gaussian_log_prob,
    log_mean_exp,
    standard_normal_log_prob,
)

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_bits_per_dim_of_the_uniform_8bit_nll_is_8():
    d = 784
    assert bits_per_dim(d * math.log(256), d) == pytest.approx(8.0, rel=1e-15)
    nll = torch.full((3,), d * math.log(256), dtype=F64)
    torch.testing.assert_close(bits_per_dim(nll, d), torch.full((3,), 8.0, dtype=F64))


def test_bits_per_dim_takes_an_nll_not_a_log_prob():
    log_p = torch.tensor([-100.0, -250.0], dtype=F64)
    bpd = bits_per_dim(-log_p, 10)
    assert torch.all(bpd > 0)
    torch.testing.assert_close(bpd, -log_p / math.log(2) / 10)


def test_log_mean_exp_equals_the_direct_formula_for_moderate_values():
    x = torch.randn(7, 5, 3, generator=_gen(0), dtype=F64) * 3
    for dim in (0, 1, 2, -1):
        torch.testing.assert_close(log_mean_exp(x, dim), x.exp().mean(dim).log())


def test_log_mean_exp_is_stable_for_large_magnitudes():
    x = torch.randn(50, 4, generator=_gen(1), dtype=F64)
    for shift in (-1e4, 1e4):
        assert torch.isinf((x + shift).exp().mean(0).log()).all()  # the naive formula fails
        torch.testing.assert_close(log_mean_exp(x + shift, 0), log_mean_exp(x, 0) + shift)
    assert torch.equal(log_mean_exp(x[:1], 0), x[0])  # one sample: the sample itself


def test_standard_normal_log_prob_equals_torch_normal():
    z = torch.randn(6, 4, 9, generator=_gen(2), dtype=F64) * 2
    expected = Normal(torch.zeros((), dtype=F64), torch.ones((), dtype=F64)).log_prob(z).sum(-1)
    out = standard_normal_log_prob(z)
    assert out.shape == (6, 4) and out.dtype == F64
    torch.testing.assert_close(out, expected)
    assert LOG_2PI == math.log(2 * math.pi)


def test_standard_normal_log_prob_upcasts_half_precision():
    z = torch.randn(3, 8, generator=_gen(3))
    out = standard_normal_log_prob(z.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, standard_normal_log_prob(z.bfloat16().float()))


def test_gaussian_log_prob_equals_torch_normal_and_broadcasts():
    g = _gen(4)
    mu = torch.randn(5, 3, generator=g, dtype=F64)
    logvar = torch.randn(5, 3, generator=g, dtype=F64)
    z = torch.randn(7, 5, 3, generator=g, dtype=F64)  # (k, B, D) against (B, D)
    expected = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(z, mu, logvar), expected)
    zeros = torch.zeros_like(mu)
    torch.testing.assert_close(gaussian_log_prob(z, zeros, zeros), standard_normal_log_prob(z))


def test_gaussian_kl_equals_torch_kl_divergence():
    g = _gen(5)
    mu = torch.randn(8, 4, generator=g, dtype=F64) * 2
    logvar = torch.randn(8, 4, generator=g, dtype=F64)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, p).sum(-1))
    zero = torch.zeros(2, 3, dtype=F64)
    assert torch.equal(gaussian_kl(zero, zero), torch.zeros(2, dtype=F64))


def test_gaussian_kl_equals_a_monte_carlo_estimate():
    g = _gen(6)
    mu = torch.randn(4, 3, generator=g, dtype=F64)
    logvar = torch.randn(4, 3, generator=g, dtype=F64) * 0.7
    eps = torch.randn(200_000, 4, 3, generator=g, dtype=F64)
    z = mu + (0.5 * logvar).exp() * eps
    diff = gaussian_log_prob(z, mu, logvar) - standard_normal_log_prob(z)  # (S, 4)
    mc, se = diff.mean(0), diff.std(0) / math.sqrt(diff.shape[0])
    assert torch.all((mc - gaussian_kl(mu, logvar)).abs() < 4 * se + 1e-12)
