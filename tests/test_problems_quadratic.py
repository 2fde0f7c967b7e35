"""Quadratic: spectrum, the diagonal fast path, gradient noise, large dimensions."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import problems
from problems.quadratic import Quadratic, random_rotation


@pytest.mark.parametrize("rotate", [True, False])
@pytest.mark.parametrize("dim, kappa", [(2, 10.0), (8, 100.0), (30, 1e4), (5, 1.0)])
def test_hessian_has_the_requested_spectrum(dim, kappa, rotate):
    p = Quadratic(dim, condition_number=kappa, rotate=rotate, seed=4)
    h = p.hess(p.x0(0))
    assert np.linalg.cond(h) == pytest.approx(kappa, rel=1e-8)
    eig = np.linalg.eigvalsh(h)
    assert eig[0] == pytest.approx(1.0, rel=1e-10)
    assert eig[-1] == pytest.approx(kappa, rel=1e-10)
    # log-spaced: constant ratio between consecutive eigenvalues
    np.testing.assert_allclose(eig, kappa ** (np.arange(dim) / (dim - 1)), rtol=1e-9)


def test_rotation_is_orthogonal_and_not_trivial():
    q = random_rotation(6, np.random.default_rng(0))
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    h = Quadratic(6, seed=0).hess(np.zeros(6))
    off_diagonal = h - np.diag(np.diag(h))
    assert np.abs(off_diagonal).max() > 1.0  # A is not diagonal when rotated


def test_seed_changes_the_data():
    a, b = Quadratic(4, seed=0), Quadratic(4, seed=1)
    assert not np.array_equal(a.x_star, b.x_star)
    assert not np.allclose(a.hess(a.x_star), b.hess(b.x_star))
    np.testing.assert_array_equal(Quadratic(4, seed=1).hess(b.x_star), b.hess(b.x_star))


@pytest.mark.parametrize("rotate", [True, False])
def test_minimum(rotate):
    p = Quadratic(7, condition_number=50.0, seed=2, rotate=rotate)
    assert p.f_star == 0.0
    assert p.loss(p.x_star) == 0.0
    np.testing.assert_array_equal(p.grad(p.x_star), np.zeros(7))
    # the minimiser does not depend on rotate (drawn first from the data stream)
    np.testing.assert_array_equal(p.x_star, Quadratic(7, seed=2, rotate=not rotate).x_star)


def test_diagonal_fast_path_matches_a_dense_computation():
    dim, kappa = 9, 300.0
    p = Quadratic(dim, condition_number=kappa, rotate=False, seed=5)
    a = np.diag(np.geomspace(1.0, kappa, dim))  # the reference, dense
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = 3.0 * rng.standard_normal(dim)
        d = x - p.x_star
        assert p.loss(x) == pytest.approx(0.5 * d @ a @ d, rel=1e-13)
        np.testing.assert_allclose(p.grad(x), a @ d, rtol=1e-13)
        np.testing.assert_array_equal(p.hess(x), a)


def test_rotated_loss_matches_its_hessian():
    p = Quadratic(6, condition_number=20.0, seed=1)
    a = p.hess(p.x_star)
    x = p.x0(3)
    d = x - p.x_star
    assert p.loss(x) == pytest.approx(0.5 * d @ a @ d, rel=1e-12)
    np.testing.assert_allclose(p.grad(x), a @ d, rtol=1e-12)


def test_hess_returns_a_copy():
    p = Quadratic(3)
    h = p.hess(p.x_star)
    h[:] = 0.0
    assert np.linalg.cond(p.hess(p.x_star)) == pytest.approx(100.0)


def test_x0_is_a_standard_normal_perturbation_of_the_minimiser():
    p = Quadratic(20_000, rotate=False, seed=0)
    z = p.x0(0) - p.x_star
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    # x0 uses a stream apart from the data stream of the same seed
    assert not np.allclose(z, p.x_star)


# Gradient noise -----------------------------------------------------------------------


def test_noiseless_problem_is_deterministic():
    p = Quadratic(3)
    assert p.stochastic is False
    assert p.minibatch(np.random.default_rng(0)) is p


def test_noise_oracle_sees_one_draw_at_every_point():
    p = Quadratic(5, noise=0.7, seed=3)
    assert p.stochastic is True
    oracle = p.minibatch(np.random.default_rng(1))
    a = p.hess(p.x_star)
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(oracle.grad(x1) - oracle.grad(x2), a @ (x1 - x2),
                               atol=1e-12)
    # the draw is N(0, I) scaled by noise, and the loss is consistent with it
    np.testing.assert_allclose(oracle.grad(x1) - p.grad(x1), 0.7 * oracle.xi, atol=1e-12)
    assert oracle.loss(x1) == pytest.approx(
        p.loss(x1) + 0.7 * oracle.xi @ (x1 - p.x_star), rel=1e-12)
    np.testing.assert_array_equal(oracle.hess(x1), a)
    # another draw differs
    other = p.minibatch(np.random.default_rng(3))
    assert not np.allclose(other.grad(x1), oracle.grad(x1))


@pytest.mark.parametrize("rotate", [True, False])
def test_noise_averages_to_the_true_gradient(rotate):
    dim, noise, n = 6, 2.0, 4000
    p = Quadratic(dim, noise=noise, rotate=rotate, seed=1)
    rng = np.random.default_rng(7)
    x = p.x0(0)
    grads = np.array([p.minibatch(rng).grad(x) for _ in range(n)])
    err = grads.mean(axis=0) - p.grad(x)
    # each coordinate of the mean has standard deviation noise / sqrt(n)
    assert np.abs(err).max() < 4.5 * noise / np.sqrt(n)
    np.testing.assert_allclose(grads.std(axis=0), noise, rtol=0.05)


# Large dimensions ---------------------------------------------------------------------


def test_diagonal_quadratic_scales_to_large_dim():
    dim = 1_000_000
    tracemalloc.start()
    try:
        p = Quadratic(dim, condition_number=1e6, rotate=False)
        # the problem holds O(dim) numbers: x*, the eigenvalues and their roots
        held, _ = tracemalloc.get_traced_memory()
        assert held <= 3.5 * 8 * dim
        x = p.x0(0)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        f = p.loss(x)
        g = p.grad(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # loss then grad: one temporary vector, then the result
    assert peak - before <= 1.5 * 8 * dim
    lam = np.geomspace(1.0, 1e6, dim)
    idx = np.array([0, 1, dim // 2, dim - 1])
    d = x[idx] - p.x_star[idx]
    np.testing.assert_allclose(g[idx], lam[idx] * d, rtol=1e-12)
    assert np.isfinite(f) and f > 0
    with pytest.raises(ValueError, match="dim"):
        p.hess(x)


def test_rotated_quadratic_refuses_a_huge_dense_matrix():
    with pytest.raises(ValueError, match="rotate=False"):
        problems.get("quadratic", dim=100_000)
