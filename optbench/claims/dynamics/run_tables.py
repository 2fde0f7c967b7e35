"""The runs of the dynamics claims and the per-run tables their criteria read.

An arm's runs are :class:`~optbench.spec.RunSpec` s built by :func:`spec`.  A criterion
first reduces each run to one number (:func:`per_run`: steps to a target, an escape
time, a late mean...), then reads one arm's numbers by seed (:func:`by_seed`).  A run
that diverged keeps its value (the reduction sees its status and usually makes it the
worst outcome, ``+inf``); a run that raised (status ``"error"``) has none (NaN).
:func:`status_counts` and :func:`problem_notes` say in the summary how many runs
diverged, failed or are missing.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import Arm, Budget, Evidence

__all__ = [
    "by_seed", "expected_runs", "first_step", "per_run", "problem_notes", "spec", "status_counts",
    "steps_to_subopt",
]


def spec(problem: str, problem_params: dict[str, Any], optimizer: str, optimizer_params: dict[str, Any],
         seed: int, steps: int, record_every: int = 1, **options: Any) -> RunSpec:
    """The run of ``optimizer`` on ``problem`` with run seed ``seed`` for ``steps`` steps,
    recorded every ``record_every`` steps; ``options`` are the run's stopping options
    (``tol_subopt``, ``tol_grad``)."""
    return RunSpec(problem=problem, optimizer=optimizer, problem_params=problem_params,
                   optimizer_params=optimizer_params, seed=int(seed), steps=int(steps),
                   record_every=int(record_every), options=options)


def expected_runs(arms: Callable[[Budget], list[Arm]], budget: Budget) -> int:
    """How many runs ``arms(budget)`` asks for (those not found are "missing")."""
    return sum(len(arm.specs) for arm in arms(budget))


def status_counts(evidence: Evidence, arms: Sequence[str] | None = None) -> dict[str, int]:
    """Runs of ``arms`` (default all) by status: ``diverged``, ``error``."""
    runs = evidence.runs
    if runs.empty or "status" not in runs:
        return {"diverged": 0, "error": 0}
    if arms is not None:
        runs = runs[runs["arm"].isin(list(arms))]
    status = runs["status"].astype(str)
    return {"diverged": int((status == "diverged").sum()), "error": int((status == "error").sum())}


def problem_notes(counts: dict[str, int], expected: int, present: int) -> str:
    """Text for the summary: how many runs diverged, failed or are missing."""
    missing = max(0, expected - present)
    parts = []
    if counts["diverged"]:
        parts.append(f"{counts['diverged']} diverged run(s) counted as the worst outcome")
    if counts["error"]:
        parts.append(f"{counts['error']} failed run(s) left out")
    if missing > counts["error"]:
        parts.append(f"{missing - counts['error']} run(s) missing")
    return ("; " + ", ".join(parts)) if parts else ""


def per_run(evidence: Evidence, value: Callable[[pd.DataFrame, str], float]) -> pd.DataFrame:
    """One row per run with trace rows: ``run_id, arm, seed, status, value`` where
    ``value(rows, status)`` sees the run's rows in step order; runs that raised are
    NaN."""
    columns = ["run_id", "arm", "seed", "status", "value"]
    trace = evidence.trace
    if trace.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for run_id, group in trace.sort_values(["run_id", "step"]).groupby("run_id", sort=True):
        status = str(group["status"].iloc[0])
        v = math.nan if status == "error" else float(value(group, status))
        rows.append({"run_id": run_id, "arm": group["arm"].iloc[0], "seed": int(group["seed"].iloc[0]),
                     "status": status, "value": v})
    return pd.DataFrame(rows, columns=columns)


def by_seed(table: pd.DataFrame, arm: str) -> pd.Series:
    """The ``value`` column of one arm of a :func:`per_run` table, indexed by seed."""
    part = table[table["arm"] == arm]
    return pd.Series(part["value"].to_numpy(dtype=float), index=part["seed"].to_numpy(dtype=int))


def first_step(rows: pd.DataFrame, hit: np.ndarray) -> float:
    """The first recorded step where ``hit`` is True, else ``+inf``."""
    if not hit.any():
        return math.inf
    return float(rows["step"].to_numpy()[int(np.argmax(hit))])


def steps_to_subopt(target: float) -> Callable[[pd.DataFrame, str], float]:
    """First recorded step with ``subopt <= target`` (``+inf`` if never; a diverged
    run's rows before the divergence count): a ``value`` of :func:`per_run`."""
    def value(rows: pd.DataFrame, status: str) -> float:
        subopt = rows["subopt"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return first_step(rows, subopt <= target)
    return value
