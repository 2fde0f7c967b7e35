"""The benchopt-free parts of benchmarks/compare/benchopt_curve.py (issue 8, goal 4).

benchopt is not installed in the test environment: these tests cover what the
comparison relies on without it: the iteration counts benchopt's "iteration"
strategy evaluates, optbench's one-pass curve at exactly those counts (checked
against restarted reference solvers written out here), the agreement check, and the
ImportError that says how to build the benchmark-only environment.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.optimize

from benchmarks.compare import benchopt_curve as bc
from problems.logistic import logistic_grad, logistic_loss

SMALL = {"n_samples": 200, "n_features": 5, "reg": 1e-3, "standardize": True, "seed": 3}


def test_points_follow_benchopts_geometric_rule():
    points = bc.benchopt_iteration_points(50)
    assert len(points) == 50 and points[0] == 0
    for a, b in zip(points, points[1:]):
        assert b == max(a + 1, int(1.5 * a))
    assert points[:12] == [0, 1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 63]
    assert points[-1] == 306487275
    assert bc.benchopt_iteration_points(3, rho=2.0) == [0, 1, 2]
    assert bc.benchopt_iteration_points(6, rho=2.0) == [0, 1, 2, 4, 8, 16]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n_points"):
            bc.benchopt_iteration_points(bad)
    with pytest.raises(ValueError, match="rho"):
        bc.benchopt_iteration_points(5, rho=1.0)


def test_benchopt_command_asks_for_the_curve():
    args = bc.benchopt_args(bc.BENCHMARK_DIR, bc.BENCHMARK_DIR / "out.parquet", bc.MAIN_PROBLEM,
                            0.1 + 0.2, 50)
    assert args[args.index("--max-runs") + 1] == "49"  # benchopt evaluates max_runs + 1 points
    for flag in ("--no-timeout", "--no-cache", "--no-plot"):
        assert flag in args
    gd = args[args.index("-s") + 1]
    assert gd == "gd[lr=0.30000000000000004,tol_grad=1e-10]"  # repr: the float round-trips
    dataset = args[args.index("-d") + 1]
    assert dataset.startswith("optbench-logistic[") and "standardize=True" in dataset


def test_curve_at_reads_the_trace_and_holds_the_last_row():
    steps = np.arange(5)
    loss = np.array([4.0, 3.0, 2.5, 2.25, 2.125])
    assert bc.curve_at(steps, loss, [0, 1, 3]) == {0: 4.0, 1: 3.0, 3: 2.25}
    assert bc.curve_at(steps, loss, [2, 4, 6, 9]) == {2: 2.5, 4: 2.125, 6: 2.125, 9: 2.125}
    with pytest.raises(ValueError, match="every step"):
        bc.curve_at(np.array([0, 2, 4]), loss[:3], [0, 2])


def test_check_agreement_passes_equal_curves_and_fails_different_ones():
    curve = {0: 1.0, 1: 0.5, 3: 0.25}
    assert bc.check_agreement(curve, dict(curve)) == 0.0
    near = {**curve, 3: 0.25 * (1 + 1e-14)}
    assert 0 < bc.check_agreement(curve, near) < 1e-12
    with pytest.raises(ValueError, match="iteration 3"):
        bc.check_agreement(curve, {**curve, 3: 0.25 * (1 + 1e-9)})
    with pytest.raises(ValueError, match="iteration 1"):
        bc.check_agreement(curve, {**curve, 1: float("nan")})
    with pytest.raises(ValueError, match="different points"):
        bc.check_agreement(curve, {0: 1.0, 1: 0.5, 4: 0.25})
    assert bc.check_agreement(curve, {**curve, 3: 0.26}, rtol=0.1) == pytest.approx(0.01 / 0.26)


def test_gd_step_is_one_over_the_gradients_lipschitz_constant():
    problem = bc.build_problem(SMALL)
    lr = bc.gd_step(problem)
    # at w = 0 every sigma'(m) is 1/4, where the Hessian is largest: X^T X / (4n) + reg I
    top_at_zero = np.linalg.eigvalsh(problem.hess(np.zeros(problem.dim)))[-1]
    assert top_at_zero == pytest.approx(1 / lr, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(3):
        w = rng.standard_normal(problem.dim)
        assert np.linalg.eigvalsh(problem.hess(w))[-1] <= 1 / lr * (1 + 1e-12)


def restarted_gd(problem, lr, n_iter):
    """What benchopt's gd solver computes for one point: n_iter steps from x0, stopping at
    the first iterate with |grad| <= 1e-10."""
    yx = problem.X * problem.y[:, None]
    w = problem.x0(0).copy()
    for _ in range(n_iter):
        g = logistic_grad(yx, w, problem.reg)
        if float(np.linalg.norm(g)) <= bc.TOL_GRAD:
            break
        w -= lr * g
    return logistic_loss(yx, w, problem.reg)


def restarted_lbfgs(problem, n_iter):
    yx = problem.X * problem.y[:, None]
    w0 = problem.x0(0)
    if n_iter == 0:
        return logistic_loss(yx, w0, problem.reg)
    result = scipy.optimize.minimize(
        lambda w: (logistic_loss(yx, w, problem.reg), logistic_grad(yx, w, problem.reg)), w0,
        jac=True, method="L-BFGS-B",
        options={"maxcor": 10, "gtol": 1e-5, "ftol": 2.220446049250313e-09, "maxls": 20,
                 "maxiter": n_iter})
    return logistic_loss(yx, result.x, problem.reg)


def test_one_pass_curve_is_at_the_requested_points_and_matches_restarts():
    problem = bc.build_problem(SMALL)
    lr = bc.gd_step(problem)
    points = bc.benchopt_iteration_points(22)  # up to 3597 steps: gd converges before that
    statuses: dict[str, str] = {}
    curves = bc.optbench_curves(SMALL, lr, points, statuses)
    assert set(curves) == {"gd", "lbfgs"}
    for curve in curves.values():
        assert list(curve) == points
    assert statuses["gd"].startswith("converged after ")
    converged_at = int(statuses["gd"].split()[2])
    assert converged_at < points[-1]  # some points lie past convergence
    for n in points:
        assert curves["gd"][n] == restarted_gd(problem, lr, n)  # bit for bit
    for n in points[:12] + points[-2:]:
        assert curves["lbfgs"][n] == pytest.approx(restarted_lbfgs(problem, n), rel=1e-12)
    gd = list(curves["gd"].values())
    # a descent method with step 1/L (up to round-off in the last digits near the optimum)
    assert all(b <= a * (1 + 1e-15) for a, b in zip(gd, gd[1:]))
    assert gd[-1] < gd[0]


def test_measure_says_how_to_build_the_environment_without_benchopt(monkeypatch):
    monkeypatch.setitem(sys.modules, "benchopt", None)  # import benchopt raises ImportError
    with pytest.raises(ImportError, match="requirements-benchopt.txt"):
        bc.measure(quick=True)
    assert bc.main(["--quick"]) == 2


def test_recording_only_at_the_points_gives_the_same_curve():
    raw = {**SMALL, "standardize": False}  # gd is far from converged at 1599 steps
    problem = bc.build_problem(raw)
    lr = bc.gd_step(problem)
    points = bc.benchopt_iteration_points(20)
    every = bc.optbench_curves(raw, lr, points)
    statuses: dict[str, str] = {}
    at_points = bc.optbench_curves(raw, lr, points, statuses, gd_at_points=True)
    assert statuses["gd"] == f"max_steps after {points[-1]} steps"
    assert at_points["gd"] == every["gd"] and list(at_points["gd"]) == points
    assert at_points["lbfgs"] == every["lbfgs"]
    # where gd converges before the last point, recording only there cannot stop it in time
    with pytest.raises(ValueError, match="stopped early"):
        bc.optbench_curves(SMALL, bc.gd_step(bc.build_problem(SMALL)),
                           bc.benchopt_iteration_points(22), gd_at_points=True)
