"""Hyper-parameter search: grid, random and coarse-to-fine, with a held-out evaluation.

The lecture's advice, as code: search the learning rate (and whatever else) on a
*log* scale over a range wide enough that the best value is not at an edge; prefer
random search to a grid (when one hyper-parameter matters much more than the others,
random points try more distinct values of it); search coarse to fine, narrowing the
range around the best value after each round.

Search spaces
    :class:`LogUniform`, :class:`Uniform`, :class:`IntRange` and :class:`Choice`, in
    :mod:`optbench.search_space` (re-exported here); the trials are drawn by
    :mod:`optbench.samplers`.  A *space* for :func:`tune` is a mapping
    ``name -> dimension``.

Methods (:data:`METHODS`)
    ``"grid"``: the cartesian product of per-dimension grids (:func:`grid_trials`);
    ``"random"``: independent seeded samples (:func:`random_trials`);
    ``"coarse_to_fine"``: ``rounds`` random searches of about ``budget / rounds``
    trials each; after every round each ordered dimension (LogUniform, Uniform,
    IntRange) is narrowed by ``shrink`` around the best trial so far.

Budget
    Counted in *runs*: ``budget`` runs, i.e. ``budget // len(search_seeds)`` trials,
    each run on every search seed.  The same budget is given to every optimizer
    (:func:`tune_many`) and the gradient evaluations it cost (the sum of the final
    ``n_grad`` of the search runs) are reported beside it, with the cost in
    gradient-equivalents of :mod:`optbench.cost`.  A grid may use fewer runs than
    the budget (the largest grid that fits), and an empty space ("nothing to
    tune") has exactly one trial, whatever the method and budget.

Objectives (:data:`OBJECTIVES`; lower is better)
    ``"final"``: the final suboptimality where ``f_star`` is known, else the final
    loss.  ``"best"``: the minimum recorded loss.  ``"val_acc"``: minus the final
    validation accuracy (problems with ``val_acc`` metrics: the nets).
    ``"steps_to_target"``: the first recorded step with ``subopt <= target``
    (``+inf`` if never; so it depends on ``record_every``).
    A run that diverged or raised scores ``+inf``.  A trial's score is the median of
    its runs' scores over the search seeds; a trial with any diverged or failed run
    is *excluded*: it is never selected, however it scored elsewhere.

Tie rule (:func:`select_best`)
    Among the trials not excluded, the lowest score wins; ties go to the lower
    median final value (final subopt, or final loss where f_star is unknown: this
    is what orders trials that never reach the target under
    ``"steps_to_target"``, and equal accuracies under ``"val_acc"``), then to fewer
    gradient evaluations (the sum of final ``n_grad`` over the trial's runs), then
    to the earlier trial.

Edge rule (:meth:`Space.at_edge`)
    A value is at the edge of an ordered dimension when its position in the range,
    ``(t(v) - t(low)) / (t(high) - t(low))`` with ``t = log`` for LogUniform and the
    identity otherwise, is below :data:`EDGE_FRACTION` (0.1) or above
    ``1 - EDGE_FRACTION``.  A Choice has no edges.  When the best trial's value sits
    at an edge of the range *given* (not of a narrowed round), :func:`tune` warns
    (:class:`TuningWarning`, and in ``TuneResult.warnings``): the range should be
    widened on that side.

Evaluation
    The chosen configuration is re-run on ``eval_seeds``, which must not overlap
    the search seeds.  Its search score is the best of many noisy trials and so is
    optimistically biased; only the evaluation runs are the optimizer's result.
    Evaluation seeds change the run's seed (initial point, minibatches), not the
    problem's data (``problem_params["seed"]``).

Storage
    Every run goes through :func:`optbench.study.run_study` into ``results_dir``,
    tagged ``tune.id`` (a short hash of the whole tuning study), ``tune.role``
    (``"search"`` or ``"evaluation"``) and, for search runs, ``tune.round`` and
    ``tune.trial`` (both from 0); ``optbench.load`` shows the tags as columns.  A
    run already stored (an interrupted study, or the same spec met by another
    study) is not run again, and keeps the tags of the study that first ran it.

Defaults (:func:`default_space`)
    Every method with a learning rate tunes ``lr`` only, ``LogUniform(1e-5, 10)``:
    the lecture's "the learning rate first", over a range that holds the useful
    rate of every built-in problem (sgd on a quadratic of condition 100 wants about
    0.02, Newton 1) and its diverging rates.  Momentum's ``rho``, RMSProp's
    ``decay_rate``, Adam's ``beta1, beta2`` (also AdamW's and NAdam's) and AdamW's
    ``weight_decay`` keep their defaults: a 1-D search per method spends the same
    budget on the same question for every method, so differences are the methods',
    not the search's.  ``lbfgs`` has no learning
    rate (its line search picks each step); it tunes its memory ``m``,
    ``IntRange(3, 30)``.  ``bfgs`` has nothing to tune (``gtol`` is a stopping
    tolerance: tuning it would only trade accuracy for steps), so its space is empty:
    one trial.  Pass ``space=`` to tune more, e.g.
    ``{"lr": LogUniform(1e-4, 1), "rho": Uniform(0.5, 0.99)}``.

Example
-------
>>> import tempfile
>>> from optbench.tuning import LogUniform, tune
>>> with tempfile.TemporaryDirectory() as out:
...     result = tune("quadratic", {"dim": 5, "condition_number": 10.0}, "sgd",
...                   space={"lr": LogUniform(1e-3, 1.0)}, budget=8, steps=30,
...                   results_dir=out)
>>> result.budget_runs, len(result.evaluation_run_ids)
(8, 5)
>>> 0.05 < result.best_params["lr"] < 0.2
True
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


from .build import build_optimizer, build_problem
from .samplers import grid_shape, grid_trials, random_trials
from .search_space import (
    DEFAULT_LR_RANGE,
    EDGE_FRACTION,
    Choice,
    IntRange,
    LogUniform,
    Space,
    Uniform,
    _integer,
    _Range,
    _real,
    default_space,
    space_from_dict,
    spaces_from_dict,
    spaces_to_dict,
)
from .cost import cost_column
from .spec import RunSpec, format_value, label
from .store import read_run, run_path
from .study import pending, run_study

# the spaces and samplers are re-exported: they were defined here first
__all__ = [
    "Choice",
    "DEFAULT_LR_RANGE",
    "EDGE_FRACTION",
    "IntRange",
    "LogUniform",
    "Space",
    "Uniform",
    "default_space",
    "space_from_dict",
    "spaces_from_dict",
    "spaces_to_dict",
    "METHODS",
    "OBJECTIVES",
    "TuneResult",
    "TuningWarning",
    "check_space",
    "grid_shape",
    "grid_trials",
    "random_trials",
    "run_objective",
    "select_best",
    "summary_table",
    "tune",
    "tune_many",
]

#: Search methods of :func:`tune`.
METHODS = ("grid", "random", "coarse_to_fine")

#: Objectives of :func:`tune` (lower is better).
OBJECTIVES = ("final", "best", "val_acc", "steps_to_target")

#: Run statuses that exclude a trial from selection.
EXCLUDED_STATUSES = ("diverged", "error")

#: Columns of ``TuneResult.trials`` besides the tuned parameters.
TRIAL_COLUMNS = ("round", "trial", "score", "final", "status", "n_grad", "run_ids")


class TuningWarning(UserWarning):
    """The search range looks too narrow, or nothing could be selected."""


# ---------------------------------------------------------------------- scoring


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile that handles +inf (numpy gives NaN between infs)."""
    v = sorted(float(x) if not math.isnan(float(x)) else math.inf for x in values)
    if not v:
        return math.nan
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    a, b = v[lo], v[hi]
    if a == b or lo == hi:
        return a
    if math.isinf(b):
        return math.inf
    return a + (b - a) * (pos - lo)


def _final_value(trace: pd.DataFrame) -> float:
    last = trace.iloc[-1]
    subopt = float(last["subopt"])
    return subopt if math.isfinite(subopt) else float(last["loss"])


def run_objective(trace: pd.DataFrame, status: str, objective: str = "final", *,
                  target: float = 1e-6) -> tuple[float, float]:
    """``(score, final)`` of one run: its objective (lower is better) and its final
    value (final subopt, or final loss where ``subopt`` is NaN).

    A run that diverged or failed (or has no trace rows) gives ``(inf, inf)``;
    a NaN score counts as ``inf``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if status in EXCLUDED_STATUSES or len(trace) == 0:
        return math.inf, math.inf
    final = _final_value(trace)
    if objective == "final":
        score = final
    elif objective == "best":
        score = float(np.nanmin(trace["loss"].to_numpy(dtype=float)))
    elif objective == "val_acc":
        if "val_acc" not in trace:
            raise ValueError("objective 'val_acc' needs a problem with a val_acc metric (a net)")
        score = -float(trace["val_acc"].iloc[-1])
    else:  # steps_to_target
        subopt = trace["subopt"].to_numpy(dtype=float)
        if np.isnan(subopt).all():
            raise ValueError("objective 'steps_to_target' needs a problem with a known f_star")
        hit = np.flatnonzero(subopt <= target)
        score = float(trace["step"].iloc[hit[0]]) if hit.size else math.inf
    if math.isnan(score):
        score = math.inf
    if math.isnan(final):
        final = math.inf
    return score, final


_STATUS_ORDER = ("error", "diverged", "max_steps", "converged")


def _trial_status(statuses: Sequence[str]) -> str:
    """The worst status of a trial's runs: error > diverged > max_steps > converged."""
    for s in _STATUS_ORDER:
        if s in statuses:
            return s
    return statuses[0] if statuses else "error"


def _sort_key(row: Mapping[str, Any]) -> tuple:
    def num(x: Any) -> float:
        x = float(x)
        return math.inf if math.isnan(x) else x

    return (num(row["score"]), num(row["final"]), num(row["n_grad"]), int(row["trial"]))


def select_best(trials: pd.DataFrame) -> int | None:
    """The index (label) of the best trial of a trials table, or None if every trial
    is excluded (status ``diverged`` or ``error``).

    Needs the columns ``trial``, ``score``, ``final``, ``status``, ``n_grad``.  The
    lowest score wins; ties go to the lower final value, then to fewer gradient
    evaluations, then to the earlier trial.
    """
    ok = trials[~trials["status"].isin(EXCLUDED_STATUSES)]
    if ok.empty:
        return None
    return min(ok.index, key=lambda i: _sort_key(ok.loc[i]))


# ------------------------------------------------------------------ the search


@dataclass
class TuneResult:
    """What :func:`tune` found and how it was evaluated.

    Attributes
    ----------
    tune_id
        Short hash of the tuning study's definition; the runs' ``tune.id`` tag.
    problem, problem_params, optimizer, fixed
        What was tuned; ``fixed`` are the optimizer parameters not searched.
    method, objective, target, search_seed, search_seeds, eval_seeds, steps, record_every
        How.
    space
        The space searched (plain data, :func:`spaces_to_dict`).
    spaces
        The space of every round, as plain data (narrowing rounds under
        coarse-to-fine; one entry otherwise).
    trials
        One row per trial: ``round``, ``trial``, the tuned parameters, ``score``
        (median over the search seeds; lower is better), ``final`` (median final
        value), ``status`` (the worst of its runs'), ``n_grad`` (sum of final
        ``n_grad`` over its runs), ``run_ids`` (one per search seed).
    best_trial, best_params, best_score
        The selected trial's number, its tuned values and its search score; None
        when every trial diverged or failed.
    evaluation_run_ids, evaluation
        The runs of the chosen configuration on ``eval_seeds`` and their summary:
        ``values`` (the objective per seed), ``median``, ``q25``, ``q75``, ``iqr``,
        ``final_median``, ``statuses``, ``n_diverged``, ``n_error``, ``n_grad``.
    budget_runs, budget_n_grad, budget_cost
        What the search cost: runs, gradient evaluations, and gradient-equivalents
        (the cost model of :mod:`optbench.cost`).  Evaluation runs are not included.
    warnings, note
        Edge warnings; why only the evaluation runs count.
    results_dir
        Where the runs are stored.
    """

    tune_id: str
    problem: str
    problem_params: dict[str, Any]
    optimizer: str
    fixed: dict[str, Any]
    method: str
    objective: str
    target: float
    search_seed: int
    search_seeds: list[int]
    eval_seeds: list[int]
    steps: int
    record_every: int
    space: dict[str, Any]
    spaces: list[dict[str, Any]]
    trials: pd.DataFrame
    best_trial: int | None
    best_params: dict[str, Any] | None
    best_score: float | None
    evaluation_run_ids: list[str]
    evaluation: dict[str, Any]
    budget_runs: int
    budget_n_grad: int
    budget_cost: float
    warnings: list[str] = field(default_factory=list)
    note: str = ""
    results_dir: str = ""

    @property
    def optimizer_params(self) -> dict[str, Any] | None:
        """The full parameters of the chosen configuration: ``fixed`` + ``best_params``."""
        if self.best_params is None:
            return None
        return {**self.fixed, **self.best_params}

    @property
    def optimizer_label(self) -> str:
        """``sgd[lr=0.18]`` for the chosen configuration (bare name if none)."""
        return label(self.optimizer, self.optimizer_params or self.fixed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly plain data (non-finite numbers become None)."""
        data = {
            "tune_id": self.tune_id,
            "problem": self.problem,
            "problem_params": self.problem_params,
            "optimizer": self.optimizer,
            "fixed": self.fixed,
            "method": self.method,
            "objective": self.objective,
            "target": self.target,
            "search_seed": self.search_seed,
            "search_seeds": self.search_seeds,
            "eval_seeds": self.eval_seeds,
            "steps": self.steps,
            "record_every": self.record_every,
            "space": self.space,
            "spaces": self.spaces,
            "trials": self.trials.to_dict(orient="records"),
            "best_trial": self.best_trial,
            "best_params": self.best_params,
            "best_score": self.best_score,
            "evaluation_run_ids": self.evaluation_run_ids,
            "evaluation": self.evaluation,
            "budget_runs": self.budget_runs,
            "budget_n_grad": self.budget_n_grad,
            "budget_cost": self.budget_cost,
            "warnings": self.warnings,
            "note": self.note,
            "results_dir": self.results_dir,
        }
        return _jsonable(data)

    def format(self) -> str:
        """A few lines for a terminal: the choice, the budget, the evaluation, warnings."""
        lines = [
            f"{self.optimizer} on {label(self.problem, self.problem_params)}: {self.method} "
            f"search, {len(self.trials)} trials, {self.budget_runs} runs, "
            f"{self.budget_n_grad} gradient evaluations (tune.id {self.tune_id})",
        ]
        if self.best_params is None:
            lines.append("  no configuration selected: every trial diverged or failed")
        else:
            ev = self.evaluation
            lines.append(f"  chosen: {self.optimizer_label}  (trial {self.best_trial}, "
                         f"search {self.objective} = {_fmt(self.best_score)})")
            lines.append(
                f"  evaluation on seeds {self.eval_seeds}: {self.objective} median "
                f"{_fmt(ev.get('median'))}, IQR {_fmt(ev.get('iqr'))} "
                f"[{_fmt(ev.get('q25'))}, {_fmt(ev.get('q75'))}]"
                + (f", {ev['n_diverged']} diverged" if ev.get("n_diverged") else "")
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral,)):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        return x if math.isfinite(x) else None
    return value


class _KeepOpen:
    """Hands one Progress to several run_study calls; tune closes it at the end."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def update(self, text: str, *, failed: bool = False) -> None:
        self.progress.update(text, failed=failed)

    def close(self) -> None:
        """Nothing: the caller's progress line stays open across rounds."""


def _check_seeds(name: str, seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = [seeds]
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"{name} must be a list of integers >= 0, got {seeds!r}")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"{name} must be integers >= 0, got {s!r}")
        out.append(int(s))
    if not out:
        raise ValueError(f"{name} must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    return out


def check_space(optimizer: str, space: Mapping[str, Space], fixed: Mapping[str, Any]) -> None:
    """Every extreme value of every dimension must build a valid optimizer."""
    reserved = set(TRIAL_COLUMNS) & set(space)
    if reserved:
        raise ValueError(f"search space: names {sorted(reserved)} are reserved for trial columns")
    both = set(space) & set(fixed)
    if both:
        raise ValueError(f"{sorted(both)} both searched and fixed; give each parameter once")
    middle = {k: v.grid(1)[0] for k, v in space.items()}
    try:
        build_optimizer(optimizer, {**fixed, **middle})
    except ValueError as exc:
        raise ValueError(
            f"{exc} (with fixed parameters {fixed} and the searched {sorted(space)}; "
            f"give every required parameter in fixed= or in the space)"
        ) from None
    for name, dim in space.items():
        extremes: list[Any]
        if not dim.ordered:
            assert isinstance(dim, Choice)  # the one unordered kind of dimension
            extremes = dim.grid(None)
        else:
            assert isinstance(dim, (_Range, IntRange))  # the ordered kinds: ranges
            extremes = [dim.low, dim.high]
        for value in extremes:
            try:
                build_optimizer(optimizer, {**fixed, **middle, name: value})
            except ValueError as exc:
                raise ValueError(f"search space {name} = {dim.describe()}: {exc}") from None


def _study_id(definition: Mapping[str, Any]) -> str:
    payload = json.dumps(_jsonable(definition), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def _round_sizes(n_trials: int, rounds: int) -> list[int]:
    base, extra = divmod(n_trials, rounds)
    return [base + (1 if r < extra else 0) for r in range(rounds)]


def _read(results_dir: str, run_id: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    return read_run(run_path(results_dir, run_id))


def _run_batch(specs: list[RunSpec], results_dir: str, tags: dict[str, dict[str, Any]],
               stage: str, progress: Any, jobs: int, executor: str, scheduler: str | None,
               plugins: tuple[str, ...] = ()) -> None:
    if progress is None:
        handle = None
    elif hasattr(progress, "update"):
        handle = _KeepOpen(progress)
    else:  # a factory: (runs to run, stage) -> Progress
        handle = progress(len(pending(specs, results_dir)[0]), stage)
    run_study(specs, results_dir, jobs=jobs, executor=executor, progress=handle,
              tags=tags, scheduler=scheduler, plugins=plugins)


def _summarise_runs(results_dir: str, run_ids: list[str], objective: str, target: float
                    ) -> list[dict[str, Any]]:
    out = []
    for rid in run_ids:
        trace, record = _read(results_dir, rid)
        status = record["status"]
        score, final = run_objective(trace, status, objective, target=target)
        n_grad = int(trace["n_grad"].iloc[-1]) if len(trace) else 0
        cost = cost_column(trace, record.get("cost_model"))
        out.append({"run_id": rid, "seed": record["spec"]["seed"], "status": status,
                    "score": score, "final": final, "n_grad": n_grad,
                    "cost": float(cost[-1]) if len(cost) else 0.0})
    return out


def tune(
    problem: str,
    problem_params: Mapping[str, Any] | None,
    optimizer: str,
    *,
    space: Mapping[str, Any] | None = None,
    method: str = "random",
    budget: int = 20,
    rounds: int = 3,
    shrink: float = 0.3,
    grid_points: int | Mapping[str, int] | None = None,
    steps: int = 100,
    record_every: int = 1,
    options: Mapping[str, Any] | None = None,
    search_seeds: Sequence[int] = (0,),
    eval_seeds: Sequence[int] = (100, 101, 102, 103, 104),
    objective: str = "final",
    target: float = 1e-6,
    search_seed: int = 0,
    fixed: Mapping[str, Any] | None = None,
    results_dir: str | os.PathLike,
    jobs: int = 1,
    executor: str = "serial",
    scheduler: str | None = None,
    plugins: Sequence[str] = (),
    progress: Any = None,
) -> TuneResult:
    """Search the hyper-parameters of ``optimizer`` on one problem, then evaluate the choice.

    Parameters
    ----------
    problem, problem_params
        The problem family (registry name) and its parameters.
    optimizer
        The optimizer (registry name).
    space
        ``{name: dimension}``, dimensions as Spaces or their plain data
        (``{"lr": {"log_uniform": [1e-5, 10]}}``); default :func:`default_space`.
        An empty space means one trial of the ``fixed`` parameters.
    method
        ``"grid"``, ``"random"`` or ``"coarse_to_fine"`` (see the module docstring).
    budget
        Search runs: ``budget // len(search_seeds)`` trials, each on every search seed.
    rounds, shrink
        Coarse-to-fine: the number of rounds, and the factor by which each round
        narrows every ordered dimension around the best trial so far (clipped to the
        previous round's range; ``0 < shrink <= 1``).  If every trial so far is
        excluded the range is kept.
    grid_points
        Grid: points per ordered dimension (an int, or a table per name) instead of
        the largest grid that fits the budget (see :func:`grid_shape`).
    steps, record_every, options
        Of every run (``options``: the run options of :class:`optbench.RunSpec`).
    search_seeds, eval_seeds
        Run seeds of the search and of the evaluation; they must not overlap.
    objective, target
        What the search minimises (:data:`OBJECTIVES`); ``target`` is the
        suboptimality of ``"steps_to_target"``.
    search_seed
        Seeds the search itself (the random samples).
    fixed
        Optimizer parameters held fixed (``{"rho": 0.9}``).
    results_dir, jobs, executor, scheduler, plugins
        Passed to :func:`optbench.study.run_study`, once per round and once for
        the evaluation.
    progress
        None (quiet), a Progress (shared by every batch and closed at the end), or
        a factory ``(runs_to_run, stage) -> Progress`` called before each batch.

    Returns
    -------
    TuneResult

    Raises
    ------
    ValueError
        Bad arguments, overlapping seeds, a space outside the optimizer's valid
        ranges, or an objective the problem cannot serve (``val_acc`` without that
        metric, ``steps_to_target`` without ``f_star``).
    """
    problem_params = dict(problem_params or {})
    fixed = dict(fixed or {})
    options = dict(options or {})
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    budget = _integer("tune", "budget", budget)
    if budget < 1:
        raise ValueError(f"tune: budget must be >= 1 run, got {budget}")
    rounds = _integer("tune", "rounds", rounds)
    if rounds < 1:
        raise ValueError(f"tune: rounds must be >= 1, got {rounds}")
    shrink = _real("tune", "shrink", shrink)
    if not 0.0 < shrink <= 1.0:
        raise ValueError(f"tune: shrink must be in (0, 1], got {shrink!r}")
    target = _real("tune", "target", target)
    if target < 0:
        raise ValueError(f"tune: target must be >= 0, got {target!r}")
    search_seed = _integer("tune", "search_seed", search_seed)
    if search_seed < 0:
        raise ValueError(f"tune: search_seed must be >= 0, got {search_seed}")
    search_seeds = _check_seeds("search_seeds", search_seeds)
    eval_seeds = _check_seeds("eval_seeds", eval_seeds)
    overlap = sorted(set(search_seeds) & set(eval_seeds))
    if overlap:
        raise ValueError(
            f"eval_seeds must not overlap search_seeds (the evaluation must be on fresh "
            f"seeds); both hold {overlap}"
        )
    n_trials = budget // len(search_seeds)
    if n_trials < 1:
        raise ValueError(
            f"tune: a budget of {budget} runs is less than one trial on {len(search_seeds)} "
            f"search seeds"
        )
    space = default_space(optimizer) if space is None else spaces_from_dict(space)
    if method == "coarse_to_fine" and space and n_trials < rounds:
        raise ValueError(
            f"tune: coarse_to_fine needs at least one trial per round: {n_trials} trials "
            f"for {rounds} rounds"
        )
    # check what can be checked before running anything
    instance = build_problem(problem, problem_params)
    if objective == "steps_to_target" and instance.f_star is None:
        raise ValueError(f"objective 'steps_to_target' needs a known f_star; {problem} has none")
    if objective == "val_acc" and getattr(instance, "metrics", None) is None:
        raise ValueError(f"objective 'val_acc' needs a problem with metrics (a net); {problem} has none")
    check_space(optimizer, space, fixed)
    RunSpec(problem, optimizer, problem_params, fixed, steps=steps, record_every=record_every,
            options=options)  # validates steps, record_every, options

    out = str(results_dir)
    definition = {
        "problem": problem, "problem_params": problem_params, "optimizer": optimizer,
        "fixed": fixed, "space": spaces_to_dict(space), "method": method, "budget": budget,
        "rounds": rounds if method == "coarse_to_fine" else None,
        "shrink": shrink if method == "coarse_to_fine" else None,
        "grid_points": grid_points if method == "grid" else None,
        "steps": steps, "record_every": record_every, "options": options,
        "search_seeds": search_seeds, "eval_seeds": eval_seeds, "objective": objective,
        "target": target if objective == "steps_to_target" else None,
        "search_seed": search_seed,
    }
    tune_id = _study_id(definition)

    def spec(params: Mapping[str, Any], seed: int) -> RunSpec:
        return RunSpec(problem, optimizer, problem_params, {**fixed, **params}, seed=seed,
                       steps=steps, record_every=record_every, options=options)

    rng = np.random.default_rng(search_seed)
    # trials per round (the grid: one round of at most n_trials points)
    if not space:
        plan = [1]
    elif method in ("grid", "random"):
        plan = [n_trials]
    else:
        plan = _round_sizes(n_trials, rounds)

    rows: list[dict[str, Any]] = []
    run_records: dict[str, dict[str, Any]] = {}
    spaces = []
    current = dict(space)
    try:
        for r, size in enumerate(plan):
            params_list: list[dict[str, Any]]
            if not space:
                params_list = [{}]
            elif method == "grid":
                params_list = grid_trials(space, n_trials, grid_points)
            else:
                params_list = random_trials(current, size, rng, exclude=_rows_params(rows, space))
            spaces.append(spaces_to_dict(current))
            if not params_list:  # a discrete space with every point already tried
                break
            first = len(rows)
            specs, tags = [], {}
            for k, params in enumerate(params_list, start=first):
                for seed in search_seeds:
                    s = spec(params, seed)
                    specs.append(s)
                    tags[s.run_id()] = {"tune.id": tune_id, "tune.role": "search",
                                        "tune.round": r, "tune.trial": k}
            _run_batch(specs, out, tags, f"tune {optimizer}: round {r}", progress,
                       jobs, executor, scheduler, tuple(plugins))
            for k, params in enumerate(params_list, start=first):
                ids = [spec(params, seed).run_id() for seed in search_seeds]
                runs = _summarise_runs(out, ids, objective, target)
                for run in runs:
                    run_records[run["run_id"]] = run
                statuses = [run["status"] for run in runs]
                status = _trial_status(statuses)
                excluded = status in EXCLUDED_STATUSES
                rows.append({
                    "round": r,
                    "trial": k,
                    **params,
                    "score": math.inf if excluded else _quantile([x["score"] for x in runs], 0.5),
                    "final": math.inf if excluded else _quantile([x["final"] for x in runs], 0.5),
                    "status": status,
                    "n_grad": sum(x["n_grad"] for x in runs),
                    "run_ids": ids,
                })
            if method == "coarse_to_fine" and r < len(plan) - 1:
                table = _trials_frame(rows, space)
                best = select_best(table)
                if best is not None:
                    centre = table.loc[best]
                    current = {k: (dim.narrow(_python(centre[k]), shrink) if dim.ordered else dim)
                               for k, dim in current.items()}

        trials = _trials_frame(rows, space)
        best = select_best(trials)
        notes: list[str] = []
        if best is None:
            message = (f"{optimizer} on {problem}: every trial diverged or failed; nothing "
                       f"selected and nothing evaluated")
            notes.append(message)
            warnings.warn(message, TuningWarning, stacklevel=2)
            best_params = best_score = best_trial = None
            eval_ids: list[str] = []
            evaluation: dict[str, Any] = {"objective": objective, "seeds": eval_seeds, "values": []}
        else:
            row = trials.loc[best]
            best_trial = int(row["trial"])
            best_params = {k: _python(row[k]) for k in space}
            best_score = float(row["score"])
            for name, dim in space.items():
                side = dim.edge_side(best_params[name])
                if side is not None:
                    message = (
                        f"{optimizer}: the best {name} = {format_value(best_params[name])} is at "
                        f"the {side} edge of its range {dim.describe()} (outer "
                        f"{EDGE_FRACTION:.0%}); widen the range on that side"
                    )
                    notes.append(message)
                    warnings.warn(message, TuningWarning, stacklevel=2)
            eval_specs = [spec(best_params, seed) for seed in eval_seeds]
            eval_ids = [s.run_id() for s in eval_specs]
            eval_tags = {rid: {"tune.id": tune_id, "tune.role": "evaluation"} for rid in eval_ids}
            _run_batch(eval_specs, out, eval_tags, f"tune {optimizer}: evaluation", progress,
                       jobs, executor, scheduler, tuple(plugins))
            evaluation = _evaluation(_summarise_runs(out, eval_ids, objective, target),
                                     objective, eval_seeds)
    finally:
        if progress is not None and hasattr(progress, "close"):
            progress.close()

    search_ids = list(dict.fromkeys(rid for ids in trials["run_ids"] for rid in ids))
    note = (
        f"The configuration was chosen on search seeds {search_seeds}; its search score is "
        f"the best of {len(trials)} trials and so optimistically biased. Only the "
        f"evaluation runs on the fresh seeds {eval_seeds} (tune.role = evaluation) count as "
        f"the optimizer's result."
    )
    return TuneResult(
        tune_id=tune_id,
        problem=problem,
        problem_params=problem_params,
        optimizer=optimizer,
        fixed=fixed,
        method=method,
        objective=objective,
        target=target,
        search_seed=search_seed,
        search_seeds=search_seeds,
        eval_seeds=eval_seeds,
        steps=steps,
        record_every=record_every,
        space=spaces_to_dict(space),
        spaces=spaces,
        trials=trials,
        best_trial=best_trial,
        best_params=best_params,
        best_score=best_score,
        evaluation_run_ids=eval_ids,
        evaluation=evaluation,
        budget_runs=len(search_ids),
        budget_n_grad=int(sum(run_records[rid]["n_grad"] for rid in search_ids)),
        budget_cost=float(sum(run_records[rid]["cost"] for rid in search_ids)),
        warnings=notes,
        note=note,
        results_dir=out,
    )


def _rows_params(rows: list[dict[str, Any]], space: Mapping[str, Space]) -> list[dict[str, Any]]:
    """The tuned values of the trials so far (to avoid drawing a point twice)."""
    return [{k: row[k] for k in space} for row in rows]


def _python(value: Any) -> Any:
    """numpy scalars from a DataFrame back to Python numbers (exact)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _trials_frame(rows: list[dict[str, Any]], space: Mapping[str, Space]) -> pd.DataFrame:
    columns = ["round", "trial", *space, "score", "final", "status", "n_grad", "run_ids"]
    frame = pd.DataFrame(rows, columns=columns)
    # keep integer and choice columns as Python objects where pandas would widen them
    for name, dim in space.items():
        if not dim.ordered:
            frame[name] = pd.Series([row[name] for row in rows], dtype=object)
    return frame


def _evaluation(runs: list[dict[str, Any]], objective: str, seeds: list[int]) -> dict[str, Any]:
    values = [run["score"] for run in runs]
    q25, q50, q75 = (_quantile(values, q) for q in (0.25, 0.5, 0.75))
    iqr = 0.0 if q25 == q75 else q75 - q25
    statuses = [run["status"] for run in runs]
    return {
        "objective": objective,
        "seeds": seeds,
        "values": values,
        "median": q50,
        "q25": q25,
        "q75": q75,
        "iqr": iqr,
        "final_median": _quantile([run["final"] for run in runs], 0.5),
        "statuses": statuses,
        "n_diverged": statuses.count("diverged"),
        "n_error": statuses.count("error"),
        "n_grad": int(sum(run["n_grad"] for run in runs)),
    }


def summary_table(results: Sequence[TuneResult]) -> pd.DataFrame:
    """One row per tuning result: the choice, its evaluation and the search budget."""
    rows = []
    for res in results:
        ev = res.evaluation
        rows.append({
            "optimizer": res.optimizer,
            "chosen": res.optimizer_label if res.best_params is not None else None,
            "search_score": res.best_score,
            "eval_median": ev.get("median"),
            "eval_q25": ev.get("q25"),
            "eval_q75": ev.get("q75"),
            "eval_iqr": ev.get("iqr"),
            "eval_diverged": ev.get("n_diverged"),
            "trials": len(res.trials),
            "budget_runs": res.budget_runs,
            "budget_n_grad": res.budget_n_grad,
            "budget_cost": res.budget_cost,
            "warnings": "; ".join(res.warnings),
            "tune_id": res.tune_id,
        })
    return pd.DataFrame(rows)


def tune_many(
    problem: str,
    problem_params: Mapping[str, Any] | None,
    optimizers: Sequence[str],
    *,
    spaces: Mapping[str, Mapping[str, Any]] | None = None,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`tune` every optimizer with the same budget, seeds and objective.

    ``spaces`` and ``fixed`` map an optimizer name to its space / fixed parameters
    (default :func:`default_space` and none); every other keyword goes to
    :func:`tune` unchanged.  Returns :func:`summary_table` of the results, in the
    order given (the full results: call :func:`tune` per optimizer).
    """
    names = list(optimizers)
    if len(set(names)) != len(names):
        raise ValueError(f"optimizers must be distinct, got {names}")
    for key in ("space", "fixed"):
        if key in kwargs:
            raise ValueError(f"tune_many takes per-optimizer {key}s= tables, not {key}=")
    spaces = dict(spaces or {})
    fixed = dict(fixed or {})
    unknown = (set(spaces) | set(fixed)) - set(names)
    if unknown:
        raise ValueError(f"spaces/fixed name optimizers not tuned here: {sorted(unknown)}")
    results = [
        tune(problem, problem_params, name, space=spaces.get(name), fixed=fixed.get(name),
             **kwargs)
        for name in names
    ]
    return summary_table(results)
