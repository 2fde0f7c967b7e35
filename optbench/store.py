"""Results store: one Parquet file per run, named by the run's spec hash.

Layout of a results directory::

    results/
      3f9c0a1b2c4d5e6f.parquet     the trace; the run's metadata rides in the
      ...                          Parquet key-value metadata under "optbench"
      .optbench-index              caches of what the run files hold, so that a
      .optbench-traces             study and ``load`` need not open every file
                                   (:mod:`optbench.store_index`; never the truth)

Keeping the metadata (spec, status, environment, start time) inside the file that
holds the trace makes a stored run one atomic unit: it is written to a temporary
file in the same directory and renamed into place, so a crash leaves either the
whole run or nothing (a stray ``.tmp`` file at worst, ignored and cleaned up).  The
metadata also holds a sha256 :func:`checksum` of the run's whole content (every trace
value and the rest of the metadata), so a file damaged later (flipped bytes in a data
page, not only a truncated one) is found when it is read whole, named in a warning,
left out, and run again.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import inspect
import json
import math
import os
import secrets
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .cost import cost_column
from .runner import FULL_BATCH
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


def _write_error(err: OSError, path: Path) -> OSError:
    """``err`` (same errno: a full disk stays ENOSPC) with a message naming ``path``."""
    return OSError(err.errno, f"cannot write {path}: {err.strerror or err}")


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
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and str(path) not in str(err):
            raise _write_error(err, path) from err
        raise
    return path


def trace_table(trace: pd.DataFrame) -> pa.Table:
    """The trace as an Arrow table, column by column from its numpy arrays (a run's
    trace is numeric columns and a default index, which is not stored)."""
    names, arrays = [], []
    for name, column in trace.items():
        names.append(str(name))
        values = column.to_numpy()
        arrays.append(pa.array(values, from_pandas=values.dtype == object))
    return pa.Table.from_arrays(arrays, names=names)


def _column_bytes(column: pa.ChunkedArray) -> bytes:
    values = column.to_numpy(zero_copy_only=False)
    if values.dtype == object:  # text columns: their values, not the pointers
        return json.dumps(values.tolist(), default=str).encode()
    return np.ascontiguousarray(values).tobytes()


def checksum(table: pa.Table, record: dict[str, Any]) -> str:
    """sha256 (hex) of a run's whole content: each trace column's name, type and values
    (as numpy bytes, so the same numbers give the same digest however Parquet encoded
    them) and the metadata ``record`` without its own ``checksum``, as canonical JSON.

    Stored in the record by :func:`write_run`; a file whose content no longer gives it
    (flipped bytes in a data page or in the metadata) is damaged."""
    digest = hashlib.sha256()
    for name, column in zip(table.column_names, table.columns):
        digest.update(f"{name}:{column.type}:{len(column)}\n".encode())
        digest.update(_column_bytes(column))
    rest = {k: v for k, v in record.items() if k != "checksum"}
    digest.update(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


@dataclass
class EncodedRun:
    """A run ready to store: its trace table, metadata record (with its checksum) and
    the bytes of its Parquet file.  A study's workers make it (:func:`encode_run`), so
    that the process that stores runs only writes bytes."""

    run_id: str
    table: pa.Table
    record: dict[str, Any]
    data: bytes

    @property
    def status(self) -> str:
        return str(self.record["status"])


def encode_record(table: pa.Table, record: dict[str, Any]) -> EncodedRun:
    """The Parquet file of a run: ``table`` with ``record`` (JSON data, given its
    :func:`checksum` here) in the key-value metadata."""
    record = json.loads(json.dumps(record, default=str))  # as it will be read back
    record["checksum"] = checksum(table, record)
    table = table.replace_schema_metadata({META_KEY: json.dumps(record).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return EncodedRun(str(record["run_id"]), table.replace_schema_metadata(None), record,
                      sink.getvalue().to_pybytes())


def encode_run(spec: RunSpec, trace: pd.DataFrame | pa.Table, *, status: str,
               meta: dict[str, Any]) -> EncodedRun:
    """:func:`encode_record` of a run's spec, status and ``meta`` (JSON data)."""
    record = {"format": TRACE_FORMAT, "run_id": spec.run_id(), "spec": spec.to_dict(),
              "status": status, **meta}
    return encode_record(trace if isinstance(trace, pa.Table) else trace_table(trace), record)


def write_encoded(results_dir: str | os.PathLike, run: EncodedRun, *, sync: bool = True) -> Path:
    """Store an encoded run atomically; returns its path.

    The bytes go to a new temporary file beside the run's (created with the user's
    umask, like any file they make), which is renamed into place.  With ``sync`` the
    file is flushed to disk before the rename; a study writes with ``sync=False`` and
    flushes its runs in batches (:mod:`optbench.durable`): a killed process loses
    nothing either way (the kernel holds what was written), a power cut may lose the
    runs of the last batch, and a file it damaged fails its checksum and is re-run."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = run_path(directory, run.run_id)
    tmp = directory / f".{final.stem}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(run.data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _write_error(err, final) from err
        raise
    return final


def write_run(results_dir: str | os.PathLike, spec: RunSpec, trace: pd.DataFrame | pa.Table, *,
              status: str, meta: dict[str, Any], sync: bool = True) -> Path:
    """Store one run atomically; returns its path.  ``meta`` must be JSON data; the
    record gets the run's :func:`checksum` (see :func:`write_encoded`)."""
    return write_encoded(results_dir, encode_run(spec, trace, status=status, meta=meta), sync=sync)


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
    try:
        spec = RunSpec.from_dict(record["spec"])
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CorruptRunFile(f"{path}: malformed run spec ({type(err).__name__}: {err})") from None
    if record.get("format") == TRACE_FORMAT and spec.run_id() != Path(path).stem:
        raise CorruptRunFile(f"{path}: its spec is not the spec of run {Path(path).stem}")
    return record


def check_whole(table: pa.Table, record: dict[str, Any], path: str | os.PathLike) -> None:
    """CorruptRunFile unless the run's content gives the :func:`checksum` its record
    holds (runs stored before checksums, which hold none, pass)."""
    stored = record.get("checksum")
    if stored is not None and stored != checksum(table.replace_schema_metadata(None), record):
        raise CorruptRunFile(f"{path}: damaged run file (its content does not match its checksum)")


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata record of one stored run (without reading its trace).

    Raises CorruptRunFile for a file that is truncated, not Parquet, or not a run.
    """
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise CorruptRunFile(f"{path}: corrupt or truncated run file ({err})") from None
    return _record_of(schema.metadata, path)


def read_whole(path: str | os.PathLike) -> tuple[pa.Table, dict[str, Any]]:
    """The trace table and record of a stored run, checked whole (:func:`check_whole`)."""
    try:
        table = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException) as err:
        raise CorruptRunFile(f"{path}: corrupt or truncated run file ({err})") from None
    record = _record_of(table.schema.metadata, path)
    check_whole(table, record, path)
    return table, record


def read_run(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The trace and metadata record of one stored run (CorruptRunFile if unreadable)."""
    table, record = read_whole(path)
    return table.to_pandas(), record


def remove_stale_temporaries(results_dir: str | os.PathLike, run_ids: Iterable[str]) -> int:
    """Delete temporaries ``.RUN_ID.*.tmp`` a killed writer left for ``run_ids`` (one
    listing of the directory); returns how many."""
    directory = Path(results_dir)
    wanted = set(run_ids)
    if not wanted or not directory.is_dir():
        return 0
    removed = 0
    with os.scandir(directory) as found:
        for item in found:
            name = item.name
            if name.startswith(".") and name.endswith(".tmp") and name[1:].split(".", 1)[0] in wanted:
                with contextlib.suppress(OSError):  # already gone, or not ours to remove
                    os.unlink(item.path)
                    removed += 1
    return removed


def _check_directory(results_dir: str | os.PathLike) -> None:
    if not Path(results_dir).is_dir():
        raise FileNotFoundError(f"results directory not found: {results_dir}")


def run_files(results_dir: str | os.PathLike) -> list[Path]:
    """The run files of ``results_dir``, sorted by name (FileNotFoundError if it is missing)."""
    _check_directory(results_dir)
    directory = Path(results_dir)
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if not p.name.startswith("."))


def stored_records(results_dir: str | os.PathLike, *, statuses: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{run_id: {"status", "code"}}`` of the whole runs stored in ``results_dir`` with
    one of ``statuses``, from the directory's index (:mod:`optbench.store_index`): a
    file that is new or changed since it was indexed is read whole and checked, and
    one that fails is left out with a warning (it is not done: it is run again)."""
    from . import store_index

    wanted = set(statuses)
    entries = store_index.refresh(results_dir)
    return {rid: {"status": e.status, "code": e.code} for rid, e in entries.items() if e.status in wanted}


def records(results_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``{run_id: metadata record}`` of every whole run stored in ``results_dir``, in
    run-id order, from the directory's index (files new or changed since they were
    indexed are read whole and checked; a damaged one is named in a
    CorruptRunWarning and left out)."""
    from . import store_index

    return {rid: entry.record for rid, entry in store_index.refresh(results_dir).items()}


def stored_ids(results_dir: str | os.PathLike, *, statuses: Iterable[str] | None = None) -> set[str]:
    """Run ids already stored in ``results_dir`` (optionally only with given statuses)."""
    directory = Path(results_dir)
    if not directory.is_dir():
        return set()
    if statuses is None:
        return {p.stem for p in run_files(directory)}
    return set(stored_records(directory, statuses=statuses))


def _param_columns(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    cols = {}
    for key, value in params.items():
        if isinstance(value, (dict, list)):
            value = format_value(value)
        cols[f"{prefix}.{key}"] = value
    return cols


@functools.lru_cache(maxsize=None)
def _problem_defaults(name: str) -> dict[str, Any]:
    """The defaults of the registered problem family ``name``'s parameters (``{}`` for
    a family not registered in this process, or without a signature)."""
    import problems

    try:
        parameters = inspect.signature(problems.factory(name)).parameters.values()
    except (ValueError, TypeError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


@functools.lru_cache(maxsize=None)
def _whole_run_solver(name: str) -> bool:
    """Whether the optimizer registered as ``name`` is a whole-run solver (a class with
    ``minimize`` and no ``step``); False for a name not registered in this process."""
    import optimizers

    if name not in optimizers.names():  # bridged and plugin names are not looked up
        return False
    factory = optimizers.factory(name)
    return hasattr(factory, "minimize") and not hasattr(factory, "step")


def stored_oracle(record: dict[str, Any]) -> str:
    """What the method of a stored run saw: its record's ``oracle`` (``meta["oracle"]``
    of :func:`optbench.run`: ``"full batch"``, ``"minibatch"``, ``"noisy"`` or
    ``"stochastic"``), where it stored one.

    A run stored before runs recorded it is given the oracle its spec implies:
    ``"full batch"`` for a whole-run solver (the record has a ``solver`` summary, or the
    optimizer is registered here as a class with ``minimize`` and no ``step``);
    otherwise, from the problem's parameters, completed with the defaults of its family
    where that family is registered here: ``"noisy"`` when ``noise > 0``,
    ``"minibatch"`` when ``batch_size`` is set (and not ``>= n_samples``), else ``"full
    batch"``.  Limits: that is the built-in families' meaning of ``noise`` and
    ``batch_size``, not necessarily a plugin family's (nor is a plugin family's
    ``"stochastic"`` recovered); a ``batch_size`` of at least the training rows, which
    the spec alone does not show (a dataset's size, an MLP's validation split), is
    full batch but is given ``"minibatch"``; and a plugin family or optimizer not
    imported in this process has no defaults to complete the spec with (a family whose
    ``batch_size`` defaults to a minibatch, left out of the spec, then reads as full
    batch).
    """
    oracle = record.get("oracle")
    if isinstance(oracle, str):
        return oracle
    spec = record["spec"]
    if "solver" in record or _whole_run_solver(str(spec.get("optimizer"))):
        return FULL_BATCH
    params = {**_problem_defaults(str(spec.get("problem"))), **(spec.get("problem_params") or {})}

    def number(key: str) -> float | None:
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    noise = number("noise")
    if noise is not None and noise > 0:
        return "noisy"
    batch, rows = number("batch_size"), number("n_samples")
    if batch is not None and (rows is None or batch < rows):
        return "minibatch"
    return FULL_BATCH


def _run_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The per-run columns ``load`` repeats on every row of a run.

    ``oracle`` is what the run's method saw (:func:`stored_oracle`): ``"full batch"``,
    ``"minibatch"``, ``"noisy"`` or ``"stochastic"``."""
    spec = RunSpec.from_dict(record["spec"])
    return {
        "run_id": record["run_id"],
        "problem": spec.problem,
        "optimizer": spec.optimizer,
        "seed": spec.seed,
        "status": record["status"],
        "problem_label": spec.problem_label,
        "optimizer_label": spec.optimizer_label,
        "oracle": stored_oracle(record),
        # bytes of the optimizer's state (stepwise runs; NaN for whole-run solvers and errors)
        "state_bytes": record.get("state_bytes", math.nan),
        **_param_columns("problem", spec.problem_params),
        **_param_columns("optimizer", spec.optimizer_params),
        **(record.get("tags") or {}),
    }


def environment_key(env: dict[str, Any] | None, trace_format: Any = None) -> str:
    """A short text naming what can change a run's numbers: the optbench version and
    trace format, python, numpy, scipy and the BLAS (its library, version and kernel
    architecture: OpenBLAS picks its kernels by CPU, and they round differently)."""
    env = env or {}
    blas = ",".join(sorted(
        f"{b.get('internal_api')} {b.get('version')}"
        + (f" ({b['architecture']})" if b.get("architecture") else "")
        for b in env.get("blas") or [] if b.get("internal_api") not in (None, "openmp")
    ))
    parts = [f"optbench {env.get('optbench', '?')} (trace format {trace_format})",
             f"python {env.get('python', '?')}", f"numpy {env.get('numpy', '?')}",
             f"scipy {env.get('scipy', '?')}", f"BLAS {blas or '?'}"]
    return ", ".join(parts)


def runs(results_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per stored run, from the metadata alone (fast; failed runs included).

    Columns: those ``load`` repeats per run, plus ``steps_taken``, ``error`` (the
    message of a run that raised, else None), ``started`` and ``file``.  A damaged
    file is named in a CorruptRunWarning and left out.
    """
    from . import store_index

    _check_directory(results_dir)
    rows = []
    for rid, entry in store_index.refresh(results_dir).items():
        record = entry.record
        rows.append({
            **_run_columns(record),
            "steps_taken": record.get("steps_taken"),
            "error": record.get("error"),
            "started": record.get("started"),
            "file": f"{rid}{SUFFIX}",
        })
    return pd.DataFrame(rows)


def load(results_dir: str | os.PathLike) -> pd.DataFrame:
    """All runs of a results directory as one tidy long DataFrame.

    One row per recorded step of every run: the trace columns plus ``run_id``,
    ``problem``, ``optimizer``, ``seed`` (the run's seed), ``status``, ``cost`` (the
    oracle calls in gradient-equivalents, see :mod:`optbench.cost`), the labels
    ``problem_label`` / ``optimizer_label`` (``adam[lr=0.001]``) and the parameters
    as columns ``problem.<name>`` and ``optimizer.<name>`` (so ``problem.seed`` is
    the data seed), ``oracle`` (what the method saw: ``"full batch"``, ``"minibatch"``,
    ``"noisy"`` or ``"stochastic"``; derived from the spec for runs stored before it
    was recorded, see :func:`stored_oracle`), ``state_bytes``, and the run's tags
    (``tune.round``...) where it has any.  A run
    that failed has no trace rows; :func:`runs` lists every run.  Runs come in the
    order of their ids, each run's rows in step order.

    The traces of runs read before come from the directory's traces cache (one file,
    :mod:`optbench.store_index`); only files that are new or changed are opened (and
    checked whole), and the cache is then renewed.  The per-run columns are repeated
    by index, so ten thousand runs load in about a second.
    """
    from . import store_index

    _check_directory(results_dir)
    directory = Path(results_dir)
    read: dict[str, pa.Table] = {}
    entries = store_index.refresh(directory, read=read)
    cached, valid = store_index.cached_traces(directory, entries)
    parts = [cached] if cached is not None else []
    for rid in [r for r in entries if r not in valid]:
        try:
            table = read[rid] if rid in read else read_whole(run_path(directory, rid))[0]
        except CorruptRunFile as err:  # replaced or removed since it was indexed
            warnings.warn(f"skipping {err}", CorruptRunWarning, stacklevel=2)
            del entries[rid]
            continue
        parts.append(store_index.with_run_id(table, rid))
    combined = store_index.sorted_by_run(parts)
    if combined is not None and len(valid) < len(entries):
        store_index.write_traces(directory, combined, entries)
    records = {rid: entry.record for rid, entry in entries.items()}
    _warn_mixed(results_dir, records.values())
    if combined is None or combined.num_rows == 0:
        return pd.DataFrame(columns=["run_id", "problem", "optimizer", "seed", "status", "oracle",
                                     *_EMPTY_TRACE])
    ids, lengths = np.unique(combined["run_id"].to_numpy(zero_copy_only=False), return_counts=True)
    traces = combined.drop_columns(["run_id"]).to_pandas()
    # runs stored before the n_hvp column made no Hessian-vector products
    traces["n_hvp"] = traces["n_hvp"].fillna(0).astype(np.int64) if "n_hvp" in traces else 0
    index = np.repeat(np.arange(len(ids)), lengths)
    columns = pd.DataFrame([_run_columns(records[rid]) for rid in ids]).iloc[index].reset_index(drop=True)
    models = [records[rid].get("cost_model") or {"loss": np.nan, "grad": np.nan, "hess": np.nan,
                                                 "hvp": np.nan} for rid in ids]
    model = pd.DataFrame(models).iloc[index].reset_index(drop=True)
    traces["cost"] = cost_column(traces, model)
    return pd.concat([traces, columns], axis=1)


_EMPTY_TRACE = ["step", "loss", "subopt", "grad_norm", "n_loss", "n_grad", "n_hess", "n_hvp", "time",
                "lr", "cost"]


def _warn_mixed(results_dir: str | os.PathLike, records: Iterable[dict[str, Any]]) -> None:
    """MixedEnvironmentWarning when the runs come from more than one environment."""
    environments: dict[str, int] = {}
    for record in records:
        if record.get("environment"):  # a run lost with its worker records none
            key = environment_key(record.get("environment"), record.get("format"))
            environments[key] = environments.get(key, 0) + 1
    if len(environments) > 1:
        listing = "; ".join(f"{n} runs: {key}" for key, n in sorted(environments.items()))
        warnings.warn(
            f"{results_dir} mixes results from {len(environments)} environments ({listing}); "
            "numbers from different versions or BLAS builds may differ",
            MixedEnvironmentWarning, stacklevel=3,
        )
