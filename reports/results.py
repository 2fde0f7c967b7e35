"""What a report reads from a results directory, read once.

:func:`read_results` gathers the trace table (:func:`optbench.store.load`), the
run table with failed runs and their errors (:func:`optbench.store.runs`), each
run's metadata record (spec, status, environment, start time) and the ensembles
tables; the report's sections and figures only use this.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optbench import store

from .nets import load_ensembles
from .sensitivity import ROLE


@dataclass
class Results:
    """The inputs of a report.

    ``data``: one row per recorded step (``optbench.load``); ``runs``: one row per
    stored run (``optbench.store.runs``, failed runs included); ``records``: the
    metadata record of each run, in the order of ``runs``; ``ensembles``: the
    ensembles tables (:func:`reports.nets.load_ensembles`); ``directory``: where
    they came from (None for a table passed in directly); ``skipped``: the run
    files that could not be read, each with the reason.
    """

    data: pd.DataFrame
    runs: pd.DataFrame
    records: list[dict[str, Any]] = field(default_factory=list)
    ensembles: pd.DataFrame = field(default_factory=pd.DataFrame)
    directory: Path | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def main(self) -> pd.DataFrame:
        """The rows of every run except tuning search trials (shown on their own)."""
        if ROLE in self.data.columns:
            return self.data[self.data[ROLE] != "search"]
        return self.data

    def problem_params(self) -> dict[str, dict[str, Any]]:
        """``{problem_label: problem_params}`` from the stored specs."""
        out: dict[str, dict[str, Any]] = {}
        for record, label in zip(self.records, self.runs.get("problem_label", [])):
            spec = record.get("spec") or {}
            out.setdefault(label, dict(spec.get("problem_params") or {}))
        return out


def read_results(results_dir: str | os.PathLike) -> Results:
    """Everything a report draws from ``results_dir`` (FileNotFoundError if missing).

    The store's warnings about the directory become part of the report instead: a
    run file it skips as unreadable is listed in ``skipped``, and runs made in
    different environments are shown side by side in the environment section.
    Other warnings pass through.
    """
    directory = Path(results_dir)
    skip_warning = getattr(store, "CorruptRunWarning", None)
    mixed_warning = getattr(store, "MixedEnvironmentWarning", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = store.load(directory)
        runs = store.runs(directory)
    reasons = []
    for w in caught:
        if skip_warning is not None and issubclass(w.category, skip_warning):
            reasons.append(str(w.message))
        elif mixed_warning is None or not issubclass(w.category, mixed_warning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    listed = set(runs.get("file", []))
    skipped = [f"{path.name}: {_reason(path.name, reasons)}"  # files the store left out
               for path in store.run_files(directory) if path.name not in listed]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", store.CorruptRunWarning)  # reported above, with the runs
        by_id = store.records(directory)
    records = [by_id.get(Path(name).stem, {}) for name in runs.get("file", [])]
    return Results(data=data, runs=runs, records=records, ensembles=load_ensembles(directory),
                   directory=directory, skipped=skipped)


def _reason(name: str, messages: list[str]) -> str:
    """The first warning about file ``name`` ("skipping <path>: <reason>"), its reason."""
    for message in messages:
        if name in message:
            return message.split(": ", 1)[-1]
    return "unreadable"


def results_from_table(data: pd.DataFrame, environment: dict[str, Any] | None = None) -> Results:
    """Results from a trace table alone (no directory): one run per ``run_id``.

    Runs that failed before their first record are not in a trace table, so they
    are missing here; :func:`read_results` lists them.
    """
    if data is None or data.empty:
        runs = pd.DataFrame()
        records: list[dict[str, Any]] = []
    else:
        last = data.groupby("run_id", sort=False).tail(1)
        runs = last.drop(columns=[c for c in last.columns if c in {"loss", "subopt", "grad_norm",
                                                                  "time", "cost", "lr"}])
        runs = runs.assign(steps_taken=last["step"].to_numpy(), error=None).reset_index(drop=True)
        records = [{"environment": environment} if environment else {} for _ in range(len(runs))]
    return Results(data=data if data is not None else pd.DataFrame(), runs=runs, records=records)
