"""Running claims: their arms as one study, then each criterion on its evidence."""

from __future__ import annotations

import os
from typing import Any


from .. import store
from ..study import run_study
from .base import Budget, Claim, Evidence


def collect(claim: Claim, budget: Budget, results_dir: str | os.PathLike, *, jobs: int = 1,
            executor: str = "serial", **study_options: Any) -> Evidence:
    """Run ``claim``'s arms (what is not stored yet) into ``results_dir`` and gather its
    :class:`Evidence`: the trace and run rows of exactly its specs, each with ``arm``."""
    arms = claim.arms(budget)
    arm_of: dict[str, str] = {}
    specs = []
    for arm in arms:
        for spec in arm.specs:
            rid = spec.run_id()
            if rid in arm_of and arm_of[rid] != arm.name:
                raise ValueError(f"claim {claim.key!r}: the same run is in arms "
                                 f"{arm_of[rid]!r} and {arm.name!r}")
            if rid not in arm_of:
                specs.append(spec)
            arm_of[rid] = arm.name
    run_study(specs, results_dir, jobs=jobs, executor=executor, **study_options)
    trace = store.load(results_dir)
    trace = trace[trace["run_id"].isin(arm_of)].copy()
    trace["arm"] = trace["run_id"].map(arm_of)
    runs = store.runs(results_dir)
    runs = runs[runs["run_id"].isin(arm_of)].copy()
    runs["arm"] = runs["run_id"].map(arm_of)
    tables = claim.measure(budget) if claim.measure is not None else {}
    return Evidence(trace=trace.reset_index(drop=True), runs=runs.reset_index(drop=True),
                    tables=dict(tables), budget=budget)


def evaluate(claim: Claim, evidence: Evidence) -> Any:
    """``claim.criterion(evidence)``: the claim's :class:`~optbench.claims.Verdict`."""
    return claim.criterion(evidence)


__all__ = ["collect", "evaluate"]
