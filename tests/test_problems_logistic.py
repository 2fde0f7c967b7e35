"""Logistic regression: data, stable loss, minibatches and the tight f_star."""

from __future__ import annotations

import sys
import tracemalloc

import numpy as np
import pytest
from scipy.optimize import minimize

import problems
from problems import logistic as logistic_module
from problems.logistic import Logistic

SMALL = {"n_samples": 200, "n_features": 5}


def naive_loss(X, y, w, reg):
    """The textbook formula, fine for moderate margins."""
    return np.mean(np.log(1.0 + np.exp(-y * (X @ w)))) + 0.5 * reg * w @ w


# Data ---------------------------------------------------------------------------------


def test_design_matrix_has_an_intercept_column():
    p = Logistic(**SMALL)
    assert p.dim == 6 and p.X.shape == (200, 6)
    np.testing.assert_array_equal(p.X[:, -1], 1.0)
    assert set(np.unique(p.y)) == {-1.0, 1.0}


def test_raw_synthetic_features_are_off_center_and_badly_scaled():
    p = Logistic(n_samples=2000, n_features=8)
    features = p.X[:, :-1]
    std = features.std(axis=0)
    assert std.max() / std.min() > 50  # two decades of scales
    assert np.all(np.abs(features.mean(axis=0)) > 1.5)


def test_standardize_centers_and_scales_the_features():
    p = Logistic(n_samples=300, n_features=6, standardize=True)
    features = p.X[:, :-1]
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(features.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(p.X[:, -1], 1.0)
    np.testing.assert_array_equal(p.y, Logistic(n_samples=300, n_features=6).y)


def test_labels_follow_a_model():
    p = Logistic(n_samples=2000, n_features=10, standardize=True)
    accuracy = np.mean(np.sign(p.X @ p.w_star) == p.y)
    assert 0.75 < accuracy < 1.0  # informative but not separable
    assert 0.2 < np.mean(p.y == 1.0) < 0.8


def test_data_depends_on_seed_only():
    a, b, c = Logistic(**SMALL, seed=1), Logistic(**SMALL, seed=1), Logistic(**SMALL, seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)


# The objective ------------------------------------------------------------------------


def test_loss_matches_the_textbook_formula():
    p = Logistic(**SMALL, reg=0.05)
    rng = np.random.default_rng(0)
    for _ in range(3):
        w = 0.05 * rng.standard_normal(p.dim)
        assert p.loss(w) == pytest.approx(naive_loss(p.X, p.y, w, 0.05), rel=1e-13)


def test_loss_is_finite_for_huge_margins():
    p = Logistic(**SMALL, reg=1e-3)
    w = 1e4 * p.w_star
    f = p.loss(w)
    margins = p.y * (p.X @ w)
    # log(1 + e^-m) is max(-m, 0) up to e^-|m|
    expected = np.mean(np.maximum(-margins, 0.0)) + 0.5e-3 * w @ w
    assert np.isfinite(f) and f == pytest.approx(expected, rel=1e-6)
    assert np.all(np.isfinite(p.grad(w)))
    assert np.all(np.isfinite(p.hess(w)))
    assert np.all(np.isfinite(p.hess(-w)))
    with np.errstate(over="ignore"):
        assert not np.isfinite(naive_loss(p.X, p.y, -w, 1e-3))  # the naive formula is not


def test_hessian_avoids_an_n_by_n_intermediate():
    p = Logistic(n_samples=5000, n_features=5)
    w = p.x0(0)
    tracemalloc.start()
    try:
        p.hess(w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * p.X.nbytes  # a dense 5000 x 5000 would be 200 MB


# Minibatches --------------------------------------------------------------------------


def test_minibatch_rows_are_distinct_and_reproducible():
    p = Logistic(n_samples=100, n_features=3, batch_size=40)
    assert p.stochastic
    a = p.minibatch(np.random.default_rng(3))
    b = p.minibatch(np.random.default_rng(3))
    assert len(a.indices) == 40 and len(np.unique(a.indices)) == 40
    assert a.indices.min() >= 0 and a.indices.max() < 100
    np.testing.assert_array_equal(a.indices, b.indices)
    rng = np.random.default_rng(3)
    successive = [p.minibatch(rng).indices for _ in range(2)]
    assert not np.array_equal(successive[0], successive[1])


def test_minibatch_is_the_objective_on_its_rows():
    p = Logistic(n_samples=100, n_features=3, batch_size=25, reg=0.01)
    oracle = p.minibatch(np.random.default_rng(0))
    rows = oracle.indices
    w = 0.1 * np.random.default_rng(1).standard_normal(p.dim)
    sub = p.X[rows]
    assert oracle.loss(w) == pytest.approx(naive_loss(sub, p.y[rows], w, 0.01), rel=1e-13)
    # the mean over the whole set of rows is the full objective
    full = Logistic(n_samples=100, n_features=3, batch_size=25, reg=0.01)
    everything = logistic_module.LogisticBatchOracle(full, np.arange(100))
    assert everything.loss(w) == pytest.approx(full.loss(w), rel=1e-14)
    np.testing.assert_allclose(everything.grad(w), full.grad(w), rtol=1e-12)
    np.testing.assert_allclose(everything.hess(w), full.hess(w), rtol=1e-12)


@pytest.mark.parametrize("batch_size", [None, 100, 500])
def test_full_batch_is_deterministic(batch_size):
    p = Logistic(n_samples=100, n_features=3, batch_size=batch_size)
    assert p.stochastic is False
    assert p.minibatch(np.random.default_rng(0)) is p
    assert p.params["batch_size"] == batch_size


# f_star -------------------------------------------------------------------------------


@pytest.mark.parametrize("standardize", [False, True])
def test_f_star_matches_scipy_bfgs(standardize):
    p = Logistic(**SMALL, reg=1e-2, standardize=standardize, seed=3)
    res = minimize(p.loss, np.zeros(p.dim), jac=p.grad, method="BFGS",
                   options={"gtol": 1e-11, "maxiter": 10_000})
    assert np.linalg.norm(p.grad(p.w_star)) < 1e-9
    assert p.f_star <= res.fun + 1e-12
    assert p.f_star == pytest.approx(res.fun, abs=1e-8)


@pytest.mark.parametrize("standardize", [False, True])
def test_f_star_matches_scikit_learn(standardize):
    linear_model = pytest.importorskip("sklearn.linear_model")
    reg = 1e-3
    p = Logistic(**SMALL, reg=reg, standardize=standardize)
    # sklearn minimises C sum_i log-loss + |w|^2 / 2, i.e. n C (our objective / reg)
    model = linear_model.LogisticRegression(
        C=1.0 / (reg * p.n_samples), fit_intercept=False, solver="newton-cholesky",
        tol=1e-12, max_iter=1000)
    model.fit(p.X, p.y)
    w = model.coef_.ravel()
    assert p.f_star == pytest.approx(p.loss(w), abs=1e-8)
    assert p.f_star <= p.loss(w) + 1e-12
    np.testing.assert_allclose(p.w_star, w, rtol=1e-5, atol=1e-6)


def test_standardize_improves_the_conditioning():
    raw = Logistic(n_samples=500, n_features=6, seed=1)
    std = Logistic(n_samples=500, n_features=6, seed=1, standardize=True)
    cond_raw = np.linalg.cond(raw.hess(raw.w_star))
    cond_std = np.linalg.cond(std.hess(std.w_star))
    assert cond_std * 10 < cond_raw


def test_f_star_is_cached_across_instances(monkeypatch):
    params = {"n_samples": 80, "n_features": 2, "reg": 0.02, "seed": 11}
    first = Logistic(**params, batch_size=8).f_star

    def no_more_solves(*args):
        raise AssertionError("f_star solved twice")

    monkeypatch.setattr(logistic_module, "_solve", no_more_solves)
    assert Logistic(**params, batch_size=None).f_star == first
    with pytest.raises(AssertionError, match="twice"):
        _ = Logistic(**{**params, "reg": 0.03}).f_star
    w = Logistic(**params).w_star
    w[:] = 0.0  # a copy: the cache is not changed
    assert np.linalg.norm(Logistic(**params).w_star) > 0


def test_x0_is_a_small_perturbation_of_zero():
    p = Logistic(**SMALL)
    for seed in range(3):
        assert 0 < np.abs(p.x0(seed)).max() < 0.1


# Bundled data -------------------------------------------------------------------------


def test_breast_cancer():
    pytest.importorskip("sklearn")
    p = problems.get("logistic", dataset="breast_cancer", standardize=True)
    assert p.X.shape == (569, 31) and p.dim == 31
    assert p.params["n_samples"] == 569 and p.params["n_features"] == 30
    assert 0.0 < p.f_star < np.log(2.0)
    assert np.linalg.norm(p.grad(p.w_star)) < 1e-9
    # sizes given explicitly must agree with the data
    assert problems.get("logistic", dataset="breast_cancer", n_samples=569).dim == 31
    with pytest.raises(ValueError, match="n_samples"):
        problems.get("logistic", dataset="breast_cancer", n_samples=100)
    with pytest.raises(ValueError, match="n_features"):
        problems.get("logistic", dataset="breast_cancer", n_features=3)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install optbench\[datasets\]"):
        Logistic(dataset="breast_cancer")
