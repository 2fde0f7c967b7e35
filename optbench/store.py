"""Results store: one Parquet file per run, named by the run's spec hash.

Layout of a results directory::

    results/
      3f9c0a1b2c4d5e6f.parquet     the trace; the run's metadata rides in the
      ...                          Parquet key-value metadata under "optbench"

Keeping the metadata (spec, status, environment, start time) inside the file that
holds the trace makes a stored run one atomic unit: it is written to a temporary
file in the same directory and renamed into place, so a crash leaves either the
whole run or nothing (a stray ``.tmp`` file at worst, ignored and cleaned up).
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import secrets
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .cost import cost_column
from .spec import TRACE_FORMAT, RunSpec, format_value

META_KEY = b"optbench"
SUFFIX = ".parquet"


def run_path(results_dir: str | os.PathLike, run_id: str) -> Path:
    return Path(results_dir) / f"{run_id}{SUFFIX}"


#: A temporary file of :func:`replace_atomically` older than this (seconds) was left by
#: a writer that was killed: the next write of the same file removes it.
LEFTOVER_AGE = 60.0


def remove_leftovers(path: str | os.PathLike, older_than: float = LEFTOVER_AGE) -> int:
    """Delete the temporaries ``.NAME.<12 hex>.tmp`` of ``path`` that a killed writer
    left (older than ``older_than`` seconds: a live writer's is seconds old at most);
    returns how many."""
    path = Path(path)
    removed = 0
    now = time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        middle = tmp.name[len(path.name) + 2:-4]
        if len(middle) != 12 or any(c not in "0123456789abcdef" for c in middle):
            continue
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed += 1
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` to a new file beside ``path``, then rename it over ``path``; returns ``path``.

    Readers see the old file or the new one, never half of one; a failing ``write``
    leaves no temporary file.  The temporary name is random and ``write`` creates it
    (for example with ``open(tmp, "x")``), so the file gets the permissions of any
    file the user makes (``mkstemp``'s are private).  Used for reports and claim
    verdicts; :func:`write_run` also flushes to disk, which runs need.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_run(
    results_dir: str | os.PathLike,
    spec: RunSpec,
    trace: pd.DataFrame,
    *,
    status: str,
    meta: dict[str, Any],
) -> Path:
    """Store one run atomically; returns its path.  ``meta`` must be JSON data."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "format": TRACE_FORMAT,
        "run_id": spec.run_id(),
        "spec": spec.to_dict(),
        "status": status,
        **meta,
    }
    table = pa.Table.from_pandas(trace, preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(record, default=str).encode()
    table = table.replace_schema_metadata(schema_meta)
    final = run_path(directory, spec.run_id())
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's files are private; results follow the umask
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OSError(err.errno, f"cannot write {final}: {err.strerror or err}") from err
        raise
    return final


class CorruptRunFile(ValueError):
    """A run file that cannot be read (truncated, not Parquet, no optbench metadata)."""


class CorruptRunWarning(UserWarning):
    """``load``/``runs`` skipped a run file that cannot be read."""


class MixedEnvironmentWarning(UserWarning):
    """The runs of a results directory come from different versions or environments."""


def _record_of(metadata: dict | None, path: str | os.PathLike) -> dict[str, Any]:
    raw = (metadata or {}).get(META_KEY)
    if raw is None:
        raise CorruptRunFile(f"{path}: not an optbench run file (no optbench metadata)")
    try:
        record = json.loads(raw)
    except ValueError as err:
        raise CorruptRunFile(f"{path}: unreadable run metadata ({err})") from None
    if not isinstance(record, dict) or "spec" not in record or "status" not in record:
        raise CorruptRunFile(f"{path}: run metadata without spec or status")
    return record


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata record of one stored run (without reading its trace).

    Raises CorruptRunFile for a file that is truncated, not Parquet, or not a run.
    """
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise CorruptRunFile(f"{path}: corrupt or truncated run file ({err})") from None
    return _record_of(schema.metadata, path)


def _read_table(path: str | os.PathLike) -> tuple[pa.Table, dict[str, Any]]:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise CorruptRunFile(f"{path}: corrupt or truncated run file ({err})") from None
    return table, _record_of(table.schema.metadata, path)


def read_run(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The trace and metadata record of one stored run (CorruptRunFile if unreadable)."""
    table, record = _read_table(path)
    return table.to_pandas(), record


def remove_stale_temporaries(results_dir: str | os.PathLike, run_ids: Iterable[str]) -> int:
    """Delete temporaries a killed writer left for ``run_ids``; returns how many."""
    directory = Path(results_dir)
    removed = 0
    for rid in run_ids:
        for tmp in directory.glob(f".{rid}.*.tmp"):
            with contextlib.suppress(OSError):  # already gone, or not ours to remove
                tmp.unlink()
                removed += 1
    return removed


def run_files(results_dir: str | os.PathLike) -> list[Path]:
    directory = Path(results_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"results directory not found: {directory}")
    return sorted(directory.glob(f"*{SUFFIX}"))


def stored_records(results_dir: str | os.PathLike, *, statuses: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{run_id: metadata}`` of the runs stored in ``results_dir`` with one of ``statuses``
    (unreadable files are left out: they are not done, and are run again and replaced)."""
    directory = Path(results_dir)
    if not directory.is_dir():
        return {}
    wanted = set(statuses)
    found = {}
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            record = read_meta(path)
        except CorruptRunFile:
            continue
        if record.get("status") in wanted:
            found[path.stem] = record
    return found


def stored_ids(results_dir: str | os.PathLike, *, statuses: Iterable[str] | None = None) -> set[str]:
    """Run ids already stored in ``results_dir`` (optionally only with given statuses)."""
    directory = Path(results_dir)
    if not directory.is_dir():
        return set()
    if statuses is None:
        return {p.stem for p in directory.glob(f"*{SUFFIX}")}
    return set(stored_records(directory, statuses=statuses))


def _param_columns(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    cols = {}
    for key, value in params.items():
        if isinstance(value, (dict, list)):
            value = format_value(value)
        cols[f"{prefix}.{key}"] = value
    return cols


def _run_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The per-run columns ``load`` repeats on every row of a run."""
    spec = RunSpec.from_dict(record["spec"])
    return {
        "run_id": record["run_id"],
        "problem": spec.problem,
        "optimizer": spec.optimizer,
        "seed": spec.seed,
        "status": record["status"],
        "problem_label": spec.problem_label,
        "optimizer_label": spec.optimizer_label,
        # bytes of the optimizer's state (stepwise runs; NaN for whole-run solvers and errors)
        "state_bytes": record.get("state_bytes", math.nan),
        **_param_columns("problem", spec.problem_params),
        **_param_columns("optimizer", spec.optimizer_params),
        **(record.get("tags") or {}),
    }


def environment_key(env: dict[str, Any] | None, trace_format: Any = None) -> str:
    """A short text naming what can change a run's numbers: the optbench version and
    trace format, python, numpy, scipy and the BLAS (its library and version)."""
    env = env or {}
    blas = ",".join(sorted(
        f"{b.get('internal_api')} {b.get('version')}" for b in env.get("blas") or []
        if b.get("internal_api") not in (None, "openmp")
    ))
    parts = [f"optbench {env.get('optbench', '?')} (trace format {trace_format})",
             f"python {env.get('python', '?')}", f"numpy {env.get('numpy', '?')}",
             f"scipy {env.get('scipy', '?')}", f"BLAS {blas or '?'}"]
    return ", ".join(parts)


def runs(results_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per stored run, from the metadata alone (fast; failed runs included).

    Columns: those ``load`` repeats per run, plus ``steps_taken``, ``error`` (the
    message of a run that raised, else None), ``started`` and ``file``.
    """
    rows = []
    for path in run_files(results_dir):
        try:
            record = read_meta(path)
        except CorruptRunFile as err:
            warnings.warn(f"skipping {err}", CorruptRunWarning, stacklevel=2)
            continue
        rows.append({
            **_run_columns(record),
            "steps_taken": record.get("steps_taken"),
            "error": record.get("error"),
            "started": record.get("started"),
            "file": path.name,
        })
    return pd.DataFrame(rows)


def load(results_dir: str | os.PathLike) -> pd.DataFrame:
    """All runs of a results directory as one tidy long DataFrame.

    One row per recorded step of every run: the trace columns plus ``run_id``,
    ``problem``, ``optimizer``, ``seed`` (the run's seed), ``status``, ``cost`` (the
    oracle calls in gradient-equivalents, see :mod:`optbench.cost`), the labels
    ``problem_label`` / ``optimizer_label`` (``adam[lr=0.001]``) and the parameters
    as columns ``problem.<name>`` and ``optimizer.<name>`` (so ``problem.seed`` is
    the data seed), and the run's tags (``tune.round``...) where it has any.  A run
    that failed has no trace rows; :func:`runs` lists every run.

    The traces are read and concatenated as Arrow tables and converted once, and
    the per-run columns are repeated by index, so loading thousands of runs takes
    seconds, not minutes.
    """
    tables, per_run, lengths, models = [], [], [], []
    environments: dict[str, int] = {}
    for path in run_files(results_dir):
        try:
            table, record = _read_table(path)
        except CorruptRunFile as err:
            warnings.warn(f"skipping {err}", CorruptRunWarning, stacklevel=2)
            continue
        if record.get("environment"):  # a run lost with its worker records none
            key = environment_key(record.get("environment"), record.get("format"))
            environments[key] = environments.get(key, 0) + 1
        if table.num_rows == 0:
            continue
        tables.append(table.replace_schema_metadata(None))
        per_run.append(_run_columns(record))
        lengths.append(table.num_rows)
        models.append(record.get("cost_model")
                      or {"loss": np.nan, "grad": np.nan, "hess": np.nan, "hvp": np.nan})
    if not tables:
        return pd.DataFrame(
            columns=["run_id", "problem", "optimizer", "seed", "status", "step", "loss",
                     "subopt", "grad_norm", "n_loss", "n_grad", "n_hess", "n_hvp", "time", "lr",
                     "cost"]
        )
    if len(environments) > 1:
        listing = "; ".join(f"{n} runs: {key}" for key, n in sorted(environments.items()))
        warnings.warn(
            f"{results_dir} mixes results from {len(environments)} environments ({listing}); "
            "numbers from different versions or BLAS builds may differ",
            MixedEnvironmentWarning, stacklevel=2,
        )
    traces = pa.concat_tables(tables, promote_options="default").to_pandas()
    # runs stored before the n_hvp column made no Hessian-vector products
    traces["n_hvp"] = traces["n_hvp"].fillna(0).astype(np.int64) if "n_hvp" in traces else 0
    index = np.repeat(np.arange(len(per_run)), lengths)
    columns = pd.DataFrame(per_run).iloc[index].reset_index(drop=True)
    model = pd.DataFrame(models).iloc[index].reset_index(drop=True)
    traces["cost"] = cost_column(traces, model)
    return pd.concat([traces, columns], axis=1)
