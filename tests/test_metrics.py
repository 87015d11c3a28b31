"""Properties of the sample-quality metrics, on synthetic float64 features."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.evaluation.coverage import class_coverage
from genzoo.evaluation.frechet import feature_stats, fid_from_features, frechet_distance
from genzoo.evaluation.kid import kid, mmd2_unbiased
from genzoo.evaluation.linalg import sqrtm_psd, trace_sqrt_product
from genzoo.evaluation.precision_recall import knn_radii, precision_recall


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def features(n: int, d: int, seed: int, mix_seed: int | None = None) -> torch.Tensor:
    """Correlated, non-centred Gaussian features (N, D) in float64.

    Sets with the same ``mix_seed`` are samples of one distribution.
    """
    mix_gen = gen(seed if mix_seed is None else mix_seed)
    mix = torch.randn(d, d, generator=mix_gen, dtype=torch.float64) / math.sqrt(d)
    return torch.randn(n, d, generator=gen(seed + 1000), dtype=torch.float64) @ mix + 0.5


# matrix square root ---------------------------------------------------------------------------
def test_sqrtm_of_square_of_spd_matrix_is_that_matrix():
    g = gen(1)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    root = q @ torch.diag(torch.tensor([0.1, 0.5, 1.0, 2.0, 3.0, 7.0], dtype=torch.float64)) @ q.T
    torch.testing.assert_close(sqrtm_psd(root @ root), root, rtol=1e-10, atol=1e-10)


def test_sqrtm_of_diagonal_and_singular_matrices():
    d = torch.diag(torch.tensor([4.0, 9.0, 0.0, 0.25], dtype=torch.float64))
    torch.testing.assert_close(sqrtm_psd(d), d.sqrt())
    # a rank-one matrix v v^T has root v v^T / |v|; round-off eigenvalues ~1e-16 of the null
    # space become ~1e-8 after the square root, so the tolerance is sqrt(eps), not eps
    v = torch.tensor([[1.0], [2.0], [2.0]], dtype=torch.float64)
    torch.testing.assert_close(sqrtm_psd(v @ v.T), v @ v.T / 3.0, rtol=1e-7, atol=1e-7)


def test_sqrtm_squares_back_and_is_symmetric():
    x = features(50, 8, seed=2)
    s = feature_stats(x).sigma
    r = sqrtm_psd(s)
    torch.testing.assert_close(r, r.T)
    torch.testing.assert_close(r @ r, s, rtol=1e-9, atol=1e-12)


def test_trace_sqrt_product_matches_commuting_case():
    a = torch.diag(torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64))
    b = torch.diag(torch.tensor([4.0, 1.0, 16.0], dtype=torch.float64))
    assert float(trace_sqrt_product(a, b)) == pytest.approx(2.0 + 2.0 + 12.0, rel=1e-12)


# Frechet distance -----------------------------------------------------------------------------
def test_fid_of_a_set_with_itself_is_zero():
    x = features(500, 16, seed=3)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_grows_monotonically_with_noise():
    x = features(2000, 16, seed=4)
    noise = torch.randn(x.shape, generator=gen(5), dtype=torch.float64)
    values = [fid_from_features(x, x + s * noise) for s in (0.0, 0.1, 0.3, 1.0, 3.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-8)
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values


def test_fid_of_gaussians_matches_closed_form():
    # N(0, I) vs N(m, 4 I) in D dims: |m|^2 + D (1 + 4 - 2 * 2) = |m|^2 + D
    from genzoo.evaluation.frechet import GaussianStats

    d = 5
    a = GaussianStats(torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64), 1)
    m = torch.full((d,), 0.5, dtype=torch.float64)
    b = GaussianStats(m, 4 * torch.eye(d, dtype=torch.float64), 1)
    assert frechet_distance(a, b) == pytest.approx(float(m @ m) + d, rel=1e-12)


# KID ------------------------------------------------------------------------------------------
def test_kid_is_about_zero_for_one_distribution():
    x = features(2000, 16, seed=6, mix_seed=0)
    y = features(2000, 16, seed=7, mix_seed=0)
    same = kid(x, y, subsets=20, subset_size=500, generator=gen(9))
    shifted = kid(x, y + 0.5, subsets=20, subset_size=500, generator=gen(9))
    assert abs(same.mean) < 3 * same.std / math.sqrt(20) + 1e-3
    assert shifted.mean > 10 * abs(same.mean) and shifted.mean > 5 * shifted.std / math.sqrt(20)


def test_mmd2_unbiased_matches_a_loop():
    x, y = features(7, 3, seed=10), features(5, 3, seed=11)

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / 35
    assert float(mmd2_unbiased(x, y)) == pytest.approx(float(xx + yy - 2 * xy), rel=1e-12)


# precision and recall -------------------------------------------------------------------------
def test_knn_radii_match_brute_force():
    x = features(40, 4, seed=12)
    d = torch.cdist(x, x)
    expected = d.sort(dim=1).values[:, 3]
    torch.testing.assert_close(knn_radii(x, k=3, chunk=7), expected)


def test_precision_recall_of_identical_sets_is_one():
    x = features(300, 8, seed=13)
    pr = precision_recall(x, x.clone(), k=3, chunk=64)
    assert pr.precision == 1.0 and pr.recall == 1.0


def test_precision_recall_drop_for_disjoint_and_collapsed_sets():
    real = features(400, 8, seed=14)
    far = features(400, 8, seed=15) + 100.0
    pr = precision_recall(real, far, k=3)
    assert pr.precision == 0.0 and pr.recall == 0.0
    # a mode-collapsed generator: faithful samples (high precision), poor recall
    collapsed = real[:20].repeat(20, 1) + 1e-3 * torch.randn(
        400, 8, generator=gen(16), dtype=torch.float64
    )
    pr = precision_recall(real, collapsed, k=3)
    assert pr.precision > 0.9 and pr.recall < 0.3


# class coverage -------------------------------------------------------------------------------
def test_class_coverage_even_and_collapsed():
    even = class_coverage(torch.arange(1000) % 10)
    assert even.kl == pytest.approx(0.0, abs=1e-12) and even.rarest_share == pytest.approx(0.1)
    one = class_coverage(torch.full((50,), 3))
    assert one.kl == pytest.approx(math.log(10)) and one.rarest_share == 0.0
    assert one.shares[3] == 1.0
