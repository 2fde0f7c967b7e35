#!/usr/bin/env python
"""One-pass convergence curves (optbench) against benchopt's restarts (issue 8, goal 4).

Run from the repository root, with a Python that has benchopt (a benchmark-only
environment; benchopt is not a dependency of optbench)::

    python -m venv BENCHOPT_VENV
    BENCHOPT_VENV/bin/pip install -r benchmarks/compare/requirements-benchopt.txt
    BENCHOPT_VENV/bin/python -m benchmarks.compare.benchopt_curve [--quick] [--rounds N]

The curve
---------
L2-regularised logistic regression, ``problems.get("logistic", n_samples=1000,
n_features=20, reg=1e-3, batch_size=None, standardize=True, seed=0)``, from
``x0 = problem.x0(0)``, with two methods: gradient descent with the fixed step
``lr = 1/L``, ``L = lambda_max(X^T X) / (4 n) + reg`` (the gradient's Lipschitz
constant, see :func:`gd_step`), and scipy's L-BFGS-B at optbench's ``lbfgs`` defaults.
benchopt (benchmarks/compare/benchopt_logreg) samples it with its own "iteration"
strategy: ``run(n)`` from scratch for every point, ``n`` growing by benchopt's default
rule ``n <- max(n + 1, int(1.5 n))`` from 0 (:func:`benchopt_iteration_points`),
``--max-runs 49`` (50 points: 0, 1, 2, 3, 4, 6, 9, ..., 306487275), ``NoCriterion`` so
that the curve is not cut short when it flattens, ``--no-timeout``, ``--no-cache``
and, every round, a fresh copy of the benchmark folder and a fresh output file, so
nothing is reused between rounds.  The points are read back from benchopt's parquet
and checked against the rule.

optbench draws the same curve in one pass per method:
``optbench.run(problem, optimizers.get("sgd", lr=lr), steps=max(points),
record_every=1)`` and ``optbench.run(problem, optimizers.get("lbfgs"),
steps=max(points), record_every=1)``; the curve at point ``n`` is the trace's loss at
step ``n``, or its last row once the run has stopped (gradient descent stops at the
first iterate with ``|grad| <= 1e-10``, optbench's default ``tol_grad``, which the
benchopt solver applies at the same iterates; L-BFGS-B stops by scipy's own tests in
both).  Ours is timed whole: building the problem, both runs with their recording
(one loss + gradient per recorded step) and reading the curve off the traces
(``problem.f_star``, which the recorder needs for ``subopt``, is computed in the
warm-up round and cached after that).

Both curves must agree: at every point, ``|ours - theirs| <= rtol * max(|ours|,
|theirs|)`` with ``rtol = 1e-12`` (both sides evaluate the same functions of
problems/logistic.py on the same arrays in the same order, so the values are
expected to be bit-identical; the largest difference seen is printed).

Timing: both sides run in the same interpreter with one BLAS thread (optbench.run's
threadpool limit; ``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1`` for the
benchopt process), in interleaved rounds (ours first on even rounds, benchopt first on
odd ones), after one warm-up round of each; medians over the rounds.  benchopt is run
as ``python -m benchopt run`` in a subprocess, which is what a user waits for; the
time of a bare process start with its imports (``python -c "import benchopt.cli,
benchopt.runner, pandas, scipy.optimize, problems"``) is measured in the same rounds
and reported apart, as is the solvers' own time (the sum of the parquet's ``time``
column: only ``Solver.run``).

Without ``--quick`` the script also times an informational second curve on which
gradient descent does not converge (raw, unstandardized features; 26 points, up to
18207 iterations), where benchopt's restarts cost about ``sum(points) / max(points)``
(~3x) the iterations of one pass, while ``record_every=1`` costs ours one loss and
gradient per step; a third side, in the same rounds, is ours with gradient descent
recording only at the points (``run(..., record_every=max(points),
snapshots=points)``, then the loss at each kept iterate), which is valid there
because that run never stops early.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The benchopt benchmark folder (objective.py, datasets/, solvers/).
BENCHMARK_DIR = Path(__file__).resolve().parent / "benchopt_logreg"

#: How to build the benchmark-only environment (printed when benchopt is missing).
INSTALL_HINT = (
    "benchopt is not importable here; build the benchmark-only environment from the "
    "repository root with `python -m venv BENCHOPT_VENV && BENCHOPT_VENV/bin/pip install -r "
    "benchmarks/compare/requirements-benchopt.txt` and run with BENCHOPT_VENV/bin/python"
)

#: benchopt's default growth factor of the "iteration" strategy (stopping_criterion.RHO).
RHO = 1.5

#: The main curve: the 50-point goal of issue 8.
MAIN_POINTS = 50
MAIN_PROBLEM = {"n_samples": 1000, "n_features": 20, "reg": 1e-3, "standardize": True, "seed": 0}

#: The informational curve: gradient descent far from convergence at every point.
SLOW_POINTS = 26
SLOW_PROBLEM = {**MAIN_PROBLEM, "standardize": False}

#: Relative tolerance of the agreement check.
RTOL = 1e-12

#: Gradient-norm test of gradient descent on both sides (optbench.run's default tol_grad).
TOL_GRAD = 1e-10

#: (optbench optimizer name, benchopt solver folder name) of each curve.
METHODS = (("sgd", "gd"), ("lbfgs", "lbfgs"))

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# Points and agreement (no benchopt needed) -------------------------------------------


def benchopt_iteration_points(n_points: int, rho: float = RHO) -> list[int]:
    """The ``n_points`` iteration counts benchopt's "iteration" strategy evaluates.

    From ``n_0 = 0``, ``n_{k+1} = max(n_k + 1, int(rho * n_k))`` (benchopt's
    ``StoppingCriterion.get_next_stop_val`` with its default ``rho = 1.5``; its
    criteria raise ``rho`` by 1.2x when the objective is flat, which ``NoCriterion``,
    monitoring nothing, never does).  ``benchopt run --max-runs N`` evaluates
    ``N + 1`` points.

    >>> benchopt_iteration_points(12)
    [0, 1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 63]
    """
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
        raise ValueError(f"n_points must be an integer >= 1, got {n_points!r}")
    if not rho > 1:
        raise ValueError(f"rho must be > 1, got {rho!r}")
    points = [0]
    while len(points) < n_points:
        n = points[-1]
        points.append(max(n + 1, int(rho * n)))
    return points


def curve_at(trace_steps: Sequence[int], trace_loss: Sequence[float],
             points: Sequence[int]) -> dict[int, float]:
    """The loss at each of ``points`` from a one-pass trace recorded at every step.

    ``trace_steps`` must be ``0, 1, ..., K`` (``record_every=1``); a point ``n <= K``
    takes the loss of step ``n`` and a point ``n > K`` the loss of step ``K``: the run
    stopped there (converged), as a restarted solver given ``n`` iterations also does.
    """
    steps = np.asarray(trace_steps)
    if steps.ndim != 1 or not steps.size or not np.array_equal(steps, np.arange(steps.size)):
        raise ValueError("the trace must be recorded at every step 0, 1, ..., K (record_every=1)")
    last = steps.size - 1
    return {int(n): float(trace_loss[min(int(n), last)]) for n in points}


def check_agreement(ours: Mapping[int, float], theirs: Mapping[int, float],
                    rtol: float = RTOL) -> float:
    """The largest relative difference ``|a - b| / max(|a|, |b|)`` between two curves.

    Raises ValueError when the curves are not sampled at the same iteration counts or
    when a point differs by more than ``rtol`` (a NaN anywhere is a difference).
    """
    if sorted(ours) != sorted(theirs):
        only_ours = sorted(set(ours) - set(theirs))
        only_theirs = sorted(set(theirs) - set(ours))
        raise ValueError(f"the curves have different points: only ours {only_ours}, "
                         f"only benchopt's {only_theirs}")
    worst = 0.0
    for n in sorted(ours):
        a, b = float(ours[n]), float(theirs[n])
        scale = max(abs(a), abs(b))
        diff = abs(a - b) / scale if scale > 0 else abs(a - b)
        if not diff <= rtol:  # also catches NaN
            raise ValueError(f"at iteration {n}: optbench {a!r} vs benchopt {b!r} "
                             f"(relative difference {diff:.3e} > {rtol:g})")
        worst = max(worst, diff)
    return worst


def gd_step(problem: Any) -> float:
    """``1 / L`` with ``L = lambda_max(X^T X) / (4 n) + reg``, the Lipschitz constant of the
    logistic objective's gradient (``sigma' <= 1/4``; rows of ``problem.X`` with the
    intercept column)."""
    x = problem.X
    top = float(np.linalg.eigvalsh(x.T @ x)[-1])
    return 1.0 / (top / (4 * x.shape[0]) + problem.reg)


# optbench's side --------------------------------------------------------------------


def build_problem(params: Mapping[str, Any]) -> Any:
    import problems

    return problems.get("logistic", batch_size=None, **params)


def optbench_curves(params: Mapping[str, Any], lr: float, points: Sequence[int],
                    statuses: dict[str, str] | None = None,
                    gd_at_points: bool = False) -> dict[str, dict[int, float]]:
    """Both methods' curves at ``points``, one ``optbench.run`` each (``record_every=1``).

    ``statuses``, if given, receives ``"<status> after <n> steps"`` of each run.  With
    ``gd_at_points``, gradient descent records only steps 0 and ``max(points)`` and keeps
    the iterate at the other points (``run(..., snapshots=points)``), whose loss is then
    evaluated here; its convergence test then sees only the last step, so this mode
    refuses (ValueError) a run that did not use its whole budget.
    """
    import optbench
    import optimizers

    problem = build_problem(params)
    steps = max(points)
    curves = {}
    for name, solver in METHODS:
        optimizer = optimizers.get(name, lr=lr) if name == "sgd" else optimizers.get(name)
        if name == "sgd" and gd_at_points:
            result = optbench.run(problem, optimizer, steps=steps, record_every=max(steps, 1),
                                  tol_grad=TOL_GRAD, snapshots=[n for n in points if n > 0])
            if result.status != "max_steps":
                raise ValueError(f"gradient descent stopped early ({result.status}): recording "
                                 "only at the points cannot reproduce that curve")
            loss0 = float(result.trace["loss"].iloc[0])
            curves[solver] = {int(n): float(problem.loss(result.snapshots[n])) if n else loss0
                              for n in points}
        else:
            result = optbench.run(problem, optimizer, steps=steps, record_every=1,
                                  tol_grad=TOL_GRAD)
            curves[solver] = curve_at(result.trace["step"].to_numpy(),
                                      result.trace["loss"].to_numpy(), points)
        if statuses is not None:
            statuses[solver] = f"{result.status} after {result.meta['steps_taken']} steps"
    return curves


# benchopt's side --------------------------------------------------------------------


def _require_benchopt() -> str:
    try:
        import benchopt
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return str(benchopt.__version__)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    return env


#: The benchopt process: the entry point of ``python -m benchopt`` (``benchopt.cli.benchopt``)
#: with the imports a run needs done first and timed apart; argv[1] is the file that
#: receives ``{"imports": s, "run": s}``, the rest is benchopt's command line.
CHILD = """\
import json, sys, time
t0 = time.perf_counter()
import benchopt.benchmark, benchopt.runner, pandas, pyarrow, scipy.optimize, problems
from benchopt.cli import benchopt
t1 = time.perf_counter()
try:
    benchopt.main(sys.argv[2:], prog_name="benchopt", standalone_mode=False)
finally:
    t2 = time.perf_counter()
    with open(sys.argv[1], "w") as f:
        json.dump({"imports": t1 - t0, "run": t2 - t1}, f)
"""


def benchopt_args(bench_dir: Path, output: Path, params: Mapping[str, Any], lr: float,
                  n_points: int) -> list[str]:
    """benchopt's command line for the curve (after ``benchopt``): 50 points is
    ``--max-runs 49``."""
    dataset = ",".join(f"{k}={v!r}" for k, v in params.items())
    return [
        "run", str(bench_dir),
        "--max-runs", str(n_points - 1), "--no-timeout", "--no-cache",
        "--no-plot", "--no-display", "--no-html", "--output", str(output),
        "-d", f"optbench-logistic[{dataset}]",
        "-s", f"gd[lr={lr!r},tol_grad={TOL_GRAD!r}]", "-s", "lbfgs",
    ]


def run_benchopt(params: Mapping[str, Any], lr: float, n_points: int) -> tuple[dict[str, float], Any]:
    """One benchopt run in a fresh process and a fresh copy of the benchmark folder.

    Returns ``({"wall": s, "imports": s, "run": s}, results frame)``: ``wall`` is the
    whole process seen from here, ``run`` benchopt's command after its imports.
    """
    import json

    from benchopt.results import read_results

    with tempfile.TemporaryDirectory(prefix="optbench-benchopt-") as tmp:
        bench_dir = Path(tmp) / "benchmark"
        shutil.copytree(BENCHMARK_DIR, bench_dir,
                        ignore=shutil.ignore_patterns("__pycache__", "outputs", "__cache__"))
        output = Path(tmp) / "out" / "result.parquet"
        timing = Path(tmp) / "timing.json"
        cmd = [sys.executable, "-c", CHILD, str(timing),
               *benchopt_args(bench_dir, output, params, lr, n_points)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=_child_env(), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0 or not output.exists():
            tail = (done.stdout + done.stderr)[-3000:]
            raise RuntimeError(f"benchopt run failed (exit {done.returncode}):\n{tail}")
        times = json.loads(timing.read_text())
        frame = read_results(output)
    return {"wall": wall, "imports": float(times["imports"]), "run": float(times["run"])}, frame


def benchopt_curves(frame: Any) -> dict[str, dict[int, float]]:
    """``{solver: {stop_val: objective_value}}`` from benchopt's results frame."""
    curves: dict[str, dict[int, float]] = {}
    for name, group in frame.groupby("solver_name"):
        solver = str(name).split("[", 1)[0]
        curves[solver] = {int(n): float(v) for n, v in zip(group["stop_val"],
                                                            group["objective_value"])}
    return curves


# The measurement --------------------------------------------------------------------


def measure_curve(params: Mapping[str, Any], n_points: int, rounds: int,
                  gd_at_points: bool = False) -> dict[str, Any]:
    """Time one curve both ways in interleaved rounds; medians and the agreement check.

    With ``gd_at_points`` a third side is timed in the same rounds: ours with gradient
    descent recording only at the points (see :func:`optbench_curves`).
    """
    version = _require_benchopt()
    problem = build_problem(params)
    lr = gd_step(problem)
    points = benchopt_iteration_points(n_points)

    # warm-up round (imports, f_star, file caches); also reads the points benchopt used
    _, frame = run_benchopt(params, lr, n_points)
    theirs = benchopt_curves(frame)
    for solver, curve in theirs.items():
        if sorted(curve) != points:
            raise RuntimeError(f"benchopt evaluated {solver} at {sorted(curve)}, not at the "
                               f"expected points {points}")
    statuses: dict[str, str] = {}
    ours = optbench_curves(params, lr, points, statuses)
    worst = {solver: check_agreement(ours[solver], theirs[solver]) for _, solver in METHODS}

    ours_t: list[float] = []
    points_t: list[float] = []
    wall_t: list[float] = []
    run_t: list[float] = []
    solver_t: list[float] = []
    sides = (0, 1, 2) if gd_at_points else (0, 1)
    for r in range(rounds):
        for side in sides[r % len(sides):] + sides[:r % len(sides)]:
            if side == 2:
                t0 = time.perf_counter()
                curves = optbench_curves(params, lr, points, gd_at_points=True)
                points_t.append(time.perf_counter() - t0)
                for _, solver in METHODS:
                    check_agreement(curves[solver], theirs[solver])
            elif side == 0:
                t0 = time.perf_counter()
                curves = optbench_curves(params, lr, points)
                ours_t.append(time.perf_counter() - t0)
                for _, solver in METHODS:
                    check_agreement(curves[solver], theirs[solver])
            else:
                times, frame = run_benchopt(params, lr, n_points)
                wall_t.append(times["wall"])
                run_t.append(times["run"])
                solver_t.append(float(frame["time"].sum()))
                again = benchopt_curves(frame)
                for _, solver in METHODS:
                    check_agreement(ours[solver], again[solver])

    med = statistics.median
    ours_s, wall_s, run_s, solver_s = med(ours_t), med(wall_t), med(run_t), med(solver_t)
    extra = {}
    if gd_at_points:
        extra = {"ours_gd_at_points_seconds": med(points_t),
                 "ratio_gd_at_points": wall_s / med(points_t),
                 "ratio_gd_at_points_without_start": run_s / med(points_t)}
    return {
        **extra,
        "ours_seconds": ours_s,
        "benchopt_seconds": wall_s,
        "ours_times": ours_t,
        "benchopt_times": wall_t,
        "ratio": wall_s / ours_s,
        "ratio_per_round_median": med(b / a for a, b in zip(ours_t, wall_t)),
        "benchopt_start_imports_seconds": med(w - r for w, r in zip(wall_t, run_t)),
        "benchopt_run_seconds": run_s,
        "ratio_without_start": run_s / ours_s,
        "benchopt_solver_seconds": solver_s,
        "ratio_solver_time_only": solver_s / ours_s,
        "points": points,
        "rounds": rounds,
        "lr": lr,
        "max_relative_difference": worst,
        "status": statuses,
        "benchopt_version": version,
        "problem": dict(params),
    }


def _note(result: Mapping[str, Any]) -> str:
    status = "; ".join(f"{k}: {v}" for k, v in result["status"].items())
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in result["max_relative_difference"].items())
    return (f"benchopt {result['benchopt_version']}, {len(result['points'])} points "
            f"(0..{result['points'][-1]}, x1.5), gd + lbfgs; optbench {status}; benchopt total "
            f"{result['benchopt_seconds']:.2f} s of which process start + imports "
            f"{result['benchopt_start_imports_seconds']:.2f} s and Solver.run alone "
            f"{result['benchopt_solver_seconds']:.2f} s; ratio without start "
            f"{result['ratio_without_start']:.1f}x, Solver.run time alone / ours "
            f"{result['ratio_solver_time_only']:.1f}x; curves agree (max rel. diff {diffs})")


def measure(quick: bool) -> dict[str, Any]:
    """The 50-point curve, ours against benchopt (for benchmarks/peers.py).

    Returns a dict with ``ours_seconds``, ``benchopt_seconds``, ``ratio`` (benchopt /
    ours, medians over rounds; the goal is >= 5), ``points``, ``benchopt_version``,
    ``note``, the per-round times ``ours_times`` and ``benchopt_times`` (for
    ``benchmarks.peers.row(..., invert=True)``) and the details of :func:`measure_curve`.
    Raises ImportError (with how to build the environment) when benchopt is not
    importable.
    """
    _require_benchopt()
    result = measure_curve(MAIN_PROBLEM, MAIN_POINTS, rounds=3 if quick else 5)
    result["note"] = _note(result)
    return result


# Main ------------------------------------------------------------------------------


def _print(title: str, result: Mapping[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  problem: logistic {result['problem']}, full batch; gd lr = 1/L = {result['lr']!r}")
    print(f"  points ({len(result['points'])}): {result['points']}")
    for solver, status in result["status"].items():
        print(f"  optbench {solver}: {status}; max relative difference to benchopt "
              f"{result['max_relative_difference'][solver]:.1e} (tolerance {RTOL:g})")
    print(f"  ours (optbench, one pass, both methods): {result['ours_seconds']:.3f} s")
    print(f"  benchopt {result['benchopt_version']} (subprocess, both methods): "
          f"{result['benchopt_seconds']:.3f} s")
    print(f"    process start + imports {result['benchopt_start_imports_seconds']:.3f} s, then "
          f"`benchopt run` {result['benchopt_run_seconds']:.3f} s, of which Solver.run "
          f"{result['benchopt_solver_seconds']:.3f} s")
    print(f"  ratio benchopt / ours: {result['ratio']:.2f}x (median of per-round ratios "
          f"{result['ratio_per_round_median']:.2f}x); without process start "
          f"{result['ratio_without_start']:.2f}x; Solver.run time only "
          f"{result['ratio_solver_time_only']:.2f}x  [medians over {result['rounds']} rounds]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare.benchopt_curve",
        description="A 50-point convergence curve: optbench in one pass against benchopt.")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds and the main curve only")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5, 3 quick)")
    args = parser.parse_args(argv)
    try:
        version = _require_benchopt()
    except ImportError as exc:
        print(exc, file=sys.stderr)
        return 2
    rounds = args.rounds or (3 if args.quick else 5)
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"benchopt {version}, python {sys.version.split()[0]}, load average {load}")
    main_result = measure_curve(MAIN_PROBLEM, MAIN_POINTS, rounds)
    _print(f"goal 4: a {MAIN_POINTS}-point curve (goal: benchopt / ours >= 5x)", main_result)
    met = "met" if main_result["ratio"] >= 5 else "not met"
    print(f"  goal >= 5.00x: {met}")
    if not args.quick:
        slow = measure_curve(SLOW_PROBLEM, SLOW_POINTS, rounds, gd_at_points=True)
        _print(f"informational: gradient descent unconverged at every point ({SLOW_POINTS} points, "
               "raw features)", slow)
        print(f"  ours with gd recording only at the points (snapshots): "
              f"{slow['ours_gd_at_points_seconds']:.3f} s; ratio {slow['ratio_gd_at_points']:.2f}x, "
              f"without process start {slow['ratio_gd_at_points_without_start']:.2f}x")
        points = slow["points"]
        print(f"  iterations benchopt runs / one pass: sum(points) / max(points) = "
              f"{sum(points) / max(points):.2f} per method")
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average at the end {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
