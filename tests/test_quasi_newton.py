"""Quasi-Newton methods: scipy's L-BFGS-B and BFGS as whole-run solvers, and our stepwise
L-BFGS on minibatches.

The scipy adapters are checked against direct ``scipy.optimize.minimize`` calls
written out here with their own options; the stepwise L-BFGS against a dense
inverse-Hessian recursion, the secant equation, scipy's iteration counts on a
quadratic, and the lecture's claim that L-BFGS does not transfer well to minibatches.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import scipy.optimize

import optbench
import optimizers
import problems
from optimizers import scipy_adapters
from optimizers.lbfgs_stochastic import LBFGSStochastic, two_loop
from optimizers.scipy_adapters import BFGS, LBFGS

STEPS = 1000  # far above what the problems below need: scipy stops by its own tests
CALLBACK_MESSAGE = "`callback` raised `StopIteration`."


def lbfgsb_options(maxiter):
    """L-BFGS-B's options for the adapter's defaults, written out independently."""
    return {"maxcor": 10, "gtol": 1e-5, "ftol": 2.220446049250313e-09, "maxls": 20,
            "maxiter": maxiter}


def bfgs_options(maxiter):
    return {"gtol": 1e-5, "maxiter": maxiter}


SOLVERS = {
    "lbfgs": (LBFGS, "L-BFGS-B", lbfgsb_options),
    "bfgs": (BFGS, "BFGS", bfgs_options),
}


def direct_scipy(problem, method, options, x0):
    """scipy on the full objective, counting our own evaluations and collecting iterates."""
    calls = {"fun": 0}
    iterates = []

    def fun(x):
        calls["fun"] += 1
        return problem.loss(x), problem.grad(x)

    def collect(xk):
        iterates.append(np.array(xk, copy=True))

    result = scipy.optimize.minimize(fun, x0, jac=True, method=method, callback=collect,
                                     options=options)
    return result, iterates, calls["fun"]


CASES = [
    ("lbfgs", "rosenbrock", {"dim": 2}),
    ("lbfgs", "rosenbrock", {"dim": 10}),
    ("lbfgs", "logistic", {"n_samples": 300, "n_features": 5, "batch_size": None}),
    ("bfgs", "rosenbrock", {"dim": 2}),
    ("bfgs", "rosenbrock", {"dim": 10}),
]


@pytest.mark.parametrize("solver, name, params", CASES)
def test_run_reproduces_scipy(solver, name, params):
    cls, method, options = SOLVERS[solver]
    problem = problems.get(name, **params)
    x0 = problem.x0(0)
    ref, iterates, fun_calls = direct_scipy(problem, method, options(STEPS), x0)
    assert ref.success and 0 < ref.nit < STEPS

    res = optbench.run(problem, cls(), steps=STEPS, tol_grad=None)
    trace, solver_meta = res.trace, res.meta["solver"]

    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-8)
    assert res.meta["steps_taken"] == ref.nit == trace["step"].iloc[-1] == solver_meta["nit"]
    assert res.status == "converged"              # scipy's own test, before the budget
    assert solver_meta["success"] is True and solver_meta["message"] == ref.message
    # one scipy evaluation = one loss and one grad call on the counting oracle
    assert trace["n_loss"].iloc[-1] == ref.nfev == solver_meta["nfev"] == fun_calls
    assert trace["n_grad"].iloc[-1] == ref.njev == solver_meta["njev"] == fun_calls
    assert (trace["n_hess"] == 0).all()
    # every iterate reaches the trace, with the full objective at scipy's iterates
    assert len(trace) == ref.nit + 1 == len(iterates) + 1
    assert trace["step"].tolist() == list(range(ref.nit + 1))
    expected = [problem.loss(x0)] + [problem.loss(x) for x in iterates]
    np.testing.assert_allclose(trace["loss"], expected, rtol=1e-12, atol=0)
    grad_norms = [np.linalg.norm(problem.grad(x)) for x in [x0, *iterates]]
    np.testing.assert_allclose(trace["grad_norm"], grad_norms, rtol=1e-12, atol=0)
    assert trace["lr"].isna().all()               # no learning rate
    assert trace["time"].is_monotonic_increasing


@pytest.mark.parametrize("solver", ["lbfgs", "bfgs"])
def test_step_budget_stops_after_exactly_that_many_iterations(solver):
    cls, _, _ = SOLVERS[solver]
    problem = problems.get("rosenbrock", dim=10)
    res = optbench.run(problem, cls(), steps=5, tol_grad=None)
    assert res.status == "max_steps"
    assert res.meta["steps_taken"] == 5 and res.meta["solver"]["nit"] == 5
    assert res.trace["step"].tolist() == [0, 1, 2, 3, 4, 5]
    assert res.meta["solver"]["success"] is False
    assert res.meta["solver"]["message"] == CALLBACK_MESSAGE


@pytest.mark.parametrize("solver", ["lbfgs", "bfgs"])
def test_convergence_by_the_runner_tolerance(solver):
    cls, _, _ = SOLVERS[solver]
    problem = problems.get("rosenbrock", dim=2)
    res = optbench.run(problem, cls(), steps=STEPS, tol_grad=1e-3)
    norms = res.trace["grad_norm"].to_numpy()
    assert res.status == "converged"
    assert norms[-1] <= 1e-3 and (norms[:-1] > 1e-3).all()
    assert res.meta["steps_taken"] == res.meta["solver"]["nit"] < STEPS
    assert res.meta["solver"]["message"] == CALLBACK_MESSAGE


@pytest.mark.parametrize("solver", ["lbfgs", "bfgs"])
def test_minimize_stops_on_the_callback_stop_iteration(solver):
    """scipy (>= 1.11) catches StopIteration for both methods; the adapter returns its result."""
    cls, _, _ = SOLVERS[solver]
    problem = problems.get("rosenbrock", dim=2)
    seen = []

    def callback(xk):
        seen.append(np.array(xk, copy=True))
        if len(seen) == 3:
            raise StopIteration

    result = cls().minimize(problem, problem.x0(0), 100, callback)
    assert len(seen) == 3 and result.nit == 3
    assert not result.success and result.status == 99
    assert result.message == CALLBACK_MESSAGE
    np.testing.assert_array_equal(result.x, seen[-1])


def test_minimize_on_a_scipy_that_lets_stop_iteration_through(monkeypatch):
    """scipy 1.10 re-raises the callback's StopIteration; the result looks the same."""

    def old_minimize(fun, x0, *, jac, method, callback, options):
        assert jac is True
        x = np.array(x0, dtype=float)
        for _ in range(options["maxiter"]):
            f, g = fun(x)
            x = x - 1e-3 * g
            callback(np.copy(x))                  # StopIteration propagates
        raise AssertionError("the callback should have stopped the run")

    monkeypatch.setattr(scipy.optimize, "minimize", old_minimize)
    problem = problems.get("rosenbrock", dim=2)
    seen = []

    def callback(xk):
        seen.append(xk)
        if len(seen) == 4:
            raise StopIteration

    class Counting:
        n = 0

        def loss(self, x):
            return problem.loss(x)

        def grad(self, x):
            self.n += 1
            return problem.grad(x)

    oracle = Counting()
    result = LBFGS().minimize(oracle, problem.x0(0), 100, callback)
    assert result.nit == 4 and result.nfev == result.njev == oracle.n == 4
    assert not result.success and result.status == 99 and result.message == CALLBACK_MESSAGE
    np.testing.assert_array_equal(result.x, seen[-1])


class Watched:
    """A problem wrapper counting every call made on it directly, with slow metrics.

    The runner's counting oracle forwards the method's calls here, and its recorder
    calls ``loss``, ``grad`` and ``metrics`` here directly at each recorded step.
    """

    def __init__(self, problem, delay):
        self.problem = problem
        self.delay = delay
        self.n_loss = self.n_grad = self.n_metrics = 0

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def loss(self, x):
        self.n_loss += 1
        return self.problem.loss(x)

    def grad(self, x):
        self.n_grad += 1
        return self.problem.grad(x)

    def loss_and_grad(self, x):  # else __getattr__ would hand out the problem's, uncounted
        self.n_loss += 1
        self.n_grad += 1
        return self.problem.loss_and_grad(x)

    def metrics(self, x):
        self.n_metrics += 1
        time.sleep(self.delay)
        return {"recorded": 1.0}


def test_recording_is_neither_counted_nor_timed():
    delay, steps = 0.02, 10
    watched = Watched(problems.get("rosenbrock", dim=10), delay)
    res = optbench.run(watched, LBFGS(), steps=steps, tol_grad=None)
    trace = res.trace
    rows = len(trace)
    assert rows == steps + 1 == watched.n_metrics
    # the recorder makes one loss and one grad call per row on the problem itself
    assert watched.n_loss == trace["n_loss"].iloc[-1] + rows
    assert watched.n_grad == trace["n_grad"].iloc[-1] + rows
    assert trace["n_loss"].iloc[-1] == res.meta["solver"]["nfev"]
    assert trace["time"].is_monotonic_increasing
    # rows * delay = 0.22 s of sleeping in recording; the method's own work is ~1 ms
    assert trace["time"].iloc[-1] < rows * delay / 2


class Separate:
    """The problem's loss and grad only (no fused oracle), counting the calls; other
    attributes are the problem's."""

    def __init__(self, problem):
        self.problem = problem
        self.calls = {"loss": 0, "grad": 0}

    def __getattr__(self, name):  # dim, x0, f_star... of the problem, not its fused oracle
        if name == "loss_and_grad":
            raise AttributeError(name)
        return getattr(self.problem, name)

    def loss(self, x):
        self.calls["loss"] += 1
        return self.problem.loss(x)

    def grad(self, x):
        self.calls["grad"] += 1
        return self.problem.grad(x)


class Fused(Separate):
    """The same with the problem's fused ``loss_and_grad`` too."""

    def __init__(self, problem):
        super().__init__(problem)
        self.calls["loss_and_grad"] = 0

    def loss_and_grad(self, x):  # defined, so not the problem's through __getattr__
        self.calls["loss_and_grad"] += 1
        return self.problem.loss_and_grad(x)


FUSED_CASES = [
    ("lbfgs", "logistic", {"n_samples": 300, "n_features": 5, "batch_size": None}),
    ("bfgs", "logistic", {"n_samples": 200, "n_features": 4, "batch_size": None,
                          "standardize": True}),
    ("lbfgs", "rosenbrock", {"dim": 6}),
    ("lbfgs", "quadratic", {"dim": 20, "condition_number": 1e3}),
    ("bfgs", "quadratic", {"dim": 8, "rotate": False}),
]


@pytest.mark.parametrize("solver, name, params", FUSED_CASES)
def test_the_fused_oracle_is_used_and_gives_the_same_iterates(solver, name, params):
    cls, _, _ = SOLVERS[solver]
    problem = problems.get(name, **params)
    runs = {}
    for kind in (Separate, Fused):
        oracle = kind(problem)
        iterates = []
        result = cls().minimize(oracle, problem.x0(0), STEPS,
                                lambda xk, seen=iterates: seen.append(np.array(xk, copy=True)))
        runs[kind] = result, iterates, oracle.calls
    (r_sep, it_sep, calls_sep), (r_fused, it_fused, calls_fused) = runs[Separate], runs[Fused]
    assert r_sep.success and r_fused.success and r_fused.nit == r_sep.nit > 0
    # scipy asked for the pair through loss_and_grad only, once per evaluation
    assert calls_fused == {"loss": 0, "grad": 0, "loss_and_grad": r_fused.nfev}
    assert calls_sep == {"loss": r_sep.nfev, "grad": r_sep.njev}
    assert r_fused.nfev == r_fused.njev == r_sep.nfev == r_sep.njev
    # bit for bit the same numbers, so the same run
    assert len(it_fused) == len(it_sep) == r_sep.nit
    for a, b in zip(it_fused, it_sep):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r_fused.x, r_sep.x)
    assert r_fused.fun == r_sep.fun


def test_through_the_harness_the_counts_follow_scipy_with_the_fused_oracle():
    """optbench.run hands the adapter its counting oracle: each fused call counts as one
    loss and one grad, so n_loss == nfev and n_grad == njev still."""
    watched = Fused(problems.get("logistic", n_samples=300, n_features=5, batch_size=None))
    res = optbench.run(watched, LBFGS(), steps=STEPS, tol_grad=None)
    meta, last = res.meta["solver"], res.trace.iloc[-1]
    assert meta["success"] and last["n_loss"] == meta["nfev"] and last["n_grad"] == meta["njev"]
    assert watched.calls["loss"] == watched.calls["grad"] == 0
    # the method's evaluations, plus the recorder's one per row
    assert watched.calls["loss_and_grad"] == meta["nfev"] + len(res.trace)


def test_an_oracle_without_the_fused_method_is_called_loss_then_grad():
    log = []

    class Plain:
        __slots__ = ()

        def loss(self, x):
            log.append("loss")
            return 0.5 * float(x @ x)

        def grad(self, x):
            log.append("grad")
            return x.copy()

    assert scipy_adapters.loss_and_grad_of(Plain())(np.ones(2)) == (1.0, pytest.approx(1.0))
    assert log == ["loss", "grad"]
    log.clear()
    result = LBFGS().minimize(Plain(), np.array([3.0, -1.0]), 50, None)
    assert result.success and log == ["loss", "grad"] * result.nfev


def test_whole_run_solvers_always_see_the_full_objective():
    params = {"n_samples": 300, "n_features": 5, "seed": 0}
    full = optbench.run(problems.get("logistic", batch_size=None, **params), LBFGS(),
                        steps=30, tol_grad=None)
    batched = optbench.run(problems.get("logistic", batch_size=16, **params), LBFGS(),
                           steps=30, tol_grad=None)
    np.testing.assert_array_equal(batched.x, full.x)
    cols = ["step", "loss", "n_loss", "n_grad"]
    assert batched.trace[cols].equals(full.trace[cols])


def test_adapter_attributes_and_options():
    lbfgs, bfgs = LBFGS(m=4, gtol=1e-7, ftol=0.0, maxls=5), BFGS(gtol=0)
    assert lbfgs.name == "lbfgs" and bfgs.name == "bfgs"
    assert lbfgs.needs == bfgs.needs == ("loss", "grad")
    assert json.loads(json.dumps(lbfgs.hyperparams)) == {"m": 4, "gtol": 1e-7, "ftol": 0.0,
                                                         "maxls": 5}
    assert json.loads(json.dumps(bfgs.hyperparams)) == {"gtol": 0.0}
    assert lbfgs.options(7) == {"maxcor": 4, "gtol": 1e-7, "ftol": 0.0, "maxls": 5,
                                "maxiter": 7}
    assert bfgs.options(7) == {"gtol": 0.0, "maxiter": 7}
    for solver in (lbfgs, bfgs):  # whole-run solvers: the runner must not treat them stepwise
        assert not hasattr(solver, "step") and not hasattr(solver, "lr_at")
    assert repr(lbfgs) == "lbfgs[m=4,gtol=1e-07,ftol=0.0,maxls=5]"


def test_lbfgs_memory_reaches_scipy():
    """m is scipy's maxcor: m=1 and m=10 give scipy's respective runs."""
    problem = problems.get("rosenbrock", dim=10)
    for m in (1, 10):
        options = {**lbfgsb_options(STEPS), "maxcor": m}
        ref, _, _ = direct_scipy(problem, "L-BFGS-B", options, problem.x0(0))
        res = optbench.run(problem, LBFGS(m=m), steps=STEPS, tol_grad=None)
        assert res.meta["steps_taken"] == ref.nit
        np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-8)


# Our stepwise L-BFGS ------------------------------------------------------------------


def dense_inverse_hessian(pairs, n):
    """H from the BFGS recursion H <- V^T H V + rho s s^T, V = I - rho y s^T, H_0 = gamma I."""
    s_new, y_new = pairs[-1]
    h = (s_new @ y_new) / (y_new @ y_new) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    return h


def test_two_loop_matches_the_dense_recursion():
    rng = np.random.default_rng(1)
    n = 6
    b = rng.standard_normal((n, n))
    a = b @ b.T + np.eye(n)
    pairs = [(s, a @ s) for s in rng.standard_normal((4, n))]
    g = rng.standard_normal(n)
    h = dense_inverse_hessian(pairs, n)
    np.testing.assert_allclose(two_loop(pairs, g), h @ g, rtol=1e-10)
    # the secant equation for the newest pair: H y = s
    np.testing.assert_allclose(two_loop(pairs, pairs[-1][1]), pairs[-1][0], rtol=1e-10)
    g_before = g.copy()
    two_loop(pairs, g)
    np.testing.assert_array_equal(g, g_before)    # the gradient is not modified
    np.testing.assert_array_equal(two_loop([], g), g)


def test_stochastic_lbfgs_on_a_quadratic_decreases_and_converges_like_scipy():
    problem = problems.get("quadratic", dim=20, condition_number=100)
    ours = optbench.run(problem, LBFGSStochastic(line_search=True), steps=100,
                        tol_grad=None, tol_subopt=1e-10)
    loss = ours.trace["loss"].to_numpy()
    assert ours.status == "converged" and ours.trace["subopt"].iloc[-1] < 1e-10
    assert (np.diff(loss) < 0).all()              # Armijo: every step decreases the loss
    assert (ours.trace["n_grad"] == 2 * ours.trace["step"]).all()
    # scipy's L-BFGS-B with its own stopping tests off, stopped at the same tolerance
    ref = optbench.run(problem, LBFGS(gtol=0.0, ftol=0.0), steps=1000, tol_grad=None,
                       tol_subopt=1e-10)
    assert ref.status == "converged"
    n_ours, n_ref = ours.meta["steps_taken"], ref.meta["steps_taken"]
    # measured: 56 steps for ours, 51 iterations for scipy
    assert n_ref / 3 <= n_ours <= 3 * n_ref


class CallLog:
    """One oracle (a minibatch), counting the calls made on it."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.n_loss = self.n_grad = 0

    def loss(self, x):
        self.n_loss += 1
        return self.oracle.loss(x)

    def grad(self, x):
        self.n_grad += 1
        return self.oracle.grad(x)


class LoggedBatches:
    """A stochastic problem whose every minibatch is logged."""

    def __init__(self, problem):
        self.problem = problem
        self.batches = []

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def minibatch(self, rng):
        batch = CallLog(self.problem.minibatch(rng))
        self.batches.append(batch)
        return batch


def test_each_step_uses_one_minibatch_for_both_gradients_and_the_line_search():
    logged = LoggedBatches(problems.get("logistic", n_samples=200, n_features=5, batch_size=8))
    res = optbench.run(logged, LBFGSStochastic(), steps=12, tol_grad=None)
    assert len(logged.batches) == 12
    assert [b.n_grad for b in logged.batches] == [2] * 12
    assert all(b.n_loss >= 2 for b in logged.batches)   # at x, then 1 + backtracks trials
    assert res.trace["n_grad"].iloc[-1] == 24
    assert res.trace["n_loss"].iloc[-1] == sum(b.n_loss for b in logged.batches)
    assert (res.trace["lr"] == 1.0).all()


def test_without_line_search_the_first_step_is_gradient_descent():
    problem = problems.get("quadratic", dim=5, condition_number=10)
    x0 = problem.x0(0)
    res = optbench.run(problem, LBFGSStochastic(0.01, line_search=False), steps=1,
                       tol_grad=None)
    np.testing.assert_allclose(res.x, x0 - 0.01 * problem.grad(x0), rtol=1e-14)
    assert res.trace["n_loss"].iloc[-1] == 0 and res.trace["n_grad"].iloc[-1] == 2
    assert LBFGSStochastic(line_search=False).needs == ("grad",)
    assert LBFGSStochastic().needs == ("loss", "grad")


class Concave:
    """f(x) = -|x|^2 / 2: every curvature pair has s.y < 0."""

    def loss(self, x):
        return -0.5 * float(x @ x)

    def grad(self, x):
        return -x


def test_curvature_pairs_are_skipped_and_memory_is_bounded():
    opt = LBFGSStochastic(m=3)
    x = np.array([1.0, 2.0])
    state = opt.init(x)
    x = opt.step(x, Concave(), state)
    assert len(state.pairs) == 0 and state.skipped == 1
    problem = problems.get("quadratic", dim=10, condition_number=50)
    x = problem.x0(0)
    state = opt.init(x)
    for _ in range(8):
        x = opt.step(x, problem, state)
    assert state.t == 8 and len(state.pairs) == 3 and state.skipped == 0


def test_a_non_descent_direction_is_reset_to_minus_the_gradient():
    opt = LBFGSStochastic(0.5, line_search=False)
    x = np.array([1.0, 0.0])
    state = opt.init(x)
    # a pair with s.y < 0, which the skip rule would never store, makes H g point uphill
    state.pairs.append((np.array([1.0, 0.0]), np.array([-1.0, 0.0])))

    class Bowl:
        def grad(self, x):
            return x.copy()

    x = opt.step(x, Bowl(), state)
    assert state.resets == 1
    np.testing.assert_allclose(x, [0.5, 0.0])    # x - 0.5 * g


# The lecture: L-BFGS does not transfer well to the minibatch setting -------------------


def subopt_at_budget(trace, n_grad):
    """The suboptimality at the last recorded row that used at most ``n_grad`` gradients."""
    return float(trace.loc[trace["n_grad"] <= n_grad, "subopt"].iloc[-1])


def test_minibatch_lbfgs_is_much_worse_than_full_batch_at_equal_gradient_budget():
    params = {"n_samples": 2000, "n_features": 20, "seed": 0}
    small = problems.get("logistic", batch_size=8, **params)
    full = problems.get("logistic", batch_size=None, **params)
    budget = 200                                   # gradient evaluations (oracle calls)
    stochastic = optbench.run(small, LBFGSStochastic(), steps=budget // 2, tol_grad=None)
    full_ours = optbench.run(full, LBFGSStochastic(), steps=budget // 2, tol_grad=None)
    full_scipy = optbench.run(full, LBFGS(), steps=budget, tol_grad=None)
    adam = optbench.run(small, optimizers.get("adam", lr=0.01), steps=budget, tol_grad=None)
    sgd = optbench.run(small, optimizers.get("sgd", lr=0.01), steps=budget, tol_grad=None)
    assert stochastic.trace["n_grad"].iloc[-1] == full_ours.trace["n_grad"].iloc[-1] == budget
    assert adam.trace["n_grad"].iloc[-1] == budget

    s_stochastic = subopt_at_budget(stochastic.trace, budget)
    s_full_ours = subopt_at_budget(full_ours.trace, budget)
    s_full_scipy = subopt_at_budget(full_scipy.trace, budget)
    s_adam = subopt_at_budget(adam.trace, budget)
    s_sgd = subopt_at_budget(sgd.trace, budget)
    # Measured (seed 0, 200 gradient calls; subopt at x0 = 0.307):
    #   lbfgs_stochastic, batch 8:          1.097   (worse than x0: noisy curvature pairs
    #                                                from 8 rows give huge steps)
    #   lbfgs_stochastic, full batch:       0.00414
    #   scipy L-BFGS-B, full batch:         8.97e-05
    #   adam lr=0.01, batch 8:              0.132
    #   sgd lr=0.01, batch 8:               0.1995
    # Over run seeds 0-5 the batch-8 run is 54x to 415x worse than its full-batch run
    # and Adam (lr=0.01) beats it every time (0.13-0.22 against 0.23-1.72); with
    # batch 16 the gap to Adam shrinks (seed 0: 0.178 against 0.129).  Per row of data
    # touched the picture is the same: 1000 batch-8 steps (16000 rows) end at 13.7,
    # scipy's 8 full gradients (16000 rows) at 0.176.  At equal gradient calls the
    # minibatch first-order methods stay far behind full-batch L-BFGS.
    assert s_stochastic >= 10 * s_full_ours
    assert s_stochastic >= 10 * s_full_scipy
    assert s_adam < s_stochastic
    assert s_full_scipy < s_adam and s_full_scipy < s_sgd


# Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LBFGS, LBFGSStochastic])
@pytest.mark.parametrize("m", [0, -3, 1.5, "10", True])
def test_bad_memory(cls, m):
    with pytest.raises(ValueError, match=rf"^{cls.name}: m must be an integer >= 1, got "):
        cls(m=m)


def test_message_format():
    with pytest.raises(ValueError) as info:
        LBFGS(m=0)
    assert str(info.value) == "lbfgs: m must be an integer >= 1, got 0"


@pytest.mark.parametrize("cls", [LBFGS, BFGS])
@pytest.mark.parametrize("gtol", [-1, -1e-300, math.nan, math.inf])
def test_bad_gtol(cls, gtol):
    with pytest.raises(ValueError, match=rf"^{cls.name}: gtol must be in \[0, inf\), got "):
        cls(gtol=gtol)


@pytest.mark.parametrize("kwargs, param, allowed", [
    ({"ftol": -1e-9}, "ftol", r"in \[0, inf\)"),
    ({"maxls": 0}, "maxls", "an integer >= 1"),
])
def test_bad_lbfgs_options(kwargs, param, allowed):
    with pytest.raises(ValueError, match=rf"^lbfgs: {param} must be {allowed}"):
        LBFGS(**kwargs)


@pytest.mark.parametrize("lr", [0, 0.0, -1.0, math.nan, math.inf])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match=r"^lbfgs_stochastic: lr must be in \(0, inf\), got "):
        LBFGSStochastic(lr=lr)


@pytest.mark.parametrize("kwargs, param, allowed", [
    ({"c1": 0.0}, "c1", r"in \(0, 1\)"),
    ({"c1": 1.0}, "c1", r"in \(0, 1\)"),
    ({"backtrack": 0.0}, "backtrack", r"in \(0, 1\)"),
    ({"backtrack": 1.0}, "backtrack", r"in \(0, 1\)"),
    ({"max_backtracks": 0}, "max_backtracks", "an integer >= 1"),
    ({"max_backtracks": 2.5}, "max_backtracks", "an integer >= 1"),
    ({"curvature_eps": -1e-12}, "curvature_eps", r"in \[0, inf\)"),
    ({"line_search": 1}, "line_search", "True or False"),
])
def test_bad_stochastic_hyperparameters(kwargs, param, allowed):
    with pytest.raises(ValueError, match=rf"^lbfgs_stochastic: {param} must be {allowed}"):
        LBFGSStochastic(**kwargs)


@pytest.mark.parametrize("cls, typo, nearest", [
    (LBFGS, "gtoll", "gtol"),
    (LBFGS, "max_ls", "maxls"),
    (BFGS, "g_tol", "gtol"),
    (LBFGSStochastic, "linesearch", "line_search"),
    (LBFGSStochastic, "curvature_epsilon", "curvature_eps"),
])
def test_unknown_hyperparameter_names_the_nearest(cls, typo, nearest):
    with pytest.raises(ValueError, match=rf"^{cls.name}: unknown hyper-parameter {typo!r}; "
                                         rf"did you mean {nearest!r}\?"):
        cls(**{typo: 1})


def test_scipy_adapters_take_keywords_only():
    with pytest.raises(ValueError, match="^lbfgs: "):
        LBFGS(5)
    assert scipy_adapters.LBFGS().hyperparams["m"] == 10


def test_stochastic_hyperparams_are_json_friendly():
    opt = LBFGSStochastic({"schedule": "step", "lr": 1.0, "factor": 0.5, "every": 10}, m=3)
    assert json.loads(json.dumps(opt.hyperparams)) == opt.hyperparams
    assert opt.hyperparams["lr"] == {"schedule": "step", "lr": 1.0, "factor": 0.5, "every": 10}
    assert opt.lr_at(0) == 1.0 and opt.lr_at(10) == 0.5
