"""Time to target: from a run's trace, to a study's fastest trial, to a workload's time.

The three steps of the protocol (optbench-score v1), each a small function:

1. a run's *hit*: the cost (gradient-equivalents, :mod:`optbench.cost`) and the
   seconds of the method's own work at the first recorded row whose metric is at or
   below the target, ``+inf`` if none is, or if it came after the run's budget
   (:func:`run_hit`).  Rows before a divergence count, as in
   :func:`optbench.statistics.time_to_target`; a run that raised never hits;
2. a study's time on a workload: the fastest of its trials (:func:`study_times`);
   on the seconds axis the fastest in seconds, which may be another trial;
3. a workload's time: the median over studies (:func:`median_times`), ``+inf``
   when at least half the studies missed (numpy's median of an even count averages
   the two middle values, so one finite and one infinite middle give ``+inf``).

Traces are kept as *trimmed* tables, ``step, cost, value, time`` (:func:`trim`),
which is what the shipped baseline bundle holds.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..cost import cost_column

#: Columns of a trimmed trace.
TRIMMED = ("step", "cost", "value", "time")

#: Columns of the hits table (one row per run).
HIT_COLUMNS = ("method", "workload", "study", "trial", "cost", "seconds")


def trim(trace: pd.DataFrame, cost_model: Any, metric: str) -> pd.DataFrame:
    """``step, cost, value, time`` of a run's trace; ``value`` is the ``metric`` column
    (NaN where the trace has none)."""
    value = trace[metric].to_numpy(dtype=float) if metric in trace else np.full(len(trace), np.nan)
    return pd.DataFrame({
        "step": trace["step"].to_numpy(dtype=np.int64),
        "cost": np.asarray(cost_column(trace, cost_model), dtype=float),
        "value": value,
        "time": trace["time"].to_numpy(dtype=float),
    })


def run_hit(trimmed: pd.DataFrame, target: float, budget: float, status: str = "max_steps"
            ) -> tuple[float, float]:
    """``(cost, seconds)`` at the first row with ``value <= target`` and ``cost <= budget``.

    ``(inf, inf)`` when there is none, when ``status`` is ``"error"`` or when the
    target is not finite.
    """
    if status == "error" or not math.isfinite(target) or trimmed.empty:
        return math.inf, math.inf
    value = trimmed["value"].to_numpy(dtype=float)
    cost = trimmed["cost"].to_numpy(dtype=float)
    ok = (value <= target) & (cost <= budget)  # NaN compares False
    if not ok.any():
        return math.inf, math.inf
    i = int(np.argmax(ok))
    return float(cost[i]), float(trimmed["time"].to_numpy(dtype=float)[i])


def study_times(hits: pd.DataFrame, trials: int | None = None) -> pd.DataFrame:
    """The fastest trial of each (method, workload, study) on both axes.

    ``trials`` keeps trials ``0 .. trials-1`` only (a smaller search: the protocol's
    trials are a prefix of a longer search's).  Returns ``method, workload, study,
    cost, seconds``.
    """
    if trials is not None:
        hits = hits[hits["trial"] < trials]
    return (hits.groupby(["method", "workload", "study"], sort=False)[["cost", "seconds"]]
            .min().reset_index())


def cube(times: pd.DataFrame, methods: Sequence[str], workloads: Sequence[str], studies: int,
         axis: str = "cost") -> np.ndarray:
    """``times`` (of :func:`study_times`) as an array ``T[method, workload, study]``;
    a missing entry is ``+inf`` (a method that did not run a workload missed it)."""
    out = np.full((len(methods), len(workloads), studies), np.inf)
    m = {name: i for i, name in enumerate(methods)}
    w = {name: i for i, name in enumerate(workloads)}
    for row in times.itertuples(index=False):
        if row.method in m and row.workload in w and 0 <= row.study < studies:
            out[m[row.method], w[row.workload], row.study] = getattr(row, axis)
    return out


def median_times(T: np.ndarray) -> np.ndarray:
    """The median over studies (the last axis), ``+inf`` where half or more missed."""
    return np.median(T, axis=-1)
