"""Run a list of RunSpecs into a results directory: serially, on a pool of local
processes, or on a dask.distributed cluster.

Workers only compute: each returns the run, encoded as the file that stores it, to
the client (this process), which writes it to the store the moment it arrives.  So
workers need no shared file system, a finished run is on disk as soon as it is
back, killing a study loses at most the runs in flight, and re-running it skips
every run already stored.  A run that raises, or a worker that dies, is stored with
status ``error`` and its message; the study goes on.

Local worker processes
----------------------
On Linux the pool's workers are forked from multiprocessing's fork server, which
imports the harness and loads the compiled optimizer kernels once per client
process (:mod:`optbench.worker_preload`), so that a worker starts warm in
milliseconds instead of paying the ~1.5 s of imports and kernel loading that a
spawned interpreter pays; elsewhere workers are spawned.  The fork server is started
with ``OMP_NUM_THREADS=1`` (and the OpenBLAS, MKL, Accelerate and numexpr
equivalents) and without pyarrow's jemalloc background thread, so that it has a
single thread when it forks and its workers never start BLAS thread pools; each
worker also holds ``threadpoolctl``'s one-thread limit for its whole life (set once,
in its initializer), which covers libraries loaded later.  Runs are one-threaded
either way (:func:`optbench.run` limits BLAS itself), so the results are those of a
serial run, bit for bit.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import traceback
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pandas as pd
import pyarrow as pa

from .build import execute
from . import store_index
from .code_identity import fingerprint, stale_because
from .durable import BatchFlush
from .environment import environment
from .parent_watch import exit_with
from .plugins import import_plugins, provenance
from .progress import Progress, ProgressReporter
from .runner import TRACE_COLUMNS
from .spec import RunSpec
from .store import (EncodedRun, encode_record, encode_run, remove_stale_temporaries, stored_records,
                    write_encoded)
from .store_index import Key, file_key

#: Statuses of a stored run that count as done (an ``error`` run is tried again).
DONE_STATUSES = ("converged", "max_steps", "diverged")

EXECUTORS = ("serial", "process", "dask")

#: Environment of the fork server and of spawned workers, set before numpy and
#: pyarrow are imported there: one thread for every BLAS/OpenMP library, and no
#: background thread for pyarrow's jemalloc (unless the user configured jemalloc), so
#: that the fork server has a single thread when it forks.
WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
JEMALLOC_ENVIRONMENT = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}

#: What the fork server imports once, so that forked workers start with it loaded.
FORKSERVER_PRELOAD = ("optbench.worker_preload",)


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


def _error_record(error: str, detail: str) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    trace = pd.DataFrame({col: pd.Series(dtype="float64") for col in TRACE_COLUMNS})
    return trace, "error", {"error": error, "traceback": detail}


#: What comes back for a run: encoded by a worker, or ``(trace, status, meta)`` of a
#: run whose worker died, made by the client.
Computed = EncodedRun | tuple


def _execute(spec: RunSpec, plugins: tuple[str, ...]) -> tuple[Any, str, dict[str, Any]]:
    """``(trace, status, meta)`` of one run; a run that raises is status ``error``."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        import_plugins(plugins)
        result = execute(spec)
        trace, status, meta = pa.table(result.trace_columns), result.status, dict(result.meta)
        meta["code"] = fingerprint(spec)
    except Exception as exc:  # a failing run is a result too; the study goes on
        trace, status, meta = _error_record(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    meta.update(environment=environment(), started=started, plugins=provenance(plugins))
    return trace, status, meta


def compute(spec_data: dict, plugins: tuple[str, ...] = ()) -> EncodedRun:
    """Run one spec (plain data) and return it encoded, ready to store
    (:func:`optbench.store.encode_run`: the trace table, the record and the file's
    bytes); no I/O.

    This is what a worker executes, after importing the user's ``plugins``, so the
    workers, not the process that stores the runs, pay for building the files.  A run
    that raises comes back as status ``error`` with its message and traceback.
    """
    spec = RunSpec.from_dict(spec_data)
    trace, status, meta = _execute(spec, plugins)
    return encode_run(spec, trace, status=status, meta=meta)


def _store(results_dir: str, spec: RunSpec, run: Computed, tags: dict[str, Any] | None,
           stored: StoredRuns | None = None) -> Outcome:
    """Write one computed run (flushed to disk now, or by ``stored``'s batches).  ``run``
    is what a worker made, or ``(trace, status, meta)`` made here (a worker that
    died); a run with ``tags`` is encoded again with them."""
    if isinstance(run, tuple):
        trace, status, meta = run
        run = encode_run(spec, trace, status=status, meta=meta)
    if tags:
        run = encode_record(run.table, {**run.record, "tags": tags})
    path = write_encoded(results_dir, run, sync=stored is None)
    if stored is not None:
        stored.add(path, run.record, run.table)
    return Outcome(spec.run_id(), spec.problem_label, spec.optimizer_label, spec.seed, run.status,
                   run.record.get("error"))


def run_and_store(spec_data: dict, results_dir: str, tags: dict[str, Any] | None = None) -> Outcome:
    """Execute one spec and store it (also a failed one, with status ``error``)."""
    return _store(results_dir, RunSpec.from_dict(spec_data), compute(spec_data), tags)


class StoredRuns:
    """What a study has stored: its files go to disk in batches (:mod:`optbench.durable`)
    and into the directory's index and traces cache (:mod:`optbench.store_index`)
    without being read back, every ``index_every`` runs and when the study ends (an
    interrupted one too).  Traces are kept for the cache up to ``keep_rows`` rows in
    all; past that, ``load`` reads the files the cache lacks."""

    def __init__(self, results_dir: str, index_every: int = 5000, keep_rows: int = 2_000_000) -> None:
        self.results_dir = results_dir
        self.index_every = index_every
        self.keep_rows = keep_rows
        self.flush = BatchFlush()
        self.written: list[tuple[str, Key, dict[str, Any]]] = []
        self.traces: dict[str, pa.Table] | None = {}
        self.rows = 0

    def add(self, path: Path, record: dict[str, Any], trace: pa.Table) -> None:
        self.flush.add(path)
        self.written.append((path.stem, file_key(path), record))
        self.rows += trace.num_rows
        if self.traces is not None:
            self.traces[path.stem] = trace
            if self.rows > self.keep_rows:
                self.traces = None
        if len(self.written) >= self.index_every:
            self._index()

    def _index(self) -> None:
        written, self.written = self.written, []
        if written:
            store_index.add(self.results_dir, written)
        if self.traces:
            store_index.add_traces(self.results_dir, self.traces)
            self.traces = {}

    def close(self) -> None:
        try:
            self.flush.close()
        finally:
            self._index()


@dataclass
class Plan:
    """What a study will do with its specs: ``todo`` (to run, ``stale`` ones included),
    ``skipped`` (stored and made by the current code) and ``stale``, why stored runs
    run again (``{"optimizer lion code changed": 45}``)."""

    todo: list[RunSpec]
    skipped: list[RunSpec]
    stale: dict[str, int]

    def describe_stale(self) -> str:
        """``"45 re-run: optimizer lion code changed"``, or "" when nothing is stale."""
        if not self.stale:
            return ""
        total = sum(self.stale.values())
        return f"{total} re-run: " + "; ".join(f"{why} ({n})" if len(self.stale) > 1 else why
                                               for why, n in self.stale.items())


def plan(specs: Iterable[RunSpec], results_dir: str | os.PathLike) -> Plan:
    """Split ``specs`` (repeats dropped) into those to run and those already stored.

    A stored run counts as done when its status is one of :data:`DONE_STATUSES` and it
    was made by the current code (:mod:`optbench.code_identity`); one made by other
    code is run again and counted in ``stale`` with the reason."""
    done = stored_records(results_dir, statuses=DONE_STATUSES)
    result = Plan([], [], {})
    seen: set[str] = set()
    for spec in specs:
        rid = spec.run_id()
        if rid in seen:
            continue
        seen.add(rid)
        if rid not in done:
            result.todo.append(spec)
            continue
        why = stale_because(done[rid].get("code"), spec)
        if why is None:
            result.skipped.append(spec)
        else:
            result.stale[why] = result.stale.get(why, 0) + 1
            result.todo.append(spec)
    return result


def pending(specs: Iterable[RunSpec], results_dir: str | os.PathLike) -> tuple[list[RunSpec], list[RunSpec]]:
    """``(to run, already stored)``: :func:`plan` without the reasons."""
    found = plan(specs, results_dir)
    return found.todo, found.skipped


def run_study(
    specs: list[RunSpec],
    results_dir: str | os.PathLike,
    *,
    jobs: int = 1,
    executor: str = "serial",
    progress: ProgressReporter | None = None,
    tags: Mapping[str, dict[str, Any]] | None = None,
    scheduler: str | None = None,
    plugins: Iterable[str] = (),
    planned: Plan | None = None,
) -> list[Outcome]:
    """Run every spec not yet stored in ``results_dir``; returns one Outcome per spec.

    Parameters
    ----------
    executor
        ``"serial"`` (this process), ``"process"`` (a pool of ``jobs`` local
        processes, forked from a warm fork server on Linux and spawned elsewhere: see
        the module's docstring) or ``"dask"`` (dask.distributed: the cluster at
        ``scheduler``, or a LocalCluster of ``jobs`` single-threaded worker processes
        started here, forked from the same fork server).
    tags
        Extra labels per run id (``{"tune.round": 1, ...}``), stored in the run's
        metadata and shown by ``optbench.load`` as columns.
    plugins
        Modules every worker imports first (user problems and optimizers register
        themselves there); nothing else is ever imported by name.
    planned
        What :func:`plan` said of these ``specs`` and ``results_dir`` just before (a
        caller that showed it), so that it is not worked out twice.

    Raises OSError naming the directory, before any run, when results cannot be
    written there.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is for the dask executor, not {executor!r}")
    out = str(results_dir)
    check_writable(out)
    plugins = tuple(plugins)
    import_plugins(plugins)
    tags = tags or {}
    context = None
    if executor == "process" and jobs > 1 and len(specs) > 1:
        # started now, the fork server imports while the stored runs are listed
        context = pool_context(plugins)
    found = planned if planned is not None else plan(specs, out)
    todo, skipped = found.todo, found.skipped
    remove_stale_temporaries(out, [s.run_id() for s in todo])
    outcomes = [
        Outcome(s.run_id(), s.problem_label, s.optimizer_label, s.seed, "skipped") for s in skipped
    ]
    if progress is None:
        progress = Progress(len(todo), quiet=True)

    stored = StoredRuns(out)

    def finish(spec: RunSpec, record: Computed) -> None:
        outcome = _store(out, spec, record, tags.get(spec.run_id()), stored)
        outcomes.append(outcome)
        progress.update(outcome.describe(), failed=outcome.status == "error")

    try:
        if executor == "dask":
            _run_dask(todo, jobs, scheduler, finish, plugins)
        elif executor == "serial" or jobs == 1 or len(todo) <= 1:
            for spec in todo:
                finish(spec, compute(spec.to_dict(), plugins))
        else:
            _run_pool(todo, jobs, finish, plugins, context or pool_context(plugins))
    finally:
        stored.close()
        progress.close()
    return outcomes


def check_writable(results_dir: str | os.PathLike) -> None:
    """Create ``results_dir`` and write and remove a probe file in it, or raise an
    OSError that names the directory (before anything is computed)."""
    directory = Path(results_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OSError(err.errno, f"cannot write results to {directory}: {reason}") from None


def _worker_died(exc: BaseException) -> tuple:
    return _error_record(f"worker process died: {type(exc).__name__}: {exc}", repr(exc))


@contextmanager
def worker_environment() -> Iterator[None]:
    """Set :data:`WORKER_ENVIRONMENT` (and :data:`JEMALLOC_ENVIRONMENT` where the user
    has not set it) in ``os.environ`` for the block, so that the processes started in
    it never start BLAS, OpenMP or allocator threads; then restore ``os.environ``."""
    wanted = dict(WORKER_ENVIRONMENT)
    wanted.update({k: v for k, v in JEMALLOC_ENVIRONMENT.items() if k not in os.environ})
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pool_context(plugins: Iterable[str] = (), preload: Iterable[str] = FORKSERVER_PRELOAD) -> BaseContext:
    """The multiprocessing context of the local pool: the fork server on Linux, else spawn.

    The fork server is started here if it is not running, in
    :func:`worker_environment`, preloading the modules ``preload`` and ``plugins``
    (it imports them once; a server that is already running keeps what it loaded,
    and each worker imports what it lacks).  Fork servers are not used on
    macOS, where forking a process that has loaded the system's frameworks is unsafe.
    """
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([*preload, *plugins])
        with worker_environment():
            forkserver.ensure_running()
        return context
    return multiprocessing.get_context("spawn")


def start_worker(plugins: tuple[str, ...], study_pid: int | None = None) -> None:
    """A pool worker's initializer: end with the study's process ``study_pid``
    (:func:`optbench.parent_watch.exit_with`: a killed study leaves no worker behind),
    one BLAS/OpenMP thread for the worker's whole life (``threadpoolctl``, once), then
    the user's plugins.

    A plugin that fails to import is not fatal here: :func:`compute` imports it again
    and stores the error with each run, as in a serial study.
    """
    from threadpoolctl import threadpool_limits

    if study_pid is not None:
        exit_with(study_pid)
    threadpool_limits(limits=1)
    try:
        import_plugins(plugins)
    except Exception:  # reported with each run by compute()
        return


def _starting_workers(context: BaseContext) -> AbstractContextManager[None]:
    """Spawned workers read the environment when they start: give them one thread."""
    if context.get_start_method() == "spawn":
        return worker_environment()
    return nullcontext()


def _run_pool(todo: list[RunSpec], jobs: int, finish: Callable[[RunSpec, Computed], None],
              plugins: tuple[str, ...], context: BaseContext) -> None:
    """A pool of ``jobs`` local processes started with ``context`` (see :func:`pool_context`).

    When a worker dies (a crash in native code, an out-of-memory kill, os._exit), the
    pool breaks and every run not yet back fails with it.  The pool hands out runs in
    submission order, so the runs being computed at that moment, the dead worker's
    among them, are the earliest submitted of the lost ones (save a result that was
    on its way back).  The first ``jobs + 1`` lost runs are therefore tried again one
    at a time, each in a fresh one-worker pool, so that only a run that kills its
    worker on its own is stored as an error; the rest go back to a fresh pool of
    ``jobs``.  Each round settles at least one run, so the loop ends whatever the
    pool's internals (a killer left among the rest breaks that pool in turn).
    """
    remaining = list(todo)
    while remaining:
        lost = _pool_round(remaining, jobs, context, finish, plugins)
        suspects, remaining = lost[: jobs + 1], lost[jobs + 1:]
        for spec in suspects:
            finish(spec, _run_alone(spec, context, plugins))


def _new_pool(workers: int, context: BaseContext, plugins: tuple[str, ...]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=start_worker,
                               initargs=(plugins, os.getpid()))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers now (the study is being interrupted or failed):
    their runs in progress are lost, not stored, and are made again on resume."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        if process.is_alive():
            process.terminate()


def _pool_round(specs: list[RunSpec], jobs: int, context: BaseContext,
                finish: Callable[[RunSpec, Computed], None], plugins: tuple[str, ...]) -> list[RunSpec]:
    """Run ``specs`` on one pool, storing each as it comes back; returns the specs lost
    to a dead worker, in submission order."""
    lost: list[int] = []
    with _new_pool(min(jobs, len(specs)), context, plugins) as pool:
        futures: dict[Future, int] = {}
        with _starting_workers(context):  # a spawned worker starts on a submit
            for i, spec in enumerate(specs):
                futures[pool.submit(compute, spec.to_dict(), plugins)] = i
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    record = future.result()
                except BrokenProcessPool:
                    lost.append(i)
                    continue
                except Exception as exc:  # the result could not come back
                    record = _worker_died(exc)
                finish(specs[i], record)
        except BaseException:
            for future in futures:
                future.cancel()
            _stop_workers(pool)
            raise
    return [specs[i] for i in sorted(lost)]


def _run_alone(spec: RunSpec, context: BaseContext, plugins: tuple[str, ...]) -> Computed:
    """``compute(spec)`` in a fresh one-worker pool; a worker that dies makes it an error."""
    with _new_pool(1, context, plugins) as alone, _starting_workers(context):
        try:
            return alone.submit(compute, spec.to_dict(), plugins).result()
        except Exception as exc:  # it dies on its own too: this run kills workers
            return _worker_died(exc)


class JobsCappedWarning(UserWarning):
    """More local workers were asked for than the machine or the study can use."""


def local_workers(jobs: int, runs: int) -> int:
    """The workers of a local cluster: ``jobs``, but no more than the runs to make or
    the machine's cores (a warning says so when that is fewer than asked)."""
    cores = os.cpu_count() or 1
    workers = max(1, min(jobs, runs, cores))
    if workers < jobs:
        why = "the runs to make" if workers == runs and runs < cores else "this machine's cores"
        warnings.warn(f"--jobs {jobs} capped at {workers} workers ({why})", JobsCappedWarning, stacklevel=2)
    return workers


def _run_dask(todo: list[RunSpec], jobs: int, scheduler: str | None,
              finish: Callable[[RunSpec, Computed], None], plugins: tuple[str, ...]) -> None:
    """dask.distributed: the cluster at ``scheduler``, or a LocalCluster of ``jobs``
    single-threaded worker processes whose nannies fork them from the fork server of
    :func:`pool_context` (which then also preloads ``distributed``), so that a worker
    (and a worker restarted after a death) starts warm."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ValueError(
            "the dask executor needs dask.distributed: pip install 'optbench[dask]'"
        ) from None
    cluster = None
    start_method: AbstractContextManager[Any] = nullcontext()
    if scheduler is None:
        method = pool_context(plugins, preload=(*FORKSERVER_PRELOAD, "distributed")).get_start_method()
        start_method = dask.config.set({"distributed.worker.multiprocessing-method": method})
    with start_method:  # for the whole study: the nannies read it when they restart a worker
        if scheduler is None:
            cluster = LocalCluster(n_workers=local_workers(jobs, len(todo)), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="30s")
        try:
            _collect_dask(client, dask_completed, todo, finish, plugins)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _collect_dask(client: Any, dask_completed: Any, todo: list[RunSpec],
                  finish: Callable[[RunSpec, Computed], None], plugins: tuple[str, ...]) -> None:
    futures = client.map(compute, [s.to_dict() for s in todo], plugins=plugins, pure=False)
    by_key = {f.key: s for f, s in zip(futures, todo)}
    suspects = []
    try:
        for future in dask_completed(futures):
            try:
                record = future.result()
            except Exception:  # a worker died under it (KilledWorker), maybe not its fault
                suspects.append(by_key[future.key])
                continue
            finish(by_key[future.key], record)
    except BaseException:
        client.cancel(futures)
        raise
    # tasks that were on a worker when it died: each again alone, so that only
    # the run that kills its worker is stored as an error
    for spec in suspects:
        try:
            record = client.submit(compute, spec.to_dict(), plugins=plugins, pure=False).result()
        except Exception as exc:
            record = _worker_died(exc)
        finish(spec, record)
