"""The runs of the adaptive claims as tables, and the arms that make them.

:func:`seeded_arm` builds an arm of one :class:`~optbench.spec.RunSpec` per run
seed; :func:`runs_of` splits a trace into its runs; :func:`run_values` reduces each
run to one number (its final gap, :func:`final_gap`, its gap at a step, :func:`gap_at`,
or any other function of its rows); :func:`loso_select` picks, for every seed, the configuration that is best
on the *other* seeds.  Gaps are floored at :data:`GAP_FLOOR` (see
:mod:`optbench.claims.adaptive`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import Arm, Evidence

__all__ = ["GAP_FLOOR", "RUN_COLUMNS", "Rows", "final_gap", "gap_at", "gap_of", "loso_select",
           "n_errors", "run_values", "runs_of", "seeded_arm"]

#: Gaps below this count as this (see :mod:`optbench.claims.adaptive`).
GAP_FLOOR = 1e-15

#: The trace columns a run's rows carry (as numpy arrays) where the trace has them.
RUN_COLUMNS = ("run_id", "arm", "seed", "status", "step", "loss", "subopt", "grad_norm", "n_grad",
               "x_0", "x_1")

Rows = Mapping[str, np.ndarray]


def seeded_arm(name: str, seeds: Sequence[int], *, data_seed: bool = False, **fields: Any) -> Arm:
    """An arm of one :class:`RunSpec` (of ``fields``) per run seed; with ``data_seed`` the
    run seed also seeds the problem's data (``problem_params['seed']``)."""
    specs = []
    for s in seeds:
        spec_fields = dict(fields)
        if data_seed:
            spec_fields["problem_params"] = {**spec_fields.get("problem_params", {}), "seed": s}
        specs.append(RunSpec(seed=s, **spec_fields))
    return Arm(name, tuple(specs))


def runs_of(trace: pd.DataFrame) -> Iterator[Rows]:
    """Each run's rows in step order, as a mapping column -> numpy array (the columns of
    :data:`RUN_COLUMNS` the trace has); runs in ``run_id`` order."""
    if len(trace) == 0:
        return
    ordered = trace.sort_values(["run_id", "step"], kind="stable")
    columns = {c: ordered[c].to_numpy() for c in RUN_COLUMNS if c in ordered}
    ids = columns["run_id"]
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    for start, end in zip([0, *cuts], [*cuts, len(ids)]):
        yield {c: v[start:end] for c, v in columns.items()}


def gap_of(rows: Rows) -> np.ndarray:
    """The gap of each row: ``subopt`` floored at :data:`GAP_FLOOR`, or the loss without one."""
    subopt = np.asarray(rows["subopt"], dtype=float) if "subopt" in rows else None
    values = subopt if subopt is not None and (~np.isnan(subopt)).any() else \
        np.asarray(rows["loss"], dtype=float)
    return np.maximum(values, GAP_FLOOR)


def final_gap(rows: Rows, status: str) -> float:
    """A run's gap at its last row (``+inf`` if it diverged)."""
    if status == "diverged":
        return math.inf
    return float(gap_of(rows)[-1])


def gap_at(rows: Rows, status: str, step: int) -> float:
    """A run's gap after ``step`` steps: that of its last row at or before ``step`` (a
    run that converged early keeps its last gap); ``+inf`` if it diverged at or before
    ``step``; NaN if it has no row there.

    With a learning rate that does not depend on the run's length, this is the final gap
    a run of ``step`` steps would have (when ``step`` is a recorded step).
    """
    steps = np.asarray(rows["step"])
    if status == "diverged" and steps.size and steps[-1] <= step:
        return math.inf
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return float(gap_of(rows)[i]) if i >= 0 else math.nan


def run_values(evidence: Evidence, value: Callable[[Rows, str], float]) -> pd.DataFrame:
    """One row per run of the evidence: ``run_id``, ``arm``, ``seed``, ``status``, ``value``.

    ``value(rows, status)`` maps a run's rows (see :func:`runs_of`) and its status to a
    number; runs without rows (status ``"error"``) get NaN.
    """
    out = []
    seen = set()
    for rows in runs_of(evidence.trace):
        run_id = rows["run_id"][0]
        status = str(rows["status"][0]) if "status" in rows else "max_steps"
        out.append({"run_id": run_id, "arm": rows["arm"][0], "seed": int(rows["seed"][0]),
                    "status": status, "value": float(value(rows, status))})
        seen.add(run_id)
    runs = evidence.runs
    if len(runs):
        for row in runs.itertuples(index=False):
            if row.run_id not in seen:
                out.append({"run_id": row.run_id, "arm": row.arm, "seed": int(row.seed),
                            "status": str(getattr(row, "status", "error")), "value": math.nan})
    frame = pd.DataFrame(out, columns=["run_id", "arm", "seed", "status", "value"])
    return frame.astype({"run_id": object, "arm": object, "seed": int, "status": object, "value": float})


def n_errors(values: pd.DataFrame) -> int:
    """How many runs of a :func:`run_values` table have no value (they failed)."""
    return int(values["value"].isna().sum()) if len(values) else 0


def loso_select(values: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-seed-out selection over configurations.

    ``values`` has columns ``config`` (sortable: the grid point, e.g. a rate),
    ``seed`` and ``value`` (> 0, lower is better; NaN: missing).  For every seed ``s``,
    the chosen configuration is the one with the lowest geometric mean
    ``exp(mean(log value))`` over the seeds other than ``s`` (NaN dropped; one ``+inf``,
    a diverged run, makes it ``+inf``; ties go to the smallest config).  The geometric
    mean uses every other seed and penalises a rate that is good on some seeds and
    poor on others.  The result has one row per seed: ``seed``, ``config`` and that
    configuration's ``value`` at ``s`` (NaN if it is missing there).

    >>> v = pd.DataFrame({"config": [0.1, 0.1, 0.1, 1.0, 1.0, 1.0], "seed": [0, 1, 2] * 2,
    ...                   "value": [1.0, 1.0, 1.0, 0.5, 0.5, 9.0]})
    >>> loso_select(v)["config"].tolist()          # seed 2 is judged by seeds 0 and 1 only
    [0.1, 0.1, 1.0]
    """
    table: dict[Any, dict[int, float]] = {}
    for config, seed, value in zip(values["config"], values["seed"], values["value"]):
        table.setdefault(config, {})[int(seed)] = float(value)
    seeds = sorted({int(s) for s in values["seed"]})
    rows = []
    for s in seeds:
        best_config = _best_without(table, s)
        value = math.nan if best_config is None else table[best_config].get(s, math.nan)
        rows.append({"seed": s, "config": best_config, "value": value})
    return pd.DataFrame(rows, columns=["seed", "config", "value"])


def _best_without(table: dict[Any, dict[int, float]], s: int) -> Any:
    """The configuration of ``table`` (config -> seed -> value) with the lowest geometric
    mean over the seeds other than ``s`` (None if none has a value there)."""
    best_config, best = None, math.inf
    for config in sorted(table):
        column = np.array([v for seed, v in table[config].items() if seed != s and not math.isnan(v)])
        if column.size == 0:
            continue
        with np.errstate(divide="ignore"):
            mean = float(np.exp(np.mean(np.log(column))))
        if best_config is None or mean < best:
            best_config, best = config, mean
    return best_config
