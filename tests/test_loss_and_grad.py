"""The optional fused oracle ``loss_and_grad(x) -> (loss(x), grad(x))``.

On every family, full objective and minibatch oracle (the same minibatch), in float64
and float32, it returns exactly the two separate calls; the fused logistic and
quadratic oracles make one product with the data fewer than the two calls; a problem
without an override gets the base class's default; and the protocol does not require
the method.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import problems

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAVE_SKLEARN, reason="needs scikit-learn")

CONFIGS = [
    ("quadratic", {"dim": 6}),
    ("quadratic", {"dim": 7, "rotate": False, "condition_number": 1e3}),
    ("quadratic", {"dim": 5, "noise": 0.5, "seed": 1}),
    ("quadratic", {"dim": 4, "noise": 2.0, "rotate": False}),
    ("quadratic", {"dim": 6, "dtype": "float32"}),
    ("quadratic", {"dim": 5, "noise": 0.5, "rotate": False, "dtype": "float32"}),
    ("quadratic", {"dim": 5, "noise": 0.5, "dtype": "float32"}),
    ("saddle", {"dim": 5, "n_neg": 2}),
    ("rosenbrock", {"dim": 7}),
    ("logistic", {"n_samples": 80, "n_features": 4, "batch_size": 16}),
    ("logistic", {"n_samples": 60, "n_features": 3, "batch_size": None, "standardize": True}),
    ("logistic", {"n_samples": 80, "n_features": 4, "batch_size": 16, "dtype": "float32"}),
    ("mlp", {"dataset": "spiral", "hidden": [6], "batch_size": 20}),
    ("mlp", {"dataset": "spiral", "hidden": [5, 4], "activation": "tanh", "batchnorm": True,
             "batch_size": 16}),
    ("mlp", {"dataset": "spiral", "hidden": [4], "activation": "maxout", "batch_size": None}),
    ("mlp", {"dataset": "spiral", "hidden": [5], "batch_size": 16, "dtype": "float32"}),
    pytest.param(("logistic", {"dataset": "breast_cancer", "standardize": True,
                               "batch_size": 64}), marks=needs_sklearn),
]


def _id(config):
    name, params = config.values[0] if hasattr(config, "values") else config
    return name + "[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]"


@pytest.fixture(params=CONFIGS, ids=[_id(c) for c in CONFIGS])
def problem(request):
    name, params = request.param
    return problems.get(name, **params)


def points(problem, n=3):
    rng = np.random.default_rng(7)
    return [problem.x0(k) + 0.3 * rng.standard_normal(problem.dim).astype(problem.dtype)
            for k in range(n)]


def assert_fused_is_separate(oracle, x):
    before = np.array(x, copy=True)
    value, g = oracle.loss_and_grad(x)
    assert type(value) is float
    assert value == oracle.loss(x)
    expected = oracle.grad(x)
    assert g.dtype == expected.dtype and g.shape == expected.shape
    np.testing.assert_array_equal(g, expected)
    assert not np.shares_memory(g, x)
    np.testing.assert_array_equal(x, before)  # the point is not modified


def test_full_objective(problem):
    assert type(problem).loss_and_grad is not problems.Problem.loss_and_grad or \
        problem.name == "saddle"  # every family but the saddle has its own fused oracle
    for x in points(problem):
        assert_fused_is_separate(problem, x)
        assert problem.loss_and_grad(x)[1].dtype == problem.dtype


def test_minibatch_oracle_on_the_same_minibatch(problem):
    oracle = problem.minibatch(np.random.default_rng(3))
    if problem.stochastic:
        assert oracle is not problem
        assert callable(getattr(oracle, "loss_and_grad", None))
    for x in points(problem):
        assert_fused_is_separate(oracle, x)
    # a second oracle from the same generator state is the same minibatch
    again = problem.minibatch(np.random.default_rng(3))
    x = problem.x0(1)
    value, g = again.loss_and_grad(x)
    assert value == oracle.loss(x)
    np.testing.assert_array_equal(g, oracle.grad(x))


def test_a_new_gradient_array_each_call(problem):
    x = problem.x0(2)
    _, g1 = problem.loss_and_grad(x)
    g1 += 1.0
    np.testing.assert_array_equal(problem.loss_and_grad(x)[1], problem.grad(x))


# One product with the data, not two ----------------------------------------------------


class CountingMatrix(np.ndarray):
    """An array that counts the matrix products it takes part in."""

    products = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul:
            CountingMatrix.products += 1
        inputs = tuple(i.view(np.ndarray) if isinstance(i, CountingMatrix) else i
                       for i in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)


def products(method, x):
    """Matrix products made by one call ``method(x)``."""
    CountingMatrix.products = 0
    method(x)
    return CountingMatrix.products


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_fused_makes_two_products_instead_of_three(dtype):
    p = problems.get("logistic", n_samples=50, n_features=3, batch_size=10, dtype=dtype)
    p._yx = p._yx.view(CountingMatrix)
    batch = p.minibatch(np.random.default_rng(0))
    assert isinstance(batch._yx, CountingMatrix)
    x = p.x0(0)
    for oracle in (p, batch):
        assert products(oracle.loss, x) == 1               # X @ w
        assert products(oracle.grad, x) == 2               # X @ w and X.T @ r
        assert products(oracle.loss_and_grad, x) == 2


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_quadratic_fused_makes_one_product_instead_of_two(noise):
    p = problems.get("quadratic", dim=5, noise=noise)
    p._a = p._a.view(CountingMatrix)
    x = p.x0(0)
    for oracle in (p, p.minibatch(np.random.default_rng(0))):
        assert products(oracle.loss, x) == 1
        assert products(oracle.grad, x) == 1
        assert products(oracle.loss_and_grad, x) == 1


# The default and the protocol --------------------------------------------------------------


class Bowl(problems.Problem):
    """A user problem that defines loss and grad only."""

    name = "bowl"

    def __init__(self):
        self.dim = 3
        self.params = {}
        self.calls = []

    def x0(self, seed=0):
        return np.full(3, float(seed + 1))

    def loss(self, x):
        self.calls.append("loss")
        return 0.5 * float(x @ x)

    def grad(self, x):
        self.calls.append("grad")
        return np.array(x, dtype=np.float64)


def test_the_base_class_default_calls_loss_then_grad():
    p = Bowl()
    value, g = p.loss_and_grad(np.array([1.0, 2.0, 3.0]))
    assert value == 7.0
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    assert p.calls == ["loss", "grad"]


def test_the_oracle_protocol_does_not_require_it():
    class Plain:
        def loss(self, x):
            return 0.0

        def grad(self, x):
            return x

        def hess(self, x):
            return np.eye(len(x))

    assert isinstance(Plain(), problems.Oracle)
    assert getattr(Plain(), "loss_and_grad", None) is None
