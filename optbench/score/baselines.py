"""The shipped baseline bundle: the baselines' runs, so a submission is scored without them.

One Parquet file per ruleset, ``data/baselines_v1_<ruleset>.parquet``, written by
``scripts/score_baselines.py`` with every workload of the full protocol (the quick
protocol's workloads are a subset, with the same runs).  Its table holds every baseline run's
trimmed trace (``run_id, step, cost, value, time``: :func:`.time_to_target.trim`);
its metadata (key ``optbench-score``) holds the protocol version, the
ruleset, trials, studies and seed, the environment that made it, and per run its
method, workload, study, trial, status and spec (whose hash is the run id).

:func:`verify_bundle` re-runs every spec and checks ``step``, ``cost`` and ``value``
bit for bit (``time`` is the machine's); :func:`bundle_hits` turns the traces into
hits against the current targets.  A bundle is usable when its spec hashes are the
ones the current protocol would run (:func:`check_bundle`), so a changed workload,
target or baseline can never be scored against stale runs.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..spec import RunSpec
from ..store import read_run, run_path
from ..study import run_study
from .protocol import PROTOCOL
from .time_to_target import TRIMMED, run_hit, trim
from .trials import PlannedRun
from .workloads import Workload, workload

#: The bundle's metadata key.
META_KEY = b"optbench-score"

DATA = Path(__file__).resolve().parent / "data"


class BundleError(ValueError):
    """A bundle is missing, unreadable, or does not match the protocol."""


def bundle_path(ruleset: str) -> Path:
    """Where the shipped bundle of ``ruleset`` lives."""
    return DATA / f"baselines_v1_{ruleset}.parquet"


@dataclass(frozen=True)
class Bundle:
    """A bundle read back: its metadata, its runs (one row each) and their traces."""

    meta: dict[str, Any]
    runs: pd.DataFrame
    traces: pd.DataFrame


def stored_records(planned: Sequence[PlannedRun], results_dir: str | Path,
                   workloads: Sequence[Workload]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs of ``planned`` read from ``results_dir``: a runs table (method,
    workload, study, trial, run_id, status, spec) and their trimmed traces."""
    metric = {w.name: w.metric for w in workloads}
    rows, traces = [], []
    for p in planned:
        rid = p.spec.run_id()
        trace, record = read_run(run_path(results_dir, rid))
        rows.append({"method": p.method, "workload": p.workload, "study": p.study, "trial": p.trial,
                     "run_id": rid, "status": record["status"], "spec": p.spec.to_dict()})
        if len(trace):
            traces.append(trim(trace, record.get("cost_model"), metric[p.workload]).assign(run_id=rid))
    columns = ["run_id", *TRIMMED]
    table = pd.concat(traces, ignore_index=True)[columns] if traces else pd.DataFrame(columns=columns)
    return pd.DataFrame(rows), table


def write_bundle(path: str | Path, runs: pd.DataFrame, traces: pd.DataFrame, meta: dict[str, Any]) -> Path:
    """Write a bundle (runs in ``meta["runs"]``, traces as the table; ``time`` in float32:
    it is never compared, and it halves the file)."""
    record = {"protocol": PROTOCOL, **meta, "runs": runs.to_dict("records")}
    traces = traces.reset_index(drop=True).astype({"time": np.float32})
    table = pa.Table.from_pandas(traces, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: json.dumps(record, separators=(",", ":")).encode()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return path


def read_bundle(path: str | Path) -> Bundle:
    """Read a bundle (BundleError naming the file if it cannot be)."""
    if not Path(path).exists():
        raise BundleError(f"no baseline bundle at {path} (it ships with optbench: reinstall it, "
                          "or score with --rerun-baselines)")
    try:
        table = pq.read_table(path)
        record = json.loads(table.schema.metadata[META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException) as err:
        raise BundleError(f"{path}: not a readable baseline bundle ({err})") from None
    runs = pd.DataFrame(record.pop("runs"))
    return Bundle(record, runs, table.to_pandas())


def check_bundle(bundle: Bundle, planned: Iterable[PlannedRun]) -> None:
    """BundleError unless the bundle holds exactly the runs ``planned`` (by spec hash)."""
    want = {p.spec.run_id() for p in planned}
    have = set(bundle.runs["run_id"]) if len(bundle.runs) else set()
    if want - have:
        raise BundleError(
            f"the baseline bundle lacks {len(want - have)} of the {len(want)} runs this protocol "
            f"needs (made with other workloads, targets, seeds or code): score with --rerun-baselines")


def bundle_hits(bundle: Bundle, workloads: Sequence[Workload], ruleset: str,
                planned: Iterable[PlannedRun]) -> pd.DataFrame:
    """Hits (:func:`.time_to_target.run_hit`) of the bundle's runs that are ``planned``."""
    wanted = {p.spec.run_id() for p in planned}
    by_run = dict(tuple(bundle.traces.groupby("run_id", sort=False)))
    return hits_table(bundle.runs[bundle.runs["run_id"].isin(wanted)], by_run, workloads, ruleset)


def hits_table(runs: pd.DataFrame, traces: dict[str, pd.DataFrame], workloads: Sequence[Workload],
               ruleset: str) -> pd.DataFrame:
    """One row per run: method, workload, study, trial, cost, seconds, status, run_id."""
    from .protocol import budget_factor

    info = {w.name: w for w in workloads}
    rows = []
    for run in runs.itertuples(index=False):
        w = info[run.workload]
        trimmed = traces.get(run.run_id, pd.DataFrame(columns=list(TRIMMED)))
        cost, seconds = run_hit(trimmed, w.target, w.budget * budget_factor(ruleset), run.status)
        rows.append({"method": run.method, "workload": run.workload, "study": int(run.study),
                     "trial": int(run.trial), "cost": cost, "seconds": seconds,
                     "status": run.status, "run_id": run.run_id})
    return pd.DataFrame(rows, columns=["method", "workload", "study", "trial", "cost", "seconds",
                                       "status", "run_id"])


def verify_bundle(bundle: Bundle, *, jobs: int = 1, executor: str = "serial",
                  progress: Any = None) -> pd.DataFrame:
    """Re-run every run of ``bundle``; rows ``run_id, method, workload, result, detail``
    with result ``match`` or ``mismatch`` (``step``, ``cost``, ``value``, bit for bit)."""
    specs = [RunSpec.from_dict(s) for s in bundle.runs["spec"]]
    by_run = dict(tuple(bundle.traces.groupby("run_id", sort=False)))
    workload_of = {row.run_id: row.workload for row in bundle.runs.itertuples(index=False)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="optbench-verify-") as tmp:
        run_study(specs, tmp, jobs=jobs, executor=executor, progress=progress)
        for spec, run in zip(specs, bundle.runs.itertuples(index=False)):
            rid = spec.run_id()
            detail = "" if rid == run.run_id else f"the spec hashes to {rid}, not {run.run_id}"
            trace, record = read_run(run_path(tmp, rid))
            fresh = trim(trace, record.get("cost_model"), workload(workload_of[run.run_id]).metric)
            stored = by_run.get(run.run_id, pd.DataFrame(columns=list(TRIMMED)))
            detail = detail or _difference(stored.reset_index(drop=True), fresh, record["status"], run.status)
            rows.append({"run_id": run.run_id, "method": run.method, "workload": run.workload,
                         "result": "mismatch" if detail else "match", "detail": detail})
    return pd.DataFrame(rows, columns=["run_id", "method", "workload", "result", "detail"])


def _difference(stored: pd.DataFrame, fresh: pd.DataFrame, status: str, stored_status: str) -> str:
    if status != stored_status:
        return f"status {status}, stored {stored_status}"
    if len(stored) != len(fresh):
        return f"{len(fresh)} recorded rows, stored {len(stored)}"
    for column in ("step", "cost", "value"):
        a = stored[column].to_numpy(dtype=float)
        b = fresh[column].to_numpy(dtype=float)
        same = (a.view(np.int64) == b.view(np.int64))
        if not same.all():
            i = int(np.argmin(same))
            return f"{column} differs first at row {i}: {b[i]!r}, stored {a[i]!r}"
    return ""
