"""Newton's method (optimizers/newton.py): the rule, its modifications, counts and errors.

Every expected value below comes from the mathematics of the problem (a quadratic's
minimiser, the saddle's geometry, a convergence bound computed from the data) or
from an independent numpy computation, never from a run of the implementation.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy.linalg import cho_solve

import optbench
import problems
from optimizers import newton, schedules
from optimizers.newton import Newton, shifted_cholesky

EPS = np.finfo(float).eps


class Counted:
    """Forwards loss/grad/hess to ``oracle`` and counts the calls, in order."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.calls: list[str] = []

    def loss(self, x):
        self.calls.append("loss")
        return self.oracle.loss(x)

    def grad(self, x):
        self.calls.append("grad")
        return self.oracle.grad(x)

    def hess(self, x):
        self.calls.append("hess")
        return self.oracle.hess(x)


class Fixed:
    """An oracle with a given gradient and Hessian wherever it is evaluated."""

    def __init__(self, g, h, loss=None):
        self.g = np.asarray(g, dtype=float)
        self.h = np.asarray(h, dtype=float)
        self._loss = loss

    def loss(self, x):
        return self._loss(x)

    def grad(self, x):
        return self.g.copy()

    def hess(self, x):
        return self.h.copy()


# Quadratics: one full step is exact ---------------------------------------------------


@pytest.mark.parametrize("rotate", [True, False])
@pytest.mark.parametrize("k", [1.0, 1e2, 1e4, 1e6, 1e8])
def test_one_step_solves_a_quadratic(k, rotate):
    problem = problems.get("quadratic", dim=10, condition_number=k, rotate=rotate)
    x0 = problem.x0(0)
    result = optbench.run(problem, Newton(lr=1.0), steps=1, tol_grad=None)
    assert result.trace["step"].tolist() == [0, 1]
    assert result.trace["subopt"].iloc[-1] <= 1e-12
    # a backward-stable solve has forward error about cond(A) * eps, relative
    d0 = np.linalg.norm(x0 - problem.x_star)
    assert np.linalg.norm(result.x - problem.x_star) <= 10 * problem.dim * k * EPS * d0 + 1e-14


def test_learning_rate_scales_the_step():
    problem = problems.get("quadratic", dim=6, condition_number=50.0)
    x0 = problem.x0(1)
    # f is quadratic, so a step of length lr along the Newton direction -(x - x*)
    # lands at x* + (1 - lr) (x0 - x*)
    for lr in (0.25, {"schedule": "step", "lr": 0.5, "every": 1, "factor": 0.5}):
        opt = Newton(lr)
        x = x0.copy()
        state = opt.init(x)
        expected = x0.copy()
        for t in range(3):
            rate = schedules.from_spec(lr)(t)
            expected = problem.x_star + (1 - rate) * (expected - problem.x_star)
            x = opt.step(x, problem, state)
            assert opt.lr_at(t) == rate
            np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-12)
        assert state.t == 3


def test_step_updates_x_in_place_and_keeps_the_oracles_arrays():
    h = np.array([[2.0, 0.5], [0.5, 1.0]])
    g = np.array([1.0, -1.0])
    oracle = Fixed(g, h)
    oracle.grad = lambda x: g          # hand out the very same arrays each time
    oracle.hess = lambda x: h
    x = np.array([0.3, 0.4])
    opt = Newton(damping=0.1)
    out = opt.step(x, oracle, opt.init(x))
    assert out is x
    np.testing.assert_array_equal(h, [[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(g, [1.0, -1.0])


# Damping --------------------------------------------------------------------------------


@pytest.mark.parametrize("damping", [0.0, 1e-3, 0.5, 10.0, 1e6])
def test_damped_step_is_the_regularised_solve(damping):
    problem = problems.get("quadratic", dim=8, condition_number=1e3, seed=3)
    x0 = problem.x0(2)
    a = problem.hess(x0)
    g = problem.grad(x0)
    expected = -np.linalg.solve(a + damping * np.eye(problem.dim), g)
    opt = Newton(damping=damping)
    state = opt.init(x0)
    x1 = opt.step(x0.copy(), problem, state)
    np.testing.assert_allclose(x1 - x0, expected, rtol=1e-9, atol=1e-15 * np.abs(expected).max())
    assert state.last_shift == 0.0   # A + d I is positive definite: nothing added


def test_large_damping_is_gradient_descent():
    problem = problems.get("quadratic", dim=5, condition_number=10.0)
    x0 = problem.x0(0)
    d = 1e8
    x1 = Newton(damping=d).step(x0.copy(), problem, Newton().init(x0))
    # (A + d I)^{-1} = I/d - A/d^2 + ..., so the step is -g/d up to a relative 10/d
    np.testing.assert_allclose(x1 - x0, -problem.grad(x0) / d, rtol=20 / d)


# The positive-definite modification ----------------------------------------------------


def _rule_shift(m):
    """Nocedal and Wright's Algorithm 3.3 as documented, with exact eigenvalues.

    The Cholesky factorisation of ``m + tau I`` succeeds when ``tau > -lambda_min``;
    the rule tries ``tau_0`` then ``max(2 tau, beta)``.
    """
    beta = 1e-3 * np.abs(m).max()
    lam_min = np.linalg.eigvalsh(m)[0]
    tau = 0.0 if np.diag(m).min() > 0 else beta - np.diag(m).min()
    while not tau > -lam_min:
        tau = max(2 * tau, beta)
    return tau


@pytest.mark.parametrize("m", [
    np.diag([1.0, -1.0]),                          # the saddle's Hessian at the origin
    np.array([[1.0, 2.0], [2.0, 1.0]]),            # positive diagonal, eigenvalues -1, 3
    np.array([[4.0, 1.0, 0.0], [1.0, -3.0, 2.0], [0.0, 2.0, 0.5]]),
    np.diag([1e-8, -1e-9]),                        # tiny scale: the rule scales with m
    np.array([[2.0, 0.3], [0.3, 1.0]]),            # positive definite: no shift
])
def test_shift_follows_the_documented_rule(m):
    factors, tau = shifted_cholesky(m)
    expected = _rule_shift(m)
    assert tau == pytest.approx(expected, rel=1e-12)
    # and the factors are those of m + tau I
    b = np.arange(1.0, m.shape[0] + 1)
    np.testing.assert_allclose((m + tau * np.eye(len(m))) @ cho_solve(factors, b), b,
                               rtol=1e-8)


def test_shift_is_scale_invariant():
    m = np.array([[1.0, 2.0], [2.0, 1.0]])
    _, tau = shifted_cholesky(m)
    _, tau_scaled = shifted_cholesky(1e6 * m)
    assert tau_scaled == pytest.approx(1e6 * tau, rel=1e-12)


def test_shifted_step_descends_where_the_hessian_is_indefinite():
    h = np.array([[1.0, 2.0], [2.0, 1.0]])
    g = np.array([1.0, -0.8])              # mostly along the eigenvector of -1
    opt = Newton()
    state = opt.init(np.zeros(2))
    x = opt.step(np.zeros(2), Fixed(g, h), state)
    tau = _rule_shift(h)
    assert state.last_shift == pytest.approx(tau)
    np.testing.assert_allclose(x, -np.linalg.solve(h + tau * np.eye(2), g), rtol=1e-10)
    assert g @ x < 0                     # a descent direction, unlike the plain step
    plain = -np.linalg.solve(h, g)
    assert g @ plain > 0


def test_none_solves_the_plain_system_and_lstsq_when_singular():
    h = np.array([[1.0, 2.0], [2.0, 1.0]])
    g = np.array([1.0, 0.5])
    opt = Newton(modification="none")
    state = opt.init(np.zeros(2))
    x = opt.step(np.zeros(2), Fixed(g, h), state)
    np.testing.assert_allclose(x, -np.linalg.solve(h, g), rtol=1e-12)
    assert state.last_shift == 0.0
    # exactly singular: the minimum-norm least-squares solution
    x = opt.step(np.zeros(2), Fixed([1.0, 1.0], np.diag([2.0, 0.0])), state)
    np.testing.assert_allclose(x, [-0.5, 0.0], atol=1e-15)


def test_non_finite_hessian_gives_a_non_finite_step():
    for h in (np.diag([1.0, np.nan]), np.diag([np.inf, 1.0])):
        for line_search in (False, True):
            oracle = Counted(Fixed([1.0, 1.0], h, loss=lambda x: 0.0))
            opt = Newton(line_search=line_search)
            x = opt.step(np.ones(2), oracle, opt.init(np.ones(2)))
            assert np.isnan(x).all()
            assert "loss" not in oracle.calls


# Quadratic convergence on logistic regression ------------------------------------------


@pytest.fixture(scope="module")
def logistic():
    return problems.get("logistic", n_samples=300, n_features=5, batch_size=None,
                        standardize=True)


def test_quadratic_convergence_on_logistic(logistic):
    w_star = logistic.w_star
    # Hessian Lipschitz constant: d/dw sigma'(y x.w) = sigma''(m) y x, |sigma''| <= 1/(6 sqrt 3),
    # so |H(w) - H(v)| <= mean_i |x_i|^3 / (6 sqrt 3) |w - v|.
    lip = np.mean(np.linalg.norm(logistic.X, axis=1) ** 3) / (6 * math.sqrt(3))
    mu = np.linalg.eigvalsh(logistic.hess(w_star))[0]
    # Newton's local theorem (Nesterov, Lectures on Convex Optimization, Thm 1.2.5):
    # e_{k+1} <= lip e_k^2 / (2 (mu - lip e_k)) <= (lip / mu) e_k^2 once e_k <= mu / (2 lip)
    c = lip / mu
    radius = mu / (2 * lip)
    floor = 100 * EPS * max(1.0, np.linalg.norm(w_star))   # round-off in w*, x and the solve

    opt = Newton()
    x = logistic.x0(0)
    state = opt.init(x)
    errors = [np.linalg.norm(x - w_star)]
    for _ in range(12):
        x = opt.step(x, logistic, state)
        errors.append(np.linalg.norm(x - w_star))
    pairs = [(e, f) for e, f in zip(errors, errors[1:]) if e <= radius]
    assert len([e for e, _ in pairs if e > floor]) >= 2   # the regime is actually seen
    for e, f in pairs:
        assert f <= c * e * e + floor, (e, f, c)
    assert errors[-1] <= floor


def test_logistic_run_reaches_round_off_in_a_handful_of_steps(logistic):
    result = optbench.run(logistic, Newton(), steps=20, tol_grad=None)
    grad_norm = result.trace["grad_norm"].to_numpy()
    first = int(np.argmax(grad_norm < 1e-10))
    assert grad_norm[first] < 1e-10 and first <= 8
    assert result.status == "max_steps"          # tol_grad=None: the run goes on
    assert np.all(grad_norm[first:] < 1e-10)


# The saddle --------------------------------------------------------------------------------


def test_plain_newton_is_attracted_by_the_saddle():
    problem = problems.get("saddle", dim=2)
    x0 = problem.x0(0)                     # y = +-1e-3 beside the saddle
    opt = Newton(modification="none")
    x = x0.copy()
    state = opt.init(x)
    ys = [x[1]]
    for _ in range(4):
        x = opt.step(x, problem, state)
        ys.append(x[1])
    # y <- y - (y^3 - y) / (3 y^2 - 1) = 2 y^3 / (3 y^2 - 1): |y| shrinks (cubically)
    assert all(abs(b) < abs(a) for a, b in zip(ys, ys[1:]) if a != 0)
    assert np.linalg.norm(x) < 1e-12

    # from a point below f(0) = 0, the loss goes *up* to the saddle's value
    start = np.array([0.1, 0.3])           # f = 0.005 + 0.3^4/4 - 0.3^2/2 < 0
    result = optbench.run(problem, Newton(modification="none"), steps=6, x0=start)
    loss = result.trace["loss"].to_numpy()
    assert loss[0] < 0 and loss[-1] > loss[0]
    assert abs(loss[-1]) < 1e-12          # f(0) = 0
    assert result.trace["subopt"].iloc[-1] == pytest.approx(-problem.f_star, abs=1e-12)


@pytest.mark.parametrize("start", [None, np.array([0.1, 0.3]), np.array([-2.0, -0.3])])
def test_shifted_newton_with_line_search_escapes_the_saddle(start):
    problem = problems.get("saddle", dim=2)
    result = optbench.run(problem, Newton(line_search=True), steps=30, x0=start)
    assert result.trace["subopt"].iloc[-1] < 1e-12
    assert abs(abs(result.x[1]) - 1.0) < 1e-6 and abs(result.x[0]) < 1e-6
    assert np.all(np.diff(result.trace["loss"].to_numpy()) <= 0)


def test_line_search_falls_back_to_steepest_descent_on_an_ascent_direction():
    problem = problems.get("saddle", dim=2)
    x = np.array([0.0, 0.3])               # H_yy = 3 * 0.09 - 1 < 0: plain Newton ascends
    g = problem.grad(x)
    assert g @ np.linalg.solve(problem.hess(x), -g) > 0
    opt = Newton(modification="none", line_search=True)
    state = opt.init(x)
    f0 = problem.loss(x)
    x = opt.step(x, problem, state)
    assert state.last_fallback
    assert problem.loss(x) < f0
    # the step is along -g, from the first accepted trial a = backtrack^k
    a = state.last_alpha
    np.testing.assert_allclose(x, np.array([0.0, 0.3]) - a * g, rtol=1e-12)
    assert math.log2(a) == int(math.log2(a))


def test_exhausted_line_search_takes_no_step():
    # a "loss" that every trial point makes worse: the step is given up
    oracle = Counted(Fixed([1.0], [[1.0]], loss=lambda x: float(abs(x[0]) > 0) + abs(x[0])))
    opt = Newton(line_search=True, max_backtracks=5)
    x = np.array([0.0])
    state = opt.init(x)
    before = x.copy()
    x = opt.step(x, oracle, state)
    np.testing.assert_array_equal(x, before)
    assert state.last_alpha == 0.0
    assert oracle.calls == ["grad", "hess"] + ["loss"] * (1 + 5 + 1)


# Rosenbrock --------------------------------------------------------------------------------


def test_rosenbrock_with_line_search():
    problem = problems.get("rosenbrock", dim=2)
    np.testing.assert_array_equal(problem.x0(0), [-1.2, 1.0])
    result = optbench.run(problem, Newton(line_search=True), steps=50, tol_grad=1e-12)
    trace = result.trace
    assert trace["subopt"].iloc[-1] < 1e-10
    assert trace["step"].iloc[-1] < 50 and result.status == "converged"
    assert np.all(np.diff(trace["loss"].to_numpy()) <= 0)
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-6)


# Oracle calls ------------------------------------------------------------------------------


def test_counts_without_line_search():
    problem = problems.get("rosenbrock", dim=4)
    result = optbench.run(problem, Newton(lr=0.5), steps=10, tol_grad=None)
    trace = result.trace
    assert (trace["n_grad"] == trace["step"]).all()
    assert (trace["n_hess"] == trace["step"]).all()
    assert (trace["n_loss"] == 0).all()


def test_counts_with_line_search():
    problem = problems.get("rosenbrock", dim=4)
    opt = Newton(line_search=True, max_backtracks=30)
    result = optbench.run(problem, opt, steps=10, tol_grad=None)
    trace = result.trace
    steps = trace["step"]
    assert (trace["n_grad"] == steps).all() and (trace["n_hess"] == steps).all()
    # one loss at x plus between 1 and max_backtracks + 1 trials, every step
    assert (trace["n_loss"] >= 2 * steps).all()
    assert (trace["n_loss"] <= (opt.max_backtracks + 2) * steps).all()
    assert trace["n_loss"].iloc[-1] > 0


def test_calls_of_one_step():
    problem = problems.get("quadratic", dim=4, condition_number=10.0)
    x = problem.x0(0)
    oracle = Counted(problem)
    Newton().step(x.copy(), oracle, Newton().init(x))
    assert oracle.calls == ["grad", "hess"]
    # on a quadratic the unit step satisfies Armijo for c1 <= 1/2: one trial
    oracle = Counted(problem)
    Newton(line_search=True).step(x.copy(), oracle, Newton().init(x))
    assert oracle.calls == ["grad", "hess", "loss", "loss"]


def test_needs():
    assert Newton().needs == ("grad", "hess")
    assert set(Newton(line_search=True).needs) == {"loss", "grad", "hess"}


# Bad input ---------------------------------------------------------------------------------


class NoHessian:
    """A problem with a gradient only, counting every call made to it."""

    name = "no_hessian"
    dim = 2
    params: dict = {}
    f_star = 0.0
    stochastic = False
    has_hess = False

    def __init__(self):
        self.calls = 0

    def x0(self, seed=0):
        self.calls += 1
        return np.ones(2)

    def loss(self, x):
        self.calls += 1
        return float(x @ x) / 2

    def grad(self, x):
        self.calls += 1
        return x.copy()

    def hess(self, x):
        self.calls += 1
        raise AssertionError("hess must not be called")


@pytest.mark.parametrize("line_search", [False, True])
def test_problem_without_hessian_is_refused_before_any_step(line_search):
    problem = NoHessian()
    with pytest.raises(ValueError, match="Hessian"):
        optbench.run(problem, Newton(line_search=line_search), steps=5)
    assert problem.calls == 0


@pytest.mark.parametrize("param, value, allowed", [
    ("damping", -1, r"\[0, inf\)"),
    ("damping", -1e-300, r"\[0, inf\)"),
    ("damping", math.nan, r"\[0, inf\)"),
    ("damping", math.inf, r"\[0, inf\)"),
    ("c1", 0.0, r"\(0, 1\)"),
    ("c1", 1.0, r"\(0, 1\)"),
    ("c1", -0.5, r"\(0, 1\)"),
    ("c1", math.nan, r"\(0, 1\)"),
    ("backtrack", 0.0, r"\(0, 1\)"),
    ("backtrack", 1.0, r"\(0, 1\)"),
])
def test_out_of_range(param, value, allowed):
    with pytest.raises(ValueError, match=rf"^newton: {param} must be in {allowed}, got "):
        Newton(**{param: value})


def test_message_format():
    with pytest.raises(ValueError) as info:
        Newton(damping=-1)
    assert str(info.value) == "newton: damping must be in [0, inf), got -1"


@pytest.mark.parametrize("lr", [0, 0.0, -1.0, math.nan, math.inf])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match=r"^newton: lr must be in \(0, inf\), got "):
        Newton(lr)


@pytest.mark.parametrize("value", ["bogus", "Shift", "", None, 1])
def test_bad_modification(value):
    with pytest.raises(ValueError, match=r"^newton: modification must be 'shift' or 'none', "):
        Newton(modification=value)


@pytest.mark.parametrize("value", [0, -3, 2.5, "10"])
def test_bad_max_backtracks(value):
    with pytest.raises(ValueError, match=r"^newton: max_backtracks must be an integer >= 1"):
        Newton(max_backtracks=value)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_line_search_must_be_a_bool(value):
    with pytest.raises(ValueError, match="^newton: line_search must be True or False"):
        Newton(line_search=value)


@pytest.mark.parametrize("typo, nearest", [
    ("dampng", "damping"),
    ("linesearch", "line_search"),
    ("modifcation", "modification"),
    ("max_backtrack", "max_backtracks"),
])
def test_unknown_hyperparameter_names_the_nearest(typo, nearest):
    with pytest.raises(ValueError) as info:
        Newton(**{typo: 0.5})
    message = str(info.value)
    assert message.startswith(f"newton: unknown hyper-parameter {typo!r}")
    assert f"did you mean {nearest!r}?" in message


def test_keyword_only_options():
    with pytest.raises(ValueError, match="^newton: "):
        Newton(1.0, 0.1)


# Hyper-parameters and docs -------------------------------------------------------------


def test_hyperparams_round_trip_through_json():
    opt = Newton({"schedule": "step", "lr": 1.0, "every": 5}, damping=0.1, line_search=True,
                 modification="none", c1=0.01, backtrack=0.3, max_backtracks=12)
    spec = json.loads(json.dumps(opt.hyperparams))
    again = Newton(**spec)
    assert again.hyperparams == opt.hyperparams
    assert [again.lr_at(t) for t in (0, 4, 5)] == [1.0, 1.0, 0.5]
    assert repr(Newton()) == ("newton[lr=1.0,damping=0.0,line_search=False,"
                              "modification=shift,c1=0.0001,backtrack=0.5,max_backtracks=30]")


def test_docstring_examples():
    result = doctest.testmod(newton, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
