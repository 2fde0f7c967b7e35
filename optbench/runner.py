"""The run loop: one optimizer on one problem, recorded as a trace.

``run`` wraps the problem in a :class:`CountingOracle`, so that the trace counts the
oracle calls made by the method and never those made by recording; it times only
the method's own work (the step, including drawing its minibatch) with
``time.perf_counter``; and it limits BLAS to one thread for the whole run
(threadpoolctl), so that timings are fair and parallel runs do not fight.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from optimizers import kernels

from .cost import cost_model
from .step_contract import check_iterate, seed_framework, state_bytes, warm_up

#: Trace columns every run has, in order.
TRACE_COLUMNS = (
    "step",
    "loss",
    "subopt",
    "grad_norm",
    "n_loss",
    "n_grad",
    "n_hess",
    "n_hvp",
    "time",
    "lr",
)

_INT_COLUMNS = frozenset({"step", "n_loss", "n_grad", "n_hess", "n_hvp"})

#: Problems of at most this dimension also record the iterate (``x_0``, ``x_1``).
MAX_COORDINATE_DIM = 2

#: Run statuses.
STATUSES = ("converged", "max_steps", "diverged")

#: How a run chooses the steps it records (``record=``).
RECORD_MODES = ("every", "log")

#: Default number of recorded steps per decade with ``record="log"``.
POINTS_PER_DECADE = 40

#: ``meta["oracle"]`` of a run whose method sees the full objective.
FULL_BATCH = "full batch"

#: ``meta["oracle"]`` of a stochastic run on a problem without ``oracle_kind``.
STOCHASTIC = "stochastic"


def oracle_of(problem: Any, stepwise: bool) -> str:
    """What the method of a run sees, as ``meta["oracle"]`` names it.

    :data:`FULL_BATCH` (``"full batch"``) when ``problem`` is not stochastic or the
    method is a whole-run solver (``stepwise`` False: it always gets the full
    objective); else the problem's ``oracle_kind`` (``"minibatch"``, or ``"noisy"`` for
    the noisy quadratic), or :data:`STOCHASTIC` (``"stochastic"``) for a problem
    without one.

    >>> import problems
    >>> oracle_of(problems.get("quadratic", dim=2, noise=0.1), stepwise=True)
    'noisy'
    >>> oracle_of(problems.get("quadratic", dim=2, noise=0.1), stepwise=False)
    'full batch'
    """
    if not stepwise or not bool(getattr(problem, "stochastic", False)):
        return FULL_BATCH
    return str(getattr(problem, "oracle_kind", STOCHASTIC))

_controller: tuple[int, ThreadpoolController] | None = None


def blas_controller() -> ThreadpoolController:
    """This process's threadpoolctl controller, made once and re-made when modules are
    imported (a new module may load a new BLAS or OpenMP library).

    Making a controller scans the loaded shared libraries (~3 ms); entering
    ``controller.limit(limits=1)`` on a cached one costs ~40 us, which is what keeps a
    short run's fixed cost low.
    """
    global _controller
    loaded = len(sys.modules)
    if _controller is None or _controller[0] != loaded:
        _controller = (loaded, ThreadpoolController())
    return _controller[1]


def record_steps(steps: int, record_every: int = 1, record: str | Sequence[int] = "every",
                 points_per_decade: int = POINTS_PER_DECADE) -> Iterator[int]:
    """The steps after step 0 that a run records, in increasing order; always ends at ``steps``.

    ``record="every"``: every ``record_every``-th step.  ``record="log"``: the distinct
    integers ``round(10 ** (j / points_per_decade))`` for ``j = 0, 1, ...`` (a fixed number
    of points per decade, so a 1e6-step run at the default 40 per decade has 209 rows, step 0 included), with
    no two recorded steps closer than ``record_every``.  Either way the trace has
    O(points) rows and costs O(points) evaluations.  ``record`` may also be a sequence
    of steps: those below ``steps`` (sorted, once each), then ``steps``.

    >>> list(record_steps(10, 3))
    [3, 6, 9, 10]
    >>> list(record_steps(1000, record="log", points_per_decade=2))
    [1, 3, 10, 32, 100, 316, 1000]
    """
    if steps <= 0:
        return
    if not isinstance(record, str):  # explicit steps
        yield from (s for s in sorted(set(record)) if 1 <= s < steps)
        yield steps
        return
    if record == "every":
        yield from range(record_every, steps, record_every)
        yield steps
        return
    last = 0
    j = 0
    while True:
        step = int(round(10 ** (j / points_per_decade)))
        j += 1
        if step >= steps:
            break
        if step - last >= record_every:
            yield step
            last = step
    yield steps


class CountingOracle:
    """Forwards ``loss/grad/hess/hvp`` to the oracle it is bound to and counts the calls.

    The counts are cumulative over re-binding, so one counter serves a whole run
    whether the oracle is the full problem or a fresh minibatch at every step.
    """

    __slots__ = ("_oracle", "n_loss", "n_grad", "n_hess", "n_hvp", "_unchecked")

    def __init__(self, oracle: Any = None) -> None:
        self._oracle = oracle
        self.n_loss = 0
        self.n_grad = 0
        self.n_hess = 0
        self.n_hvp = 0
        self._unchecked = True  # the first gradient's shape is checked against x

    def bind(self, oracle: Any) -> None:
        self._oracle = oracle

    def loss(self, x: np.ndarray) -> float:
        self.n_loss += 1
        return self._oracle.loss(x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        self.n_grad += 1
        g = self._oracle.grad(x)
        if self._unchecked:
            self._unchecked = False
            _check_gradient_shape(g, x, "the method's first gradient (a minibatch, if stochastic)")
        return g

    def hess(self, x: np.ndarray) -> np.ndarray:
        self.n_hess += 1
        return self._oracle.hess(x)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian-vector product ``H(x) v``, counted as one ``n_hvp``."""
        self.n_hvp += 1
        return self._oracle.hvp(x, v)

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Both at one point, counted as one ``loss`` and one ``grad`` call; uses the
        oracle's fused ``loss_and_grad`` where it has one (one shared forward pass)."""
        self.n_loss += 1
        self.n_grad += 1
        fused = getattr(self._oracle, "loss_and_grad", None)
        if fused is not None:
            value, g = fused(x)
        else:
            value, g = self._oracle.loss(x), self._oracle.grad(x)
        if self._unchecked:
            self._unchecked = False
            _check_gradient_shape(g, x, "the method's first gradient (a minibatch, if stochastic)")
        return value, g


def _check_gradient_shape(g: Any, x: np.ndarray, where: str) -> None:
    if np.shape(g) != np.shape(x):
        raise ValueError(
            f"{where} has shape {np.shape(g)}, but x has shape {np.shape(x)}: "
            "grad(x) must return an array shaped like x"
        )


@dataclass
class RunResult:
    """What a run produced: ``trace`` (one row per recorded step), ``x``, ``status``, ``meta``.

    ``meta`` holds ``steps_taken``, ``problem`` and ``optimizer`` (their reprs),
    ``seed``, ``f_star``, ``cost_model`` (:mod:`optbench.cost`) and ``oracle``: what the
    method saw (:func:`oracle_of`): ``"full batch"`` (the exact objective: a
    deterministic problem, or a whole-run solver on any problem), ``"minibatch"`` (a
    fresh minibatch every step), ``"noisy"`` (the exact gradient plus fresh noise every
    step) or ``"stochastic"`` (a problem that does not say which); where they apply,
    ``kernels`` and ``state_bytes`` (stepwise optimizers), ``diverged_at`` and
    ``diverged_because``, and ``solver`` (a whole-run solver's result summary).

    ``trace_columns`` holds the trace as numpy arrays by column name; ``trace`` is
    the DataFrame of them, built when first asked for (a study stores the arrays
    and never needs it: a DataFrame costs more than a 10-step run).  ``x_avg`` is
    the averaged iterate of an averaged optimizer (else None); ``snapshots`` maps
    each step asked for with ``run(..., snapshots=...)`` that the run reached to a
    copy of the iterate after that step.
    """

    trace_columns: dict[str, np.ndarray]
    x: np.ndarray
    status: str
    meta: dict[str, Any] = field(default_factory=dict)
    x_avg: np.ndarray | None = None
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)

    @functools.cached_property
    def trace(self) -> pd.DataFrame:
        return pd.DataFrame(self.trace_columns, copy=False)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_tolerance(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0 or None, got {value!r}")
    return float(value)


class _Recorder:
    """Evaluates the full objective at recorded iterates and keeps the rows.

    Nothing it does is counted or timed as the method's work.
    """

    def __init__(self, problem: Any, optimizer: Any, counter: CountingOracle) -> None:
        self.problem = problem
        self.optimizer = optimizer
        self.counter = counter
        self.f_star = problem.f_star
        self.rows: list[tuple] = []
        self.extra: list[dict[str, float]] = []
        self.metrics: Callable[[np.ndarray], dict[str, float]] | None = getattr(
            problem, "metrics", None
        )
        self.averages = getattr(optimizer, "average", None)
        self.coordinates = int(getattr(problem, "dim", 0)) <= MAX_COORDINATE_DIM
        self.lr_at = getattr(optimizer, "lr_at", None)
        self.loss_and_grad = getattr(problem, "loss_and_grad", None)

    def record(
        self, step: int, x: np.ndarray, work: float, state: Any, previous: np.ndarray | None = None
    ) -> tuple[float, float]:
        """Append the row of ``step``; ``previous`` is the iterate before that step
        (for ``update_ratio``).  Returns the full loss and gradient norm."""
        problem = self.problem
        if self.loss_and_grad is not None:
            value, g = self.loss_and_grad(x)
            loss = float(value)
        else:
            loss = float(problem.loss(x))
            g = problem.grad(x)
        if not self.rows:
            _check_gradient_shape(g, x, "the problem's gradient at x0")
        grad_norm = float(np.linalg.norm(g))
        subopt = loss - self.f_star if self.f_star is not None else math.nan
        if self.lr_at is not None:
            lr = float(self.lr_at(max(step - 1, 0)))
        else:
            lr = math.nan
        c = self.counter
        self.rows.append(
            (step, loss, subopt, grad_norm, c.n_loss, c.n_grad, c.n_hess, c.n_hvp, work, lr)
        )
        extra: dict[str, float] = {}
        if self.coordinates:  # 2-D problems: the iterate itself, for trajectory plots
            for i in range(len(x)):
                extra[f"x_{i}"] = float(x[i])
        if self.metrics is not None:
            extra.update(self.metrics(x))
            if previous is not None:
                base = float(np.linalg.norm(previous))
                moved = float(np.linalg.norm(x - previous))
                extra["update_ratio"] = moved / base if base > 0 else math.inf
            else:
                extra["update_ratio"] = math.nan
        if self.averages is not None and state is not None:
            extra["avg_loss"] = float(problem.loss(self.averages(state)))
        if extra:
            self.extra.append(extra)
        return loss, grad_norm

    def columns(self) -> dict[str, np.ndarray]:
        """The rows as numpy arrays by column name (a DataFrame is built from them
        when asked for: ``DataFrame.from_records`` plus casts took ~4 ms, most of a
        short run)."""
        columns: dict[str, np.ndarray] = {}
        for name, values in zip(TRACE_COLUMNS, zip(*self.rows)):
            columns[name] = np.array(values, dtype=np.int64 if name in _INT_COLUMNS else np.float64)
        if not self.rows:
            columns = {name: np.empty(0, dtype=np.int64 if name in _INT_COLUMNS else np.float64)
                       for name in TRACE_COLUMNS}
        if self.extra:
            names = list(dict.fromkeys(k for row in self.extra for k in row))
            for name in names:
                columns[name] = np.array([row.get(name, math.nan) for row in self.extra],
                                         dtype=np.float64)
        return columns


def run(
    problem: Any,
    optimizer: Any,
    *,
    steps: int,
    seed: int = 0,
    record_every: int = 1,
    record: str | Sequence[int] = "every",
    points_per_decade: int = POINTS_PER_DECADE,
    tol_grad: float | None = 1e-10,
    tol_subopt: float | None = None,
    diverge_factor: float = 1e6,
    x0: np.ndarray | None = None,
    snapshots: Any = (),
) -> RunResult:
    """Run ``optimizer`` on ``problem`` for at most ``steps`` steps.

    Parameters
    ----------
    problem
        A :class:`problems.Problem` or any object with its members.
    optimizer
        A stepwise optimizer (``init``/``step``/``lr_at``) or a whole-run solver with
        ``minimize(oracle, x0, max_iter, callback)`` that calls ``callback(x)`` after
        every iteration (raising StopIteration from the callback ends its loop) and may
        return a result with scipy's fields (``success``, ``message``, ``nit``,
        ``nfev``, ``njev``...), kept in ``meta["solver"]``.  A whole-run solver always
        sees the full objective, also on a stochastic problem.
    steps
        Step budget (iterations for whole-run solvers).
    seed
        Seeds the initial point ``problem.x0(seed)`` and the minibatch generator
        ``numpy.random.default_rng(seed)``.
    record_every
        Record a trace row every this many steps; step 0 and the last step are
        always recorded.  With ``record="log"``: the least gap between recorded steps.
    record
        ``"every"`` (every ``record_every``-th step) or ``"log"``: ``points_per_decade``
        log-spaced steps per decade (see :func:`record_steps`), for long runs; or a
        list of the steps to record (the convergence tests run at those steps only).
    points_per_decade
        Recorded steps per decade with ``record="log"`` (an integer >= 1).
    tol_grad, tol_subopt
        The run is ``"converged"`` once a recorded full-gradient norm is
        ``<= tol_grad`` or a recorded suboptimality is ``<= tol_subopt`` (None
        disables a test).
    diverge_factor
        The run is ``"diverged"`` once a recorded loss or gradient norm is not finite
        or the loss exceeds ``loss0 + diverge_factor * max(|loss0|, 1)``; the trace is
        kept up to and including that row.
    x0
        Start here instead of ``problem.x0(seed)``.  The run keeps the start's floating
        dtype (a float32 problem runs in float32); an integer start becomes float64.
    snapshots
        Steps after which to keep a copy of the iterate in ``result.snapshots``
        (stepwise optimizers; for snapshot ensembles).

    Returns
    -------
    RunResult
        ``trace`` has the columns of :data:`TRACE_COLUMNS` (plus ``x_0``, ``x_1`` (the
        iterate) on problems of dimension <= 2; ``avg_loss`` for averaged optimizers;
        for a problem with ``metrics(x)`` (the nets), its
        columns and ``update_ratio``, the norm of the recorded step's update over the
        norm of the iterate before it), one row per recorded step.  ``meta["oracle"]``
        says whether the method saw the full objective (see :class:`RunResult`).
    """
    steps = _check_int("steps", steps, 0)
    record_every = _check_int("record_every", record_every, 1)
    if isinstance(record, str) or not hasattr(record, "__iter__"):
        if record not in RECORD_MODES:
            raise ValueError(f"record must be one of {', '.join(map(repr, RECORD_MODES))} or a "
                             f"list of steps, got {record!r}")
    else:
        record = [_check_int("record (a list of steps)", s, 1) for s in record]
    points_per_decade = _check_int("points_per_decade", points_per_decade, 1)
    seed = _check_int("seed", seed, 0)
    tol_grad = _check_tolerance("tol_grad", tol_grad)
    tol_subopt = _check_tolerance("tol_subopt", tol_subopt)
    if not (isinstance(diverge_factor, (int, float)) and diverge_factor > 0):
        raise ValueError(f"diverge_factor must be a number > 0, got {diverge_factor!r}")
    needs = tuple(getattr(optimizer, "needs", ("grad",)))
    if "hess" in needs and not getattr(problem, "has_hess", False):
        raise ValueError(
            f"optimizer {getattr(optimizer, 'name', optimizer)!r} needs a Hessian, "
            f"but problem {getattr(problem, 'name', problem)!r} has none (has_hess is False)"
        )
    if "hvp" in needs and not callable(getattr(problem, "hvp", None)):
        raise ValueError(
            f"optimizer {getattr(optimizer, 'name', optimizer)!r} needs Hessian-vector "
            f"products, but problem {getattr(problem, 'name', problem)!r} has no hvp(x, v)"
        )

    start = problem.x0(seed) if x0 is None else x0
    x = np.array(start, copy=True)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim != 1:
        raise ValueError(f"x0 must be a 1-D vector, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    counter = CountingOracle(problem)
    stochastic = bool(getattr(problem, "stochastic", False))

    wanted = {_check_int("snapshots", s, 1) for s in snapshots}
    kept: dict[int, np.ndarray] = {}
    stepwise = hasattr(optimizer, "step")
    if wanted and not stepwise:
        raise ValueError("snapshots are kept for stepwise optimizers only")
    if not stepwise and not hasattr(optimizer, "minimize"):
        raise ValueError(
            f"optimizer {optimizer!r} has neither step() (stepwise) nor minimize() "
            "(whole-run solver)"
        )

    schedule = record_steps(steps, record_every, record, points_per_decade)
    with blas_controller().limit(limits=1), np.errstate(all="ignore"):
        # inside the limit: the recorder reads f_star, which may solve a reference problem
        recorder = _Recorder(problem, optimizer, counter)
        # stepwise optimizers: "numba" or "numpy", the path of their updates; the fused
        # kernel is compiled (or loaded from numba's cache) here, outside the timed work
        kernel_path = kernels.warm_up(optimizer, x) if stepwise else None
        if stepwise:  # a bridge's or plugin's first-call start-up, outside the timed work
            warm_up(optimizer, problem, x, stochastic)
            seed_framework(optimizer, seed)
        t0 = time.perf_counter()
        state = optimizer.init(x) if stepwise else None
        init_work = time.perf_counter() - t0
        loss0, _ = recorder.record(0, x, init_work, state)
        limit = loss0 + diverge_factor * max(abs(loss0), 1.0) if math.isfinite(loss0) else math.inf

        def verdict(loss: float, grad_norm: float, subopt: float) -> str | None:
            if not (math.isfinite(loss) and math.isfinite(grad_norm)) or loss > limit:
                return "diverged"
            if tol_grad is not None and grad_norm <= tol_grad:
                return "converged"
            if tol_subopt is not None and subopt <= tol_subopt:
                return "converged"
            return None

        row0 = recorder.rows[0]
        status0 = verdict(row0[1], row0[3], row0[2])
        if status0 is not None:  # x0 is already optimal, or not even finite
            x, status, taken, solver = x, status0, 0, None
        elif stepwise:
            x, status, taken = _run_stepwise(
                problem, optimizer, state, x, steps, schedule, rng, counter, recorder,
                stochastic, verdict, init_work, wanted, kept,
            )
            solver = None
        else:
            x, status, taken, solver = _run_whole(
                optimizer, x, steps, schedule, counter, recorder, verdict
            )
    trace = recorder.columns()
    if status == "diverged":
        _, loss, _, grad_norm = recorder.rows[-1][:4]
        reason = ("the loss is not finite" if not math.isfinite(loss)
                  else "the gradient norm is not finite" if not math.isfinite(grad_norm)
                  else f"the loss exceeded loss0 + {diverge_factor:g} * max(|loss0|, 1)")
    meta = {
        "steps_taken": taken,
        "problem": repr(problem),
        "optimizer": repr(optimizer),
        "seed": seed,
        "f_star": problem.f_star,
        "cost_model": cost_model(problem),
        "oracle": oracle_of(problem, stepwise),
    }
    if kernel_path is not None:
        meta["kernels"] = kernel_path
    if stepwise and state is not None:
        meta["state_bytes"] = state_bytes(optimizer, state)
    if status == "diverged":
        meta["diverged_at"] = int(recorder.rows[-1][0])
        meta["diverged_because"] = reason
    if solver:
        meta["solver"] = solver
    x_avg = None
    if stepwise and getattr(optimizer, "average", None) is not None:
        x_avg = np.array(optimizer.average(state), dtype=x.dtype, copy=True)
    return RunResult(trace_columns=trace, x=x, status=status, meta=meta, x_avg=x_avg, snapshots=kept)


def _run_stepwise(problem, optimizer, state, x, steps, schedule, rng, counter, recorder,
                  stochastic, verdict, work, wanted, kept):
    """The step loop.  Per step it does only: two clock reads, the (minibatch and) step,
    one integer comparison against the next recorded step, and the snapshot test."""
    status = "max_steps"
    step = 0
    perf_counter = time.perf_counter
    # a deterministic problem needs no minibatch method
    minibatch = problem.minibatch if stochastic else None
    opt_step = optimizer.step
    shape, dtype = x.shape, x.dtype
    bind = counter.bind
    # nets also record |x_new - x_old| / |x_old| of each recorded step (the ~1e-3 rule):
    # the iterate is copied before the recorded steps only, never otherwise
    track_update = recorder.metrics is not None
    previous = None
    next_record = next(schedule, steps + 1)
    record = recorder.record
    rows = recorder.rows
    for step in range(1, steps + 1):
        recorded = step == next_record
        if recorded and track_update:
            previous = x.copy()  # steps update x in place
        t0 = perf_counter()
        if stochastic:
            bind(minibatch(rng))
        x = opt_step(x, counter, state)
        work += perf_counter() - t0
        if step == 1 or recorded:
            check_iterate(x, shape, dtype, optimizer, step)
        if wanted and step in wanted:
            kept[step] = x.copy()
        if recorded:
            next_record = next(schedule, steps + 1)
            loss, grad_norm = record(step, x, work, state, previous)
            status = verdict(loss, grad_norm, rows[-1][2]) or "max_steps"
            if status != "max_steps":
                break
    return x, status, step


def _solver_summary(result: Any) -> dict[str, Any]:
    """The JSON-able part of a solver's result (scipy's OptimizeResult fields)."""
    summary = {}
    for key in ("success", "status", "message", "nit", "nfev", "njev", "nhev", "fun"):
        value = getattr(result, key, None) if not isinstance(result, dict) else result.get(key)
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = float(value)
        else:
            value = str(value)
        summary[key] = value
    return summary


def _run_whole(optimizer, x, steps, schedule, counter, recorder, verdict):
    """Drive a solver that owns its loop; each callback is one step.

    Returns ``(x, status, steps_taken, solver_summary)``.  A solver that stops by its
    own test before the budget is ``converged`` when it reports success (or reports
    nothing), else ``max_steps`` (its message is kept in the summary).
    """
    step = 0
    status = "max_steps"
    work = 0.0
    resume = 0.0
    last_x = x
    next_record = next(schedule, steps + 1)

    def callback(xk: Any) -> None:
        nonlocal step, status, work, resume, last_x, next_record
        work += time.perf_counter() - resume
        step += 1
        # scipy's new-style callbacks pass an OptimizeResult with the iterate in .x; it
        # is copied (scipy may reuse its array) because the last one is the result
        last_x = np.array(getattr(xk, "x", xk), dtype=x.dtype, copy=True)
        if step == next_record:
            next_record = next(schedule, steps + 1)
            loss, grad_norm = recorder.record(step, last_x, work, None)
            verdict_now = verdict(loss, grad_norm, recorder.rows[-1][2])
            if verdict_now is not None:
                status = verdict_now
                raise StopIteration
        if step >= steps:
            raise StopIteration
        resume = time.perf_counter()

    result = None
    if steps > 0:
        resume = time.perf_counter()
        try:
            result = optimizer.minimize(counter, x, steps, callback)
        except StopIteration:
            pass
    if step and recorder.rows[-1][0] != step:
        # the solver stopped by its own test between two recorded steps
        recorder.record(step, last_x, work, None)
    summary = _solver_summary(result) if result is not None else {}
    if status == "max_steps" and step:
        _, loss, subopt, grad_norm = recorder.rows[-1][:4]
        status = verdict(loss, grad_norm, subopt) or status
        if status == "max_steps" and step < steps and summary.get("success", True):
            status = "converged"
    return last_x, status, step, summary
