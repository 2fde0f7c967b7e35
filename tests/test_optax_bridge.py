"""optimizers.optax_bridge: optax transformations run unchanged as optbench optimizers.

Runs go through ``optbench.run`` on built-in problems; each optax rule is checked
against optbench's own implementation of the same update, trace for trace.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest

optax = pytest.importorskip("optax", reason="the jax extra is not installed")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import optimizers  # noqa: E402
import problems  # noqa: E402
from optbench.runner import run  # noqa: E402
from optimizers import schedules  # noqa: E402
from optimizers.optax_bridge import OptaxOptimizer, bridge_factory  # noqa: E402

STEPS = 300


@pytest.fixture(scope="module")
def quadratic():
    return problems.get("quadratic", dim=20, condition_number=100.0)


@pytest.fixture(scope="module")
def logistic():
    return problems.get("logistic", n_samples=500, n_features=10, batch_size=32)


def max_relative_difference(a, b, column):
    x, y = a.trace[column].to_numpy(), b.trace[column].to_numpy()
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), np.finfo(float).tiny)))


# (optax factory, its kwargs, optbench name, its kwargs): the same update rule twice.
# Rates keep the loss far above round-off within 300 steps (momentum at lr 0.005 takes
# the quadratic's loss to 1e-12, where 1e-16 differences in x become 1e-9 in the loss).
CONFORMANCE = {
    "sgd": (optax.sgd, {"learning_rate": 0.01}, "sgd", {"lr": 0.01}),
    "momentum": (optax.sgd, {"learning_rate": 0.001, "momentum": 0.9},
                 "momentum", {"lr": 0.001, "rho": 0.9}),
    "adam": (optax.adam, {"learning_rate": 0.02, "b1": 0.8, "b2": 0.99, "eps": 1e-7},
             "adam", {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7}),
    "adamw": (optax.adamw, {"learning_rate": 0.02, "b1": 0.8, "b2": 0.99, "eps": 1e-7,
                            "weight_decay": 0.5},
              "adamw", {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7,
                        "weight_decay": 0.5}),
}


@pytest.mark.parametrize("problem_name", ["quadratic", "logistic"])
@pytest.mark.parametrize("case", sorted(CONFORMANCE))
def test_optax_rules_give_optbench_traces(case, problem_name, request):
    factory, kwargs, name, optbench_kwargs = CONFORMANCE[case]
    problem = request.getfixturevalue(problem_name)
    bridged = run(problem, OptaxOptimizer(factory, **kwargs), steps=STEPS, seed=1)
    reference = run(problem, optimizers.get(name, **optbench_kwargs), steps=STEPS, seed=1)
    assert bridged.status == reference.status == "max_steps"
    assert len(bridged.trace) == STEPS + 1
    for column in ("loss", "grad_norm"):
        assert max_relative_difference(bridged, reference, column) <= 1e-12, column
    np.testing.assert_array_equal(bridged.trace["n_grad"], reference.trace["n_grad"])
    np.testing.assert_array_equal(bridged.trace["n_loss"], 0)
    np.testing.assert_array_equal(bridged.trace["lr"].iloc[1:], kwargs["learning_rate"])


class CountingProblem:
    """A problem's proxy that counts its own ``loss`` and ``grad`` calls (it has no
    ``loss_and_grad``, so recording a trace row costs one of each), except while paused."""

    def __init__(self, problem):
        self.problem = problem
        self.n_loss = self.n_grad = 0
        self.paused = False

    def __getattr__(self, name):
        if name in ("loss_and_grad", "minibatch", "metrics"):
            raise AttributeError(name)
        return getattr(self.problem, name)

    def loss(self, x):
        self.n_loss += not self.paused
        return self.problem.loss(x)

    def grad(self, x):
        self.n_grad += not self.paused
        return self.problem.grad(x)


def test_lbfgs_matches_scipy_and_counts_every_line_search_evaluation(quadratic):
    scipy_run = run(quadratic, optimizers.get("lbfgs"), steps=100)
    assert scipy_run.status == "converged"
    steps = int(scipy_run.trace["step"].iloc[-1])
    proxy = CountingProblem(quadratic)
    opt = OptaxOptimizer(optax.lbfgs)
    warm_up = opt.warm_up

    def uncounted_warm_up(x, oracle):
        proxy.paused = True
        try:
            warm_up(x, oracle)
        finally:
            proxy.paused = False

    opt.warm_up = uncounted_warm_up
    result = run(proxy, opt, steps=steps, tol_grad=None)
    final, loss0 = result.trace.iloc[-1], result.trace["loss"].iloc[0]
    assert final["loss"] < 1e-6 * loss0
    assert final["loss"] == pytest.approx(scipy_run.trace["loss"].iloc[-1], rel=1e-3)
    rows = len(result.trace)  # the recorder's calls: one loss and one grad per row
    assert final["n_loss"] == proxy.n_loss - rows
    assert final["n_grad"] == proxy.n_grad - rows
    assert final["n_loss"] > steps  # the line search's evaluations, beyond one per step
    # value, grad and value_fn reach the update; each evaluation is one loss and one grad
    assert final["n_loss"] == final["n_grad"]


@pytest.mark.parametrize("factory, kwargs, reads_value", [
    (optax.adam, {"learning_rate": 0.01}, False),
    (optax.polyak_sgd, {"max_learning_rate": 0.01}, True),
])
def test_the_loss_is_evaluated_only_for_a_transformation_that_reads_it(
        quadratic, factory, kwargs, reads_value):
    result = run(quadratic, OptaxOptimizer(factory, **kwargs), steps=10)
    np.testing.assert_array_equal(result.trace["n_grad"], np.arange(11))
    np.testing.assert_array_equal(result.trace["n_loss"], np.arange(11) * reads_value)


def test_a_float32_problem_runs_in_float32():
    problem = problems.get("quadratic", dim=20, condition_number=100.0, dtype="float32")
    opt = OptaxOptimizer(optax.adam, learning_rate=0.05)
    result = run(problem, opt, steps=30)
    assert result.x.dtype == np.float32
    leaves = jax.tree_util.tree_leaves(opt.init(problem.x0(0)).opt_state)
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype("float32"), jnp.dtype("int32")}
    # an independent float32 optax loop, jitted, on the same numpy gradients
    tx = optax.adam(0.05)
    update = jax.jit(lambda p, s, g: (lambda u, s: (optax.apply_updates(p, u), s))(
        *tx.update(g, s, p)))
    params = jnp.asarray(problem.x0(0))
    state = tx.init(params)
    for _ in range(30):
        params, state = update(params, state, jnp.asarray(problem.grad(np.asarray(params))))
    assert params.dtype == jnp.float32
    np.testing.assert_allclose(result.x, np.asarray(params), rtol=1e-5, atol=1e-6)


def test_an_optbench_schedule_is_the_rate_of_each_step(quadratic):
    spec = {"schedule": "step", "lr": 0.015, "every": 20, "factor": 0.5}
    opt = OptaxOptimizer(optax.sgd, learning_rate=spec)
    result = run(quadratic, opt, steps=60)
    reference = run(quadratic, optimizers.get("sgd", lr=spec), steps=60)
    schedule = schedules.from_spec(spec)
    expected = [schedule(max(step - 1, 0)) for step in result.trace["step"]]
    np.testing.assert_array_equal(result.trace["lr"], expected)
    assert len(set(expected)) == 3
    np.testing.assert_array_equal(result.trace["lr"], reference.trace["lr"])
    np.testing.assert_allclose(result.x, reference.x, rtol=1e-14, atol=0)
    np.testing.assert_allclose(result.trace["loss"], reference.trace["loss"], rtol=1e-14, atol=0)
    assert opt.hyperparams == {"learning_rate": spec}
    json.dumps(opt.hyperparams)


def test_runs_are_reproducible_bit_for_bit(logistic):
    opt = OptaxOptimizer(optax.adam, learning_rate=0.05)
    first = run(logistic, opt, steps=40, seed=3)
    again = run(logistic, opt, steps=40, seed=3)          # the same object, compiled once
    fresh = run(logistic, OptaxOptimizer(optax.adam, learning_rate=0.05), steps=40, seed=3)
    for other in (again, fresh):
        pd.testing.assert_frame_equal(first.trace.drop(columns="time"),
                                      other.trace.drop(columns="time"))
        np.testing.assert_array_equal(first.x, other.x)
    assert not np.array_equal(first.x, run(logistic, opt, steps=40, seed=4).x)


def test_warm_up_compiles_and_leaves_x_unchanged(quadratic):
    opt = OptaxOptimizer(optax.adam, learning_rate=0.01)
    x = quadratic.x0(0)
    before = x.copy()
    opt.warm_up(x, quadratic)
    np.testing.assert_array_equal(x, before)
    compiled = []

    def listener(event, duration, **kwargs):
        if "backend_compile" in event:
            compiled.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        result = run(quadratic, opt, steps=20, x0=x)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiled == []                        # nothing left to compile while timed
    np.testing.assert_array_equal(x, before)
    assert result.trace["step"].iloc[-1] == 20


def test_step_returns_read_only_iterates_that_stay_valid_and_takes_any_x(quadratic):
    opt = OptaxOptimizer(optax.sgd, learning_rate=0.01)

    def expected(x):
        return x - 0.01 * quadratic.grad(x)

    x0 = quadratic.x0(0)
    before = x0.copy()
    state = opt.init(x0)
    x1 = opt.step(x0, quadratic, state)
    np.testing.assert_array_equal(x0, before)            # the caller's x is not modified
    assert not x1.flags.writeable
    mine = np.array(x1)
    mine[0] += 1.0                                        # an array of the caller's
    x2 = opt.step(mine, quadratic, state)
    x3 = opt.step(x2, quadratic, state)                   # the returned view, reused as is
    x4 = opt.step(x3, quadratic, state)
    kept = [(x1, before), (x2, mine), (x3, np.array(x2)), (x4, np.array(x3))]
    for iterate, start in kept:                           # earlier views are not overwritten
        np.testing.assert_allclose(iterate, expected(start), rtol=1e-15, atol=1e-15)
    assert state.t == 4


def test_state_bytes_is_the_optax_state(quadratic):
    opt = OptaxOptimizer(optax.adam, learning_rate=0.01)
    n = quadratic.dim
    expected = 2 * n * np.dtype(np.float64).itemsize + np.dtype(np.int32).itemsize
    assert opt.state_bytes(opt.init(quadratic.x0(0))) == expected   # mu, nu and the count
    assert run(quadratic, opt, steps=3).meta["state_bytes"] == expected


def transformation(update):
    """A GradientTransformation with an empty state and the given ``update(updates)``."""
    return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                        lambda updates, state, params=None: (update(updates), state))


def test_nan_updates_end_the_run_as_diverged(quadratic):
    result = run(quadratic, OptaxOptimizer(transformation(lambda u: u * jnp.nan)), steps=10)
    assert result.status == "diverged"
    assert result.meta["diverged_at"] == 1


def test_an_error_in_the_transformation_propagates(quadratic):
    def update(updates):
        raise RuntimeError("boom in the update")

    with pytest.raises(RuntimeError, match="boom in the update"):
        run(quadratic, OptaxOptimizer(transformation(update)), steps=5)


def test_a_transformation_that_changes_the_shape_is_refused(quadratic):
    with pytest.raises(ValueError, match=r"shape from \(20,\) to \(20, 20\)"):
        run(quadratic, OptaxOptimizer(transformation(lambda u: u[:, None])), steps=5)


def test_a_built_transformation_takes_no_keywords():
    tx = optax.sgd(0.1)
    assert OptaxOptimizer(tx).name == "optax:transformation"
    with pytest.raises(ValueError, match="takes no keyword arguments"):
        OptaxOptimizer(tx, learning_rate=0.1)


def test_bridge_factory_has_the_real_signature_and_refuses_unknown_keywords():
    build = bridge_factory(optax.adamw, "optax:adamw")
    assert inspect.signature(build) == inspect.signature(optax.adamw)
    with pytest.raises(ValueError) as error:
        build(lr=0.1)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "optax:adamw: unknown keyword argument 'lr'; did you mean 'learning_rate'? "
        "(optax.adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-08, ")
    with pytest.raises(ValueError, match="missing required argument 'learning_rate'"):
        build(b1=0.8)
    opt = build(0.1, weight_decay=0.5)
    assert (opt.name, opt.hyperparams) == ("optax:adamw",
                                           {"learning_rate": 0.1, "weight_decay": 0.5})
    assert opt.lr_at(7) == 0.1
    assert isinstance(optimizers.get("optax:adamw", learning_rate=1e-3), OptaxOptimizer)


class MinibatchSpy:
    """A stochastic problem's proxy keeping each minibatch oracle it draws, each counting
    the ``loss`` calls made on it."""

    def __init__(self, problem):
        self.problem = problem
        self.batches = []

    def __getattr__(self, name):
        if name in ("loss_and_grad", "metrics"):
            raise AttributeError(name)
        return getattr(self.problem, name)

    def minibatch(self, rng):
        batch = self.problem.minibatch(rng)
        spy = type("Batch", (), {"n_loss": 0})()
        spy.grad = batch.grad

        def loss(x):
            spy.n_loss += 1
            return batch.loss(x)

        spy.loss = loss
        self.batches.append(spy)
        return spy


def test_the_line_search_evaluates_the_minibatch_of_its_own_step(logistic):
    spy = MinibatchSpy(logistic)
    result = run(spy, OptaxOptimizer(optax.lbfgs), steps=8, tol_grad=None)
    assert result.trace["step"].iloc[-1] == 8
    run_batches = spy.batches[1:]  # the first is the warm-up's
    assert len(run_batches) == 8
    assert sum(batch.n_loss for batch in run_batches) == result.trace["n_loss"].iloc[-1]
    # each step's batch: the step's own evaluation, then at least one of its line search
    assert all(batch.n_loss >= 2 for batch in run_batches)


def test_an_optax_run_records_its_update_path():
    result = run(problems.get("quadratic", dim=5), optimizers.get("optax:adam", learning_rate=1e-3),
                 steps=3)
    assert result.meta["kernels"] == "jax"
