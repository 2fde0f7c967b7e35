"""The shipped baseline bundle: the baselines' runs, so a submission is scored without them.

One Parquet file per ruleset, ``data/baselines_v1_<ruleset>.parquet``, written by
``scripts/score_baselines.py`` with every workload of the full protocol (the quick
protocol's workloads are a subset, with the same runs).  Its table holds every baseline run's
trimmed trace (``run_id, step, cost, value, time``: :func:`.time_to_target.trim`);
its metadata (key ``optbench-score``) holds the protocol version, the
ruleset, trials, studies and seed, the environment that made it, and per run its
method, workload, study, trial, status and spec (whose hash is the run id).

:func:`verify_bundle` re-runs every spec and checks ``step``, ``cost`` and ``value``
bit for bit (``time`` is the machine's).  Bits can only be asked of the same numerics:
where the bundle was made with another python, numpy, scipy or BLAS (library, version
or kernel: OpenBLAS picks its kernels by CPU, and an AVX-512 kernel rounds a dot
product differently from an AVX2 one), a run whose steps, costs and status are the
stored ones and whose values agree to :data:`ROUND_OFF` is ``round-off``, not a
mismatch (:func:`numerics_difference` names what differs).  :func:`bundle_hits` turns the traces into
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

from ..environment import environment
from ..spec import RunSpec
from ..store import environment_key, read_run, run_path
from ..study import run_study
from .protocol import PROTOCOL
from .time_to_target import TRIMMED, run_hit, trim
from .trials import PlannedRun
from .workloads import Workload, workload

#: The bundle's metadata key.
META_KEY = b"optbench-score"
#: The largest relative difference of a value, ``|a - b| / max(|a|, |b|)``, that a
#: rerun with other numerics than the bundle's may show and still be ``round-off``.
ROUND_OFF = 1e-12

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


def numerics_difference(bundle: Bundle) -> str | None:
    """``None`` where this process computes with the numerics that made ``bundle``
    (:func:`~optbench.store.environment_key`: python, numpy, scipy, BLAS library, version
    and kernel), else ``"made with <theirs>; here <ours>"``."""
    theirs = environment_key(bundle.meta.get("environment"))
    ours = environment_key(environment())
    return None if theirs == ours else f"made with {theirs}; here {ours}"


def reruns(bundle: Bundle, *, jobs: int = 1, executor: str = "serial",
           progress: Any = None) -> list[tuple[Any, str, pd.DataFrame | None, str | None]]:
    """Re-run every run of ``bundle`` here: per run ``(row, run_id, trace, status)``, the
    bundle's row, its spec's hash, and the trimmed trace and status of the rerun (both
    None where the spec no longer hashes to the row's run id)."""
    specs = [RunSpec.from_dict(s) for s in bundle.runs["spec"]]
    workload_of = {row.run_id: row.workload for row in bundle.runs.itertuples(index=False)}
    out: list[tuple[Any, str, pd.DataFrame | None, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="optbench-verify-") as tmp:
        run_study(specs, tmp, jobs=jobs, executor=executor, progress=progress)
        for spec, run in zip(specs, bundle.runs.itertuples(index=False)):
            rid = spec.run_id()
            if rid != run.run_id:
                out.append((run, rid, None, None))
                continue
            trace, record = read_run(run_path(tmp, rid))
            metric = workload(workload_of[run.run_id]).metric
            out.append((run, rid, trim(trace, record.get("cost_model"), metric), record["status"]))
    return out


def verify_bundle(bundle: Bundle, *, jobs: int = 1, executor: str = "serial",
                  progress: Any = None) -> pd.DataFrame:
    """Re-run every run of ``bundle``; rows ``run_id, method, workload, result, detail``.

    ``result`` is ``match`` (``step``, ``cost`` and ``value`` bit for bit), ``round-off``
    (only where :func:`numerics_difference` is not None: steps, costs and status the
    stored ones, values within :data:`ROUND_OFF` relative) or ``mismatch``."""
    by_run = dict(tuple(bundle.traces.groupby("run_id", sort=False)))
    exact = numerics_difference(bundle) is None
    rows = []
    for run, rid, fresh, status in reruns(bundle, jobs=jobs, executor=executor, progress=progress):
        result, detail = "mismatch", f"the spec hashes to {rid}, not {run.run_id}"
        if fresh is not None and status is not None:
            stored = by_run.get(run.run_id, pd.DataFrame(columns=list(TRIMMED)))
            result, detail = _difference(stored.reset_index(drop=True), fresh, status, run.status, exact)
        rows.append({"run_id": run.run_id, "method": run.method, "workload": run.workload,
                     "result": result, "detail": detail})
    return pd.DataFrame(rows, columns=["run_id", "method", "workload", "result", "detail"])


def _relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b| / max(|a|, |b|)`` elementwise; 0 where both are equal (inf and NaN
    included), inf where only one is NaN or infinite."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
    equal = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(equal, 0.0, np.where(np.isfinite(rel), rel, np.inf))


def _difference(stored: pd.DataFrame, fresh: pd.DataFrame, status: str, stored_status: str,
                exact: bool) -> tuple[str, str]:
    """``(result, detail)`` of one rerun against its stored trace (:func:`verify_bundle`)."""
    if status != stored_status:
        return "mismatch", f"status {status}, stored {stored_status}"
    if len(stored) != len(fresh):
        return "mismatch", f"{len(fresh)} recorded rows, stored {len(stored)}"
    for column in ("step", "cost", "value"):
        a = stored[column].to_numpy(dtype=float)
        b = fresh[column].to_numpy(dtype=float)
        same = (a.view(np.int64) == b.view(np.int64))
        if same.all():
            continue
        i = int(np.argmin(same))
        text = f"{column} differs first at row {i}: {b[i]!r}, stored {a[i]!r}"
        if exact or column != "value":
            return "mismatch", text
        largest = float(_relative_difference(a, b).max())
        if largest > ROUND_OFF:
            return "mismatch", f"{text}; by up to {largest:.1e} (relative)"
        return "round-off", f"{text}; by up to {largest:.1e} (relative)"
    return "match", ""
