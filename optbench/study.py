"""Run a list of RunSpecs into a results directory, serially or on local processes.

Each run is executed and stored by whoever runs it (the main process or a worker),
so a finished run is on disk the moment it is done: killing a study loses at most
the runs in flight, and re-running it skips every run already stored.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import pandas as pd

from .build import execute
from .environment import environment
from .progress import Progress
from .runner import TRACE_COLUMNS
from .spec import RunSpec
from .store import stored_ids, write_run

#: Statuses of a stored run that count as done (an ``error`` run is tried again).
DONE_STATUSES = ("converged", "max_steps", "diverged")

EXECUTORS = ("serial", "process")


@dataclass(frozen=True)
class Outcome:
    """What happened to one spec of a study."""

    run_id: str
    problem: str
    optimizer: str
    seed: int
    status: str  # a run status, "error", or "skipped" (already stored)
    error: str | None = None

    def describe(self) -> str:
        text = f"{self.problem}  {self.optimizer}  seed={self.seed}  {self.status}"
        if self.error:
            text += f": {self.error}"
        return text


def run_and_store(spec_data: dict, results_dir: str) -> Outcome:
    """Execute one spec and store it (also a failed one, with status ``error``)."""
    spec = RunSpec.from_dict(spec_data)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    error = None
    try:
        result = execute(spec)
        trace, status, meta = result.trace, result.status, dict(result.meta)
    except Exception as exc:  # a failing run is a result too; the study goes on
        trace = pd.DataFrame({col: pd.Series(dtype="float64") for col in TRACE_COLUMNS})
        status = "error"
        error = f"{type(exc).__name__}: {exc}"
        meta = {"error": error, "traceback": traceback.format_exc()}
    meta.update(environment=environment(), started=started)
    write_run(results_dir, spec, trace, status=status, meta=meta)
    return Outcome(spec.run_id(), spec.problem_label, spec.optimizer_label, spec.seed, status, error)


def pending(specs: Iterable[RunSpec], results_dir: str | os.PathLike) -> tuple[list[RunSpec], list[RunSpec]]:
    """Split ``specs`` into (to run, already stored) and drop repeated specs."""
    done = stored_ids(results_dir, statuses=DONE_STATUSES)
    todo, skipped, seen = [], [], set()
    for spec in specs:
        rid = spec.run_id()
        if rid in seen:
            continue
        seen.add(rid)
        (skipped if rid in done else todo).append(spec)
    return todo, skipped


def run_study(
    specs: list[RunSpec],
    results_dir: str | os.PathLike,
    *,
    jobs: int = 1,
    executor: str = "serial",
    progress: Progress | None = None,
) -> list[Outcome]:
    """Run every spec not yet stored in ``results_dir``; returns one Outcome per spec.

    ``executor="serial"`` runs in this process; ``"process"`` uses a pool of ``jobs``
    local worker processes (spawned, so each starts clean).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    out = str(results_dir)
    Path(out).mkdir(parents=True, exist_ok=True)
    todo, skipped = pending(specs, out)
    outcomes = [
        Outcome(s.run_id(), s.problem_label, s.optimizer_label, s.seed, "skipped") for s in skipped
    ]
    if progress is None:
        progress = Progress(len(todo), quiet=True)
    if executor == "serial" or jobs == 1 or len(todo) <= 1:
        for spec in todo:
            outcome = run_and_store(spec.to_dict(), out)
            outcomes.append(outcome)
            progress.update(outcome.describe(), important=outcome.status == "error")
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(run_and_store, s.to_dict(), out): s for s in todo}
            try:
                for future in as_completed(futures):
                    spec = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker itself died
                        outcome = Outcome(
                            spec.run_id(), spec.problem_label, spec.optimizer_label,
                            spec.seed, "error", f"worker failed: {type(exc).__name__}: {exc}",
                        )
                    outcomes.append(outcome)
                    progress.update(outcome.describe(), important=outcome.status == "error")
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                raise
    progress.close()
    return outcomes
