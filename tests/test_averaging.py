"""Polyak averaging (optimizers/averaging.py)."""

from __future__ import annotations

import numpy as np
import pytest

import optimizers
from optimizers import Averaged
from optimizers.validation import HyperparameterTypeError


class Quadratic:
    """f(x) = x^T A x / 2 - b^T x."""

    def __init__(self):
        self.A = np.array([[2.0, 0.5], [0.5, 1.0]])
        self.b = np.array([1.0, -1.0])

    def loss(self, x):
        return float(0.5 * x @ self.A @ x - self.b @ x)

    def grad(self, x):
        return self.A @ x - self.b


X0 = np.array([1.0, 2.0])


def test_three_steps_by_hand():
    lr, decay = 0.1, 0.8
    grad = Quadratic().grad
    # the lecture's loop: x += -lr * dx; x_test = decay * x_test + (1 - decay) * x
    x, x_test = X0.copy(), X0.copy()
    want = []
    for _ in range(3):
        x = x - lr * grad(x)
        x_test = decay * x_test + (1 - decay) * x
        want.append((x, x_test))

    opt = Averaged(optimizers.get("sgd", lr=lr), decay=decay)
    x = X0.copy()
    state = opt.init(x)
    np.testing.assert_array_equal(opt.average(state), X0)  # starts at x0
    for want_x, want_avg in want:
        x = opt.step(x, Quadratic(), state)
        np.testing.assert_allclose(x, want_x, rtol=1e-14)
        np.testing.assert_allclose(opt.average(state), want_avg, rtol=1e-14)
    assert state.t == 3 and state.inner.t == 3


def test_one_dimensional_numbers():
    # x_t = 1, 2, 3 (constant gradient -1, lr 1); decay 0.5 from x0 = 0:
    # avg = 0.5, 1.25, 2.125
    class Line:
        def grad(self, x):
            return -np.ones_like(x)

    opt = Averaged(optimizers.get("sgd", lr=1.0), decay=0.5)
    x = np.zeros(1)
    state = opt.init(x)
    got = []
    for _ in range(3):
        x = opt.step(x, Line(), state)
        got.append(opt.average(state)[0])
    assert got == [0.5, 1.25, 2.125]


def test_zero_decay_tracks_the_iterate():
    opt = Averaged(optimizers.get("momentum", lr=0.1), decay=0.0)
    x = X0.copy()
    state = opt.init(x)
    for _ in range(20):
        x = opt.step(x, Quadratic(), state)
        np.testing.assert_array_equal(opt.average(state), x)


def test_iterates_are_the_inner_optimizers():
    plain = optimizers.get("adam", lr=0.05)
    averaged = Averaged(optimizers.get("adam", lr=0.05))
    x, y = X0.copy(), X0.copy()
    s, t = plain.init(x), averaged.init(y)
    for _ in range(50):
        x = plain.step(x, Quadratic(), s)
        y = averaged.step(y, Quadratic(), t)
        np.testing.assert_array_equal(x, y)


def test_average_is_a_separate_read_only_array():
    opt = Averaged(optimizers.get("sgd", lr=0.1))
    x = X0.copy()
    state = opt.init(x)
    x = opt.step(x, Quadratic(), state)
    avg = opt.average(state)
    assert not np.shares_memory(avg, x)
    with pytest.raises(ValueError):
        avg[0] = 1.0
    np.testing.assert_array_equal(X0, [1.0, 2.0])  # init copied x0, steps did not touch it


def test_smooths_noisy_iterates():
    """Near the minimiser of a noisy problem the average is closer than the iterate."""
    rng = np.random.default_rng(0)

    class Noisy:
        def grad(self, x):
            return x + rng.standard_normal(x.shape)

    opt = Averaged(optimizers.get("sgd", lr=0.1), decay=0.99)
    x = np.zeros(50)
    state = opt.init(x)
    for _ in range(2000):
        x = opt.step(x, Noisy(), state)
    assert np.linalg.norm(opt.average(state)) < 0.5 * np.linalg.norm(x)


def test_delegates_name_hyperparams_and_schedule():
    inner = optimizers.get("momentum", lr={"schedule": "step", "lr": 0.1, "every": 2})
    opt = Averaged(inner)
    assert opt.name == "momentum"
    assert opt.needs == inner.needs
    assert opt.hyperparams == {**inner.hyperparams, "average": 0.995}
    assert [opt.lr_at(t) for t in range(5)] == [inner.lr_at(t) for t in range(5)]
    assert repr(opt).startswith("momentum[") and repr(opt).endswith(",average=0.995]")
    assert isinstance(opt, optimizers.Optimizer)


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5, float("nan")])
def test_bad_decay(decay):
    with pytest.raises(ValueError, match=r"^averaged: decay must be in \[0, 1\), got "):
        Averaged(optimizers.get("sgd", lr=0.1), decay=decay)


def test_bad_inner_and_names():
    with pytest.raises(ValueError, match="inner must be a stepwise Optimizer"):
        Averaged("sgd")
    with pytest.raises(ValueError, match="already averaged"):
        Averaged(Averaged(optimizers.get("sgd", lr=0.1)))
    with pytest.raises(ValueError, match="did you mean 'decay'"):
        Averaged(optimizers.get("sgd", lr=0.1), decy=0.9)


# --------------------------------------------------------------------------- burn-in


class Line:
    """f(x) = -x: SGD with lr 1 walks x_t = x0 + t."""

    def grad(self, x):
        return -np.ones_like(x)


def _averages(opt, steps):
    x = np.zeros(1)
    state = opt.init(x)
    got = []
    for _ in range(steps):
        x = opt.step(x, Line(), state)
        got.append(float(opt.average(state)[0]))
    return got


def test_burn_in_follows_the_iterate_then_averages_by_hand():
    # x_t = 1, 2, 3, 4; start 2: the average is x_1, x_2, then 0.5*2 + 0.5*3 = 2.5,
    # 0.5*2.5 + 0.5*4 = 3.25 (no weight on x0 = 0 or x_1)
    opt = Averaged(optimizers.get("sgd", lr=1.0), decay=0.5, start=2)
    assert _averages(opt, 4) == [1.0, 2.0, 2.5, 3.25]
    assert opt.hyperparams == {"lr": 1.0, "average": 0.5, "average_start": 2}
    assert repr(opt).endswith(",average=0.5,average_start=2]")


def test_start_zero_is_the_lecture_loop_bit_for_bit():
    plain = Averaged(optimizers.get("momentum", lr=0.1), decay=0.9)
    zero = Averaged(optimizers.get("momentum", lr=0.1), decay=0.9, start=0)
    assert _averages(plain, 30) == _averages(zero, 30)
    assert "average_start" not in zero.hyperparams


def test_burn_in_average_equals_the_moving_average_of_the_recorded_iterates():
    """Against an independent computation: the plain run's iterates (snapshots) from step
    B on, averaged by the formula."""
    from optbench.build import build_optimizer, build_problem
    from optbench.runner import run

    problem = build_problem("mlp", {"dataset": "spiral", "n_samples": 90, "hidden": [8],
                                    "batch_size": 16, "seed": 3})
    steps, start, decay = 60, 25, 0.9
    plain = run(problem, build_optimizer("adam", {"lr": 0.01}), steps=steps, seed=1,
                record_every=steps, snapshots=tuple(range(start, steps + 1)))
    averaged = run(problem, build_optimizer("adam", {"lr": 0.01, "average": decay, "average_start": start}),
                   steps=steps, seed=1, record_every=steps)
    want = plain.snapshots[start].copy()
    for t in range(start + 1, steps + 1):
        want = decay * want + (1 - decay) * plain.snapshots[t]
    np.testing.assert_array_equal(averaged.x, plain.x)
    np.testing.assert_allclose(averaged.x_avg, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("start, error", [(-1, ValueError), (1.5, HyperparameterTypeError),
                                          (True, HyperparameterTypeError)])
def test_bad_start(start, error):
    with pytest.raises(error, match=r"^averaged: start must be an integer >= 0, got "):
        Averaged(optimizers.get("sgd", lr=0.1), start=start)


def test_average_start_needs_average():
    from optbench.build import build_optimizer

    with pytest.raises(ValueError, match="average_start .* needs average"):
        build_optimizer("sgd", {"lr": 0.1, "average_start": 10})


def test_a_suites_bad_average_start_is_named_by_its_key():
    from optbench.build import build_optimizer

    with pytest.raises(ValueError, match=r"^sgd: average_start must be an integer >= 0, got -1$"):
        build_optimizer("sgd", {"lr": 0.1, "average": 0.99, "average_start": -1})
