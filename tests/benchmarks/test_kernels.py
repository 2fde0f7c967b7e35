"""pytest-benchmark micro-timings of the hot kernels.

In the ordinary test run (``--benchmark-disable`` in the pytest configuration) each
runs once as a test.  Time them with::

    python -m pytest tests/benchmarks --benchmark-enable --benchmark-only
    python -m pytest tests/benchmarks --benchmark-enable --benchmark-only --benchmark-autosave
    python -m pytest tests/benchmarks --benchmark-enable --benchmark-only --benchmark-compare
"""

from __future__ import annotations

import numpy as np
import pytest

import optimizers
import problems
from optbench.runner import CountingOracle, _Recorder

DIM = 100_000
FIRST_ORDER = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "nesterov": {"lr": 1e-3},
               "adagrad": {"lr": 1e-2}, "rmsprop": {"lr": 1e-3}, "adam": {"lr": 1e-3}}


class FixedGradient:
    def __init__(self, g):
        self.g = g

    def grad(self, x):
        return self.g


@pytest.mark.parametrize("name", sorted(FIRST_ORDER))
def test_optimizer_step(benchmark, name):
    rng = np.random.default_rng(0)
    opt = optimizers.get(name, **FIRST_ORDER[name])
    x = rng.standard_normal(DIM)
    oracle = FixedGradient(rng.standard_normal(DIM))
    state = opt.init(x)
    out = benchmark(opt.step, x, oracle, state)
    assert out is x and np.isfinite(x).all() and state.t >= 1


def test_newton_step(benchmark):
    prob = problems.get("quadratic", dim=200, condition_number=1e3)
    opt = optimizers.get("newton")
    x0 = prob.x0(0)
    state = opt.init(x0)
    x = benchmark(lambda: opt.step(x0.copy(), prob, state))
    assert prob.loss(x) < 1e-12


@pytest.mark.parametrize(
    "name, params",
    [
        ("quadratic", {"dim": 1000}),
        ("quadratic", {"dim": 1_000_000, "rotate": False}),
        ("rosenbrock", {"dim": 1000}),
        ("logistic", {"n_samples": 10_000, "n_features": 100}),
    ],
    ids=["quadratic-1e3", "quadratic-diag-1e6", "rosenbrock-1e3", "logistic-1e4x100"],
)
def test_full_gradient(benchmark, name, params):
    prob = problems.get(name, **params)
    x = prob.x0(0)
    g = benchmark(prob.grad, x)
    assert g.shape == x.shape and np.isfinite(g).all()


def test_logistic_minibatch_gradient(benchmark):
    prob = problems.get("logistic", n_samples=10_000, n_features=100, batch_size=256)
    x = prob.x0(0)
    rng = np.random.default_rng(0)
    g = benchmark(lambda: prob.minibatch(rng).grad(x))
    assert np.isfinite(g).all()


def test_mlp_forward_backward(benchmark):
    prob = problems.get("mlp", dataset="digits", hidden=[128, 128], batch_size=256)
    x = prob.x0(0)
    batch = prob.minibatch(np.random.default_rng(0))
    g = benchmark(batch.grad, x)
    assert g.shape == x.shape and np.isfinite(g).all()


def test_trace_recorder_row(benchmark):
    prob = problems.get("quadratic", dim=100)
    opt = optimizers.get("adam")
    x = prob.x0(0)
    recorder = _Recorder(prob, opt, CountingOracle(prob))
    state = opt.init(x)
    benchmark(recorder.record, 1, x, 0.0, state)
    assert len(recorder.rows) >= 1 and recorder.rows[-1][1] == pytest.approx(prob.loss(x))
