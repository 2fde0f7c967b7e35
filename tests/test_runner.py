"""The run loop: trace layout, oracle counts, statuses, timing and reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import optbench
import optimizers
import problems
from optbench.runner import TRACE_COLUMNS, CountingOracle
from tests.conftest import DiagQuadratic


def test_trace_layout_and_recording(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.05), steps=23, record_every=5)
    assert list(res.trace.columns) == list(TRACE_COLUMNS) + ["x_0", "x_1"]  # a 2-D problem
    # step 0, every 5th step, and always the last step
    assert res.trace["step"].tolist() == [0, 5, 10, 15, 20, 23]
    assert res.status == "max_steps"
    assert res.trace["n_grad"].tolist() == [0, 5, 10, 15, 20, 23]
    assert (res.trace["n_loss"] == 0).all() and (res.trace["n_hess"] == 0).all()
    assert res.trace["time"].is_monotonic_increasing and res.trace["time"].iloc[0] >= 0.0
    assert res.trace["time"].iloc[-1] > res.trace["time"].iloc[0]
    assert np.allclose(res.trace["lr"], 0.05)
    # subopt = loss - f_star, grad_norm is the full gradient's norm at the recorded x
    assert np.allclose(res.trace["subopt"], res.trace["loss"])
    assert res.trace["loss"].iloc[-1] == pytest.approx(diag_quadratic.loss(res.x))
    assert res.trace["grad_norm"].iloc[-1] == pytest.approx(np.linalg.norm(diag_quadratic.grad(res.x)))


def test_sgd_iterates_match_hand_loop(diag_quadratic):
    x = diag_quadratic.x0(3)
    for _ in range(7):
        x = x - 0.05 * diag_quadratic.grad(x)
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.05), steps=7, seed=3)
    np.testing.assert_allclose(res.x, x, rtol=1e-15)


def test_counting_oracle_counts_each_call():
    c = CountingOracle(DiagQuadratic())
    x = np.zeros(2)
    c.loss(x), c.grad(x), c.grad(x), c.hess(x)
    assert (c.n_loss, c.n_grad, c.n_hess) == (1, 2, 1)
    c.bind(DiagQuadratic())  # counts survive re-binding to a new minibatch
    c.grad(x)
    assert c.n_grad == 3


def test_recording_is_not_counted_as_method_calls():
    class Probe(DiagQuadratic):
        calls = 0

        def grad(self, x):
            Probe.calls += 1
            return super().grad(x)

    res = optbench.run(Probe(), optimizers.get("sgd", lr=0.01), steps=10, record_every=1)
    # the method made 10 gradient calls; recording made 11 more (one per row)
    assert res.trace["n_grad"].iloc[-1] == 10
    assert Probe.calls == 21


def test_diverged_run_keeps_trace_and_does_not_raise():
    res = optbench.run(problems.get("rosenbrock", dim=2), optimizers.get("adam", lr=1e3), steps=200)
    assert res.status == "diverged"
    assert len(res.trace) < 201
    assert res.trace["step"].iloc[-1] == res.meta["steps_taken"]


def test_nonfinite_values_mean_diverged(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=5.0), steps=10_000, record_every=10)
    assert res.status == "diverged"
    assert res.trace["step"].iloc[-1] < 10_000


def test_converged_by_gradient_norm_or_subopt(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=10_000, tol_grad=1e-8)
    assert res.status == "converged"
    assert res.trace["grad_norm"].iloc[-1] <= 1e-8 < res.trace["grad_norm"].iloc[-2]
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=10_000,
                       tol_grad=None, tol_subopt=1e-6)
    assert res.status == "converged"
    assert res.trace["subopt"].iloc[-1] <= 1e-6 < res.trace["subopt"].iloc[-2]


def test_same_spec_same_trace_except_time():
    prob = DiagQuadratic(stochastic=True, noise=0.5)
    runs = [optbench.run(prob, optimizers.get("adam", lr=0.01), steps=50, seed=4) for _ in range(2)]
    a, b = (r.trace.drop(columns="time") for r in runs)
    pd.testing.assert_frame_equal(a, b)
    other = optbench.run(prob, optimizers.get("adam", lr=0.01), steps=50, seed=5)
    assert not np.array_equal(other.trace["loss"], runs[0].trace["loss"])


def test_stochastic_problem_gets_one_minibatch_per_step():
    prob = DiagQuadratic(stochastic=True, noise=0.3)
    rng = np.random.default_rng(2)
    x = prob.x0(2)
    for _ in range(5):
        x = x - 0.1 * prob.minibatch(rng).grad(x)
    res = optbench.run(prob, optimizers.get("sgd", lr=0.1), steps=5, seed=2)
    np.testing.assert_allclose(res.x, x, rtol=1e-15)


def test_schedule_lr_is_recorded(diag_quadratic):
    sched = optimizers.schedules.from_spec({"schedule": "step", "lr": 0.1, "factor": 0.5, "every": 4})
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=sched), steps=12, record_every=1)
    # row k holds the rate used by step k (0-based step k-1); row 0 the first rate
    expected = [0.1] + [0.1 * 0.5 ** ((k - 1) // 4) for k in range(1, 13)]
    np.testing.assert_allclose(res.trace["lr"], expected)


def test_averaging_adds_avg_loss(diag_quadratic):
    opt = optimizers.Averaged(optimizers.get("sgd", lr=0.1), decay=0.5)
    res = optbench.run(diag_quadratic, opt, steps=3)
    x = diag_quadratic.x0(0)
    avg = x.copy()
    losses = [diag_quadratic.loss(avg)]
    for _ in range(3):
        x = x - 0.1 * diag_quadratic.grad(x)
        avg = 0.5 * avg + 0.5 * x
        losses.append(diag_quadratic.loss(avg))
    np.testing.assert_allclose(res.trace["avg_loss"], losses, rtol=1e-14)


def test_hessian_method_on_problem_without_hessian_fails_before_running():
    class NeedsHess:
        name = "fake_newton"
        needs = ("grad", "hess")

        def init(self, x0):
            raise AssertionError("must not start")

    prob = DiagQuadratic()
    prob.has_hess = False
    with pytest.raises(ValueError, match="needs a Hessian"):
        optbench.run(prob, NeedsHess(), steps=3)


def test_whole_run_solver_through_callback(diag_quadratic):
    """A solver that owns its loop is recorded through its callback like a stepwise one."""

    class LoopGD:
        name = "loop_gd"

        def minimize(self, oracle, x0, max_iter, callback):
            x = x0.copy()
            for _ in range(max_iter):
                x = x - 0.05 * oracle.grad(x)
                callback(x)

    whole = optbench.run(diag_quadratic, LoopGD(), steps=9, record_every=3, seed=1)
    step = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.05), steps=9, record_every=3, seed=1)
    cols = ["step", "loss", "subopt", "grad_norm", "n_grad"]
    pd.testing.assert_frame_equal(whole.trace[cols], step.trace[cols])
    assert whole.status == "max_steps"
    assert math.isnan(whole.trace["lr"].iloc[-1])


@pytest.mark.parametrize(
    "kwargs, word",
    [({"steps": -1}, "steps"), ({"steps": 5, "record_every": 0}, "record_every"),
     ({"steps": 5, "seed": -2}, "seed"), ({"steps": 5, "tol_grad": -1.0}, "tol_grad"),
     ({"steps": 2.5}, "steps")],
)
def test_bad_run_arguments(diag_quadratic, kwargs, word):
    with pytest.raises(ValueError, match=word):
        optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), **kwargs)


def test_problem_metrics_and_update_ratio_are_recorded():
    class WithMetrics(DiagQuadratic):
        def metrics(self, x):
            return {"first": float(x[0])}

    prob = WithMetrics()
    res = optbench.run(prob, optimizers.get("sgd", lr=0.1), steps=6, record_every=3, seed=1)
    assert list(res.trace.columns)[-2:] == ["first", "update_ratio"]
    xs = [prob.x0(1)]
    for _ in range(6):
        xs.append(xs[-1] - 0.1 * prob.grad(xs[-1]))
    np.testing.assert_allclose(res.trace["first"], [xs[0][0], xs[3][0], xs[6][0]], rtol=1e-15)
    assert math.isnan(res.trace["update_ratio"].iloc[0])
    expected = np.linalg.norm(xs[3] - xs[2]) / np.linalg.norm(xs[2])
    assert res.trace["update_ratio"].iloc[1] == pytest.approx(expected, rel=1e-12)
    # problems without metrics keep the plain layout
    plain = optbench.run(DiagQuadratic(), optimizers.get("sgd", lr=0.1), steps=3)
    assert "update_ratio" not in plain.trace.columns


def test_start_at_the_optimum_is_converged_without_a_step(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=50, x0=np.zeros(2))
    assert res.status == "converged" and res.meta["steps_taken"] == 0
    assert res.trace["step"].tolist() == [0] and res.trace["n_grad"].iloc[0] == 0
    res = optbench.run(problems.get("rosenbrock", dim=2), optimizers.get("lbfgs"), steps=50,
                       x0=np.ones(2))
    assert res.status == "converged" and len(res.trace) == 1


def test_snapshots_and_averaged_point(diag_quadratic):
    opt = optimizers.Averaged(optimizers.get("sgd", lr=0.1), decay=0.5)
    res = optbench.run(diag_quadratic, opt, steps=5, snapshots=[2, 5, 9])
    xs, avg = [diag_quadratic.x0(0)], diag_quadratic.x0(0)
    for _ in range(5):
        xs.append(xs[-1] - 0.1 * diag_quadratic.grad(xs[-1]))
        avg = 0.5 * avg + 0.5 * xs[-1]
    assert sorted(res.snapshots) == [2, 5]  # step 9 was never reached
    np.testing.assert_allclose(res.snapshots[2], xs[2], rtol=1e-15)
    np.testing.assert_allclose(res.snapshots[5], res.x, rtol=0)
    assert res.snapshots[2] is not res.x  # copies, not the live iterate
    np.testing.assert_allclose(res.x_avg, avg, rtol=1e-14)
    plain = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=2)
    assert plain.x_avg is None and plain.snapshots == {}
    with pytest.raises(ValueError, match="snapshots"):
        optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=2, snapshots=[0])


def test_two_dimensional_problems_record_the_iterate(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("momentum", lr=0.05), steps=9, record_every=3)
    np.testing.assert_array_equal(res.trace[["x_0", "x_1"]].iloc[-1].to_numpy(), res.x)
    np.testing.assert_array_equal(res.trace[["x_0", "x_1"]].iloc[0].to_numpy(), diag_quadratic.x0(0))
    wide = optbench.run(problems.get("quadratic", dim=3), optimizers.get("sgd", lr=0.01), steps=2)
    assert "x_0" not in wide.trace.columns


def test_nonfinite_x0_is_diverged_at_step_0(diag_quadratic):
    res = optbench.run(diag_quadratic, optimizers.get("sgd", lr=0.1), steps=5,
                       x0=np.array([np.nan, 1.0]))
    assert res.status == "diverged" and res.meta["diverged_at"] == 0
    assert "not finite" in res.meta["diverged_because"] and len(res.trace) == 1


def test_nonfinite_gradient_of_a_user_problem_reports_the_step():
    class Breaks(DiagQuadratic):
        """A user problem whose gradient turns to inf once x[0] drops below 0.5."""

        def grad(self, x):
            g = super().grad(x)
            return g if x[0] > 0.5 else np.full_like(g, np.inf)

    res = optbench.run(Breaks(), optimizers.get("sgd", lr=0.1), steps=100, record_every=1)
    assert res.status == "diverged"
    # x[0] shrinks by 0.9 per step from about 1: the first x[0] <= 0.5 is recorded there
    first_bad = int(res.trace["step"].iloc[-1])
    assert res.meta["diverged_at"] == first_bad and res.trace["x_0"].iloc[-1] <= 0.5
    assert res.trace["x_0"].iloc[-2] > 0.5


def test_wrong_gradient_shape_is_caught_with_a_message():
    class WrongShape(DiagQuadratic):
        def grad(self, x):
            return np.append(super().grad(x), 0.0)

    with pytest.raises(ValueError, match=r"shape \(3,\), but x has shape \(2,\)"):
        optbench.run(WrongShape(), optimizers.get("sgd", lr=0.1), steps=3)

    class WrongBatch(DiagQuadratic):
        def minibatch(self, rng):
            batch = super().minibatch(rng)
            batch.grad = lambda x: np.zeros(5)
            return batch

    prob = WrongBatch(stochastic=True, noise=0.1)
    with pytest.raises(ValueError, match="first gradient"):
        optbench.run(prob, optimizers.get("adam"), steps=3)
