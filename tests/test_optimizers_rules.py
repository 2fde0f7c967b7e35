"""The update rules of optimizers/first_order.py and optimizers/adaptive.py.

The references below are the lecture's pseudo-code written out with plain numpy
expressions (no in-place tricks), one step per loop iteration.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optimizers
from optimizers import schedules


class Quadratic:
    """f(x) = x^T A x / 2 - b^T x, counting its oracle calls."""

    def __init__(self, A, b):
        self.A = np.asarray(A, dtype=float)
        self.b = np.asarray(b, dtype=float)
        self.calls = {"loss": 0, "grad": 0, "hess": 0}

    def loss(self, x):
        self.calls["loss"] += 1
        return float(0.5 * x @ self.A @ x - self.b @ x)

    def grad(self, x):
        self.calls["grad"] += 1
        return self.A @ x - self.b

    def hess(self, x):
        self.calls["hess"] += 1
        return self.A.copy()

    def minimizer(self):
        return np.linalg.solve(self.A, self.b)


def tilted():
    """A rotated, 2-D, positive definite quadratic (eigenvalues (5 +- sqrt(5)) / 2)."""
    return Quadratic([[3.0, 1.0], [1.0, 2.0]], [1.0, -1.0])


X0 = np.array([1.5, -0.5])


class FixedGradient:
    """An oracle whose gradient is a given vector wherever it is evaluated."""

    def __init__(self, g):
        self.g = np.asarray(g, dtype=float)

    def grad(self, x):
        return self.g.copy()


def run(opt, problem, x0, steps):
    """The iterates x_1 .. x_steps of ``opt`` from ``x0`` (copies: step works in place)."""
    x = x0.copy()
    state = opt.init(x)
    out = []
    for _ in range(steps):
        x = opt.step(x, problem, state)
        out.append(x.copy())
    return out, state


# --- the lecture's pseudo-code, one function per rule; lrs[t] is step t's rate ---


def lecture_sgd(grad, x, lrs):
    out = []
    for lr in lrs:
        dx = grad(x)
        x = x - lr * dx
        out.append(x)
    return out


def lecture_momentum(grad, x, lrs, rho=0.9):
    out = []
    vx = 0
    for lr in lrs:
        dx = grad(x)
        vx = rho * vx + dx
        x = x - lr * vx
        out.append(x)
    return out


def lecture_nesterov(grad, x, lrs, rho=0.9):
    out = []
    v = 0
    for lr in lrs:
        dx = grad(x)
        old_v = v
        v = rho * v - lr * dx
        x = x + (-rho * old_v + (1 + rho) * v)
        out.append(x)
    return out


def lecture_adagrad(grad, x, lrs, eps=1e-7):
    out = []
    grad_squared = 0
    for lr in lrs:
        dx = grad(x)
        grad_squared = grad_squared + dx * dx
        x = x - lr * dx / (np.sqrt(grad_squared) + eps)
        out.append(x)
    return out


def lecture_rmsprop(grad, x, lrs, decay_rate=0.99, eps=1e-7):
    out = []
    grad_squared = 0
    for lr in lrs:
        dx = grad(x)
        grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dx * dx
        x = x - lr * dx / (np.sqrt(grad_squared) + eps)
        out.append(x)
    return out


def lecture_adam(grad, x, lrs, beta1=0.9, beta2=0.999, eps=1e-7, bias_correction=True):
    out = []
    first_moment = 0
    second_moment = 0
    for t, lr in enumerate(lrs, start=1):
        dx = grad(x)
        first_moment = beta1 * first_moment + (1 - beta1) * dx
        second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
        if bias_correction:
            first_unbias = first_moment / (1 - beta1**t)
            second_unbias = second_moment / (1 - beta2**t)
            x = x - lr * first_unbias / (np.sqrt(second_unbias) + eps)
        else:  # "Adam (almost)"
            x = x - lr * first_moment / (np.sqrt(second_moment) + eps)
        out.append(x)
    return out


CASES = [
    ("sgd", {}, lecture_sgd),
    ("momentum", {}, lecture_momentum),
    ("momentum", {"rho": 0.5}, lecture_momentum),
    ("nesterov", {}, lecture_nesterov),
    ("nesterov", {"rho": 0.3}, lecture_nesterov),
    ("adagrad", {}, lecture_adagrad),
    ("adagrad", {"eps": 0.5}, lecture_adagrad),
    ("rmsprop", {}, lecture_rmsprop),
    ("rmsprop", {"decay_rate": 0.5, "eps": 0.01}, lecture_rmsprop),
    ("adam", {}, lecture_adam),
    ("adam", {"beta1": 0.5, "beta2": 0.75, "eps": 0.1}, lecture_adam),
    ("adam", {"bias_correction": False}, lecture_adam),
]
IDS = [f"{name}-{kw}" for name, kw, _ in CASES]


def close(actual, desired):
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-15)


def test_sgd_two_steps_by_hand():
    # f = (x1^2 + 4 x2^2) / 2, grad = (x1, 4 x2); from (1, 1) with lr = 0.1:
    # x1 = (1 - 0.1, 1 - 0.4) = (0.9, 0.6); x2 = (0.9 - 0.09, 0.6 - 0.24) = (0.81, 0.36)
    problem = Quadratic(np.diag([1.0, 4.0]), [0.0, 0.0])
    (x1, x2), _ = run(optimizers.get("sgd", lr=0.1), problem, np.array([1.0, 1.0]), 2)
    close(x1, [0.9, 0.6])
    close(x2, [0.81, 0.36])


def test_momentum_two_steps_by_hand():
    # f = x^2 / 2 in 1-D from x = 1, lr = 0.1, rho = 0.5:
    # v1 = 1, x1 = 0.9; v2 = 0.5 + 0.9 = 1.4, x2 = 0.9 - 0.14 = 0.76
    problem = Quadratic([[1.0]], [0.0])
    (x1, x2), state = run(optimizers.get("momentum", lr=0.1, rho=0.5), problem,
                          np.array([1.0]), 2)
    close(x1, [0.9])
    close(x2, [0.76])
    close(state.v, [1.4])


@pytest.mark.parametrize("name, kwargs, reference", CASES, ids=IDS)
def test_three_steps_match_the_lecture(name, kwargs, reference):
    lr = 0.05
    problem = tilted()
    got, state = run(optimizers.get(name, lr=lr, **kwargs), problem, X0, 3)
    want = reference(tilted().grad, X0.copy(), [lr] * 3, **kwargs)
    for g, w in zip(got, want):
        close(g, w)
    assert state.t == 3


@pytest.mark.parametrize("name, kwargs, reference", CASES, ids=IDS)
def test_steps_use_the_schedule(name, kwargs, reference):
    schedule = schedules.StepDecay(0.2, factor=0.5, every=2)
    lrs = [schedule(t) for t in range(6)]
    assert lrs == [0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    opt = optimizers.get(name, lr=schedule, **kwargs)
    assert [opt.lr_at(t) for t in range(6)] == lrs
    got, _ = run(opt, tilted(), X0, 6)
    want = reference(tilted().grad, X0.copy(), lrs, **kwargs)
    for g, w in zip(got, want):
        close(g, w)


def test_schedule_given_as_description():
    spec = {"schedule": "inverse_time", "lr": 0.5, "k": 1.0}
    opt = optimizers.get("momentum", lr=spec)
    assert [opt.lr_at(t) for t in range(3)] == [0.5, 0.25, 0.5 / 3]
    assert opt.hyperparams["lr"] == spec


def test_momentum_with_zero_rho_is_sgd_bit_for_bit():
    sgd, _ = run(optimizers.get("sgd", lr=0.1), tilted(), X0, 200)
    heavy_ball, _ = run(optimizers.get("momentum", lr=0.1, rho=0.0), tilted(), X0, 200)
    np.testing.assert_array_equal(np.array(sgd), np.array(heavy_ball))


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_nesterov_matches_the_look_ahead_form(rho):
    """The change-of-variables iterate is x_tilde = x + rho v of the look-ahead form."""
    lr = 0.1
    grad = tilted().grad
    x, v = X0.copy(), np.zeros(2)
    look_ahead = []
    for _ in range(60):
        v = rho * v - lr * grad(x + rho * v)
        x = x + v
        look_ahead.append(x + rho * v)
    got, _ = run(optimizers.get("nesterov", lr=lr, rho=rho), tilted(), X0, 60)
    np.testing.assert_allclose(np.array(got), np.array(look_ahead), rtol=1e-10, atol=1e-13)


GRADIENTS = np.array([0.1, -0.3, 1.0, -7.5, 42.0, -1000.0])


def test_adam_first_step_moves_every_coordinate_by_lr():
    lr = 1e-3
    x0 = np.linspace(-1.0, 1.0, GRADIENTS.size)
    x = optimizers.get("adam", lr=lr).step(x0.copy(), FixedGradient(GRADIENTS),
                                           optimizers.get("adam", lr=lr).init(x0))
    dx = x - x0
    np.testing.assert_allclose(np.abs(dx), lr, rtol=1e-6)
    np.testing.assert_array_equal(np.sign(dx), -np.sign(GRADIENTS))


@pytest.mark.parametrize("beta1", [0.9, 0.0])
def test_adam_without_bias_correction_takes_a_large_first_step(beta1):
    """The "almost" Adam's first step: lr (1 - beta1) g / (sqrt(1 - beta2) |g|).

    That is lr / sqrt(1 - beta2) ~ 31.6 lr with beta1 = 0; the uncorrected first
    moment (1 - beta1) g shrinks it to ~ 3.16 lr with the default beta1 = 0.9.
    """
    lr, beta2 = 1e-3, 0.999
    opt = optimizers.get("adam", lr=lr, beta1=beta1, bias_correction=False)
    x0 = np.zeros(GRADIENTS.size)
    x = opt.step(x0.copy(), FixedGradient(GRADIENTS), opt.init(x0))
    g = np.abs(GRADIENTS)
    eps = 1e-7
    step = lr * (1 - beta1) * g / (math.sqrt(1 - beta2) * g + eps)
    np.testing.assert_allclose(np.abs(x - x0), step, rtol=1e-12)
    ratio = np.abs(x - x0) / lr
    np.testing.assert_allclose(ratio, (1 - beta1) / math.sqrt(1 - beta2), rtol=1e-4)
    assert ratio.min() > 3.0


@settings(max_examples=60, deadline=None)
@given(
    grads=st.lists(
        st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=3),
        min_size=1, max_size=30,
    ),
    lr=st.floats(1e-4, 10.0),
    eps=st.floats(1e-10, 1.0),
)
def test_adagrad_effective_step_never_grows(grads, lr, eps):
    opt = optimizers.get("adagrad", lr=lr, eps=eps)
    x = np.zeros(3)
    state = opt.init(x)
    previous = np.full(3, np.inf)
    for g in grads:
        g = np.array(g)
        before = x.copy()
        x = opt.step(x, FixedGradient(g), state)
        effective = lr / (np.sqrt(state.grad_squared) + eps)
        assert np.all(effective <= previous)
        np.testing.assert_allclose(x - before, -effective * g, rtol=1e-9, atol=1e-12)
        previous = effective


ALL = [
    ("sgd", {"lr": 0.2}),
    ("momentum", {"lr": 0.05}),
    ("nesterov", {"lr": 0.05}),
    ("adagrad", {"lr": 0.5}),
    ("rmsprop", {"lr": 0.01}),
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "bias_correction": False}),
]


@pytest.mark.parametrize("name, kwargs", ALL)
def test_converges_on_a_well_conditioned_quadratic(name, kwargs):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    problem = Quadratic(q @ np.diag([1.0, 1.5, 2.0, 3.0, 4.0]) @ q.T, rng.standard_normal(5))
    x_star = problem.minimizer()
    x0 = x_star + rng.standard_normal(5)
    xs, _ = run(optimizers.get(name, **kwargs), problem, x0, 2000)
    assert np.linalg.norm(xs[-1] - x_star) < 0.02 * np.linalg.norm(x0 - x_star)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_one_gradient_per_step_and_nothing_else(name):
    problem = tilted()
    opt = optimizers.get(name, lr=0.01)
    x = X0.copy()
    state = opt.init(x)
    assert problem.calls == {"loss": 0, "grad": 0, "hess": 0}
    for t in range(1, 6):
        x = opt.step(x, problem, state)
        assert problem.calls == {"loss": 0, "grad": t, "hess": 0}
        assert state.t == t
    assert opt.needs == ("grad",)


class KeptGradient:
    """Returns the same array every time, as a problem caching its gradient might."""

    def __init__(self, g):
        self.g = np.asarray(g, dtype=float)

    def grad(self, x):
        return self.g


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_step_updates_x_in_place_and_leaves_inputs_alone(name):
    opt = optimizers.get(name, lr=0.01)
    x0 = X0.copy()
    state = opt.init(x0)
    np.testing.assert_array_equal(x0, X0)  # init does not touch x0
    oracle = KeptGradient([2.0, -3.0])
    x = x0.copy()
    returned = opt.step(x, oracle, state)
    assert returned is x
    assert not np.array_equal(x, X0)
    np.testing.assert_array_equal(oracle.g, [2.0, -3.0])  # the gradient is not modified


def test_states_are_independent_runs():
    opt = optimizers.get("adam", lr=0.1)
    first, _ = run(opt, tilted(), X0, 5)
    second, _ = run(opt, tilted(), X0, 5)  # same optimizer, fresh state: same run
    np.testing.assert_array_equal(np.array(first), np.array(second))


def test_registry_and_defaults():
    assert {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"} <= set(optimizers.names())
    assert optimizers.get("momentum", lr=0.1).hyperparams == {"lr": 0.1, "rho": 0.9}
    assert optimizers.get("nesterov", lr=0.1).hyperparams == {"lr": 0.1, "rho": 0.9}
    assert optimizers.get("adagrad", lr=0.1).hyperparams == {"lr": 0.1, "eps": 1e-7}
    assert optimizers.get("rmsprop", lr=0.1).hyperparams == {
        "lr": 0.1, "decay_rate": 0.99, "eps": 1e-7}
    assert optimizers.get("adam").hyperparams == {
        "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": True}
    assert repr(optimizers.get("sgd", lr=0.5)) == "sgd[lr=0.5]"
    assert isinstance(optimizers.get("sgd", lr=1), optimizers.SGD)
    assert "v=" in repr(optimizers.get("momentum", lr=0.1).init(X0))
