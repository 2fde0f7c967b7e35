"""Turn the plain data of a RunSpec into problem and optimizer objects."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, cast

import problems
import optimizers
from optimizers.validation import check_int

from .runner import RunResult, run
from .spec import RunSpec

#: Optimizer-table keys handled by the harness rather than by the optimizer itself.
#: ``average`` wraps the optimizer in Polyak averaging with that decay, started after
#: ``average_start`` steps (default 0: from x0).
HARNESS_OPTIMIZER_KEYS = ("average", "average_start")

_PROBLEM_CACHE: "OrderedDict[str, Any]" = OrderedDict()
_PROBLEM_CACHE_SIZE = 16


def build_problem(name: str, params: dict[str, Any]) -> Any:
    """``problems.get(name, **params)``, cached per process by (name, params).

    A study runs the same problem for many optimizers and seeds; building it (a
    random rotation, a reference solve for f_star) once per process saves that
    work.  Problems are never modified by runs, so sharing them is safe.
    """
    key = json.dumps([name, params], sort_keys=True)
    cached = _PROBLEM_CACHE.get(key)
    if cached is not None:
        _PROBLEM_CACHE.move_to_end(key)
        return cached
    problem = problems.get(name, **params)
    _PROBLEM_CACHE[key] = problem
    if len(_PROBLEM_CACHE) > _PROBLEM_CACHE_SIZE:
        _PROBLEM_CACHE.popitem(last=False)
    return problem


def build_optimizer(name: str, params: dict[str, Any]) -> Any:
    """``optimizers.get(name, **params)`` with schedules and averaging resolved.

    An ``lr`` given as a table (``{schedule = "step", lr = 0.1, ...}``) becomes a
    schedule; ``average = 0.995`` wraps the optimizer in Polyak averaging, which
    ``average_start = B`` starts after a burn-in of ``B`` steps
    (:class:`optimizers.Averaged`).
    """
    params = dict(params)
    average = params.pop("average", None)
    start = params.pop("average_start", None)
    if start is not None:
        if average is None:
            raise ValueError(f"{name}: average_start (the Polyak average's burn-in) needs "
                             "average (its decay)")
        start = check_int(name, "average_start", start, 0)
    if isinstance(params.get("lr"), dict):
        params["lr"] = optimizers.schedules.from_spec(params["lr"])
    opt = optimizers.get(name, **params)
    if average is not None:
        if not hasattr(opt, "step"):
            raise ValueError(
                f"{name}: average (Polyak averaging) applies to stepwise optimizers only; "
                f"{name} runs its own loop"
            )
        # a step() that is not an Optimizer's is refused by Averaged itself
        # (HyperparameterTypeError), so this cast only defers that check to it
        opt = optimizers.Averaged(cast("optimizers.Optimizer[Any]", opt), decay=average,
                                  start=0 if start is None else start)
    return opt


def execute(spec: RunSpec) -> RunResult:
    """Build the spec's problem and optimizer and run it."""
    problem = build_problem(spec.problem, spec.problem_params)
    optimizer = build_optimizer(spec.optimizer, spec.optimizer_params)
    return run(
        problem,
        optimizer,
        steps=spec.steps,
        seed=spec.seed,
        record_every=spec.record_every,
        **spec.run_options(),
    )
