"""Running claims: their arms as one study, then each criterion on its evidence.

:func:`run_claims` runs a selection of registered claims at one :class:`Budget`:

1. ``claim.arms(budget)`` of every selected claim; the specs of all of them go into
   **one** :func:`~optbench.study.run_study` call, so the runs of different claims
   share the executor's workers (a slow claim does not hold up the others) and runs
   already stored in ``results_dir`` are skipped (a second call resumes).  Each run
   is tagged ``claim.key`` / ``claim.arm`` (``"key/arm"``; several, comma-separated,
   when claims share a run) when it is computed.
2. per claim, in order: ``measure(budget)`` (its tables are stored as Parquet in
   ``results_dir/claims/<key>/<name>.parquet``), its :class:`Evidence` (exactly its
   runs, with their arm), ``criterion(evidence)``.  A claim whose ``arms``,
   ``measure`` or ``criterion`` raises (or returns something else than it should)
   gets the verdict ``inconclusive`` with a summary that names the error, and
   :attr:`ClaimResult.error`; the other claims go on.
3. ``results_dir/claims/verdicts.json`` is written atomically: one entry per claim
   (see :meth:`ClaimResult.to_dict`); entries of claims that were not run this time
   are kept, so ``--only KEY`` refreshes one claim.  :func:`load_verdicts` reads it.

Timing: the runs of all claims share one study, so a claim's wall time cannot be
told apart from the others'.  An entry records ``seconds.runs``, the sum over its
runs of the method's own seconds (the traces' last ``time``; stored runs count
too), and the wall seconds of its ``arms``, ``measure`` and ``criterion`` calls.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, cast

import pandas as pd

from .. import __version__, store
from ..progress import Progress, ProgressReporter
from ..spec import RunSpec
from ..study import import_plugins, pending, run_study
from .base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict

#: Sub-folder of a results directory that holds the claims' verdicts and tables.
CLAIMS_DIR = "claims"
#: The verdicts file inside :data:`CLAIMS_DIR`.
VERDICTS_FILE = "verdicts.json"
#: Version of the layout of the verdicts file.
VERDICTS_FORMAT = 1
#: Default results directory of :func:`run_claims` and ``optbench claims``
#: (as ``optbench run`` writes a suite's results to ``results/<suite name>``).
DEFAULT_RESULTS = Path("results") / "claims"
#: Tags every run of a claim carries (see :func:`optbench.load`'s tag columns).
TAG_KEY, TAG_ARM = "claim.key", "claim.arm"

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

#: A progress argument: a reporter, or a factory ``(items, stage) -> reporter``.
ProgressArg = ProgressReporter | Callable[[int, str], ProgressReporter] | None


@dataclass
class ClaimResult:
    """What running one claim gave.

    Attributes
    ----------
    claim : Claim
    verdict : Verdict
        ``inconclusive`` with the error in its summary when a step raised.
    budget : Budget
    run_ids : dict
        ``{arm name: [run id, ...]}`` in the arm's order.
    seconds : dict
        ``arms``, ``measure``, ``criterion`` (wall seconds of those calls) and
        ``runs`` (the method's own seconds summed over the claim's runs); the
        verdicts file also holds their sum, ``elapsed_seconds``.
    error : str or None
        ``"<stage>: <ExceptionType>: <message>"`` when arms, measure, storing the
        tables or the criterion failed; None when the criterion decided.
    failed_runs : list of str
        Run ids of the claim whose status is ``error``.
    tables : dict
        ``{table name: path relative to results_dir}`` of the stored measure tables.
    evidence : Evidence or None
        What the criterion saw (None when it was never built).
    """

    claim: Claim
    verdict: Verdict
    budget: Budget
    run_ids: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    failed_runs: list[str] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)
    evidence: Evidence | None = None

    @property
    def key(self) -> str:
        return self.claim.key

    @property
    def outcome(self) -> str:
        return self.verdict.outcome

    def to_dict(self) -> dict[str, Any]:
        """The claim's entry of ``verdicts.json`` (JSON data; non-finite numbers as null)."""
        claim = self.claim
        return {
            "key": claim.key,
            "number": claim.number,
            "statement": claim.statement,
            "experiment": claim.experiment,
            "statistic": claim.statistic,
            "kind": claim.kind,
            **self.verdict.to_dict(),
            "error": self.error,
            "budget": {"quick": self.budget.quick, "seeds": list(self.budget.seeds)},
            "runs": {arm: list(ids) for arm, ids in self.run_ids.items()},
            "failed_runs": list(self.failed_runs),
            "tables": dict(self.tables),
            "seconds": {k: round(float(v), 6) for k, v in self.seconds.items()},
            "elapsed_seconds": round(float(sum(self.seconds.values())), 6),
            "optbench": __version__,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


# --------------------------------------------------------------------------- evidence


def _arm_map(claim: Claim, arms: Any) -> tuple[dict[str, str], dict[str, list[str]], list[RunSpec]]:
    """Check ``arms`` and return ``(arm of each run id, run ids per arm, unique specs)``."""
    if not isinstance(arms, (list, tuple)) or (not arms and claim.measure is None):
        raise ValueError("arms() must return a non-empty list of Arm (empty only for a claim "
                         f"whose evidence is its measure() tables), got {arms!r}")
    arm_of: dict[str, str] = {}
    per_arm: dict[str, list[str]] = {}
    specs: list[RunSpec] = []
    for arm in arms:
        if not isinstance(arm, Arm):
            raise ValueError(f"arms() must return Arm objects, got {type(arm).__name__}")
        if arm.name in per_arm:
            raise ValueError(f"two arms are named {arm.name!r}")
        per_arm[arm.name] = []
        for spec in arm.specs:
            if not isinstance(spec, RunSpec):
                raise ValueError(f"arm {arm.name!r} holds a {type(spec).__name__}, not a RunSpec")
            rid = spec.run_id()
            if rid in arm_of and arm_of[rid] != arm.name:
                raise ValueError(f"claim {claim.key!r}: the same run is in arms "
                                 f"{arm_of[rid]!r} and {arm.name!r}")
            if rid not in arm_of:
                specs.append(spec)
                per_arm[arm.name].append(rid)
            arm_of[rid] = arm.name
    return arm_of, per_arm, specs


def build_evidence(trace: pd.DataFrame, runs: pd.DataFrame, arm_of: Mapping[str, str],
                   tables: Mapping[str, pd.DataFrame], budget: Budget) -> Evidence:
    """The :class:`Evidence` of the runs in ``arm_of`` (``{run id: arm}``): their rows of
    ``trace`` (:func:`optbench.load`) and ``runs`` (:func:`optbench.store.runs`), each
    with a column ``arm``, and the ``tables``."""
    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or "run_id" not in frame:
            out = frame.iloc[0:0].copy()
            out["arm"] = pd.Series(dtype=object)
            return out
        out = frame[frame["run_id"].isin(arm_of.keys())].copy()
        out["arm"] = out["run_id"].map(arm_of)
        return out.reset_index(drop=True)

    return Evidence(trace=pick(trace), runs=pick(runs), tables=dict(tables), budget=budget)


def collect(claim: Claim, budget: Budget, results_dir: str | os.PathLike, *, jobs: int = 1,
            executor: str = "serial", **study_options: Any) -> Evidence:
    """Run ``claim``'s arms (what is not stored yet) into ``results_dir`` and gather its
    :class:`Evidence`: the trace and run rows of exactly its specs, each with ``arm``."""
    arm_of, _, specs = _arm_map(claim, claim.arms(budget))
    run_study(specs, results_dir, jobs=jobs, executor=executor, **study_options)
    tables = claim.measure(budget) if claim.measure is not None else {}
    return build_evidence(store.load(results_dir), store.runs(results_dir), arm_of, tables, budget)


def evaluate(claim: Claim, evidence: Evidence) -> Any:
    """``claim.criterion(evidence)``: the claim's :class:`~optbench.claims.Verdict`."""
    return claim.criterion(evidence)


# --------------------------------------------------------------------------- files


def claims_dir(results_dir: str | os.PathLike) -> Path:
    """``results_dir/claims``: the verdicts file and one folder of tables per claim."""
    return Path(results_dir) / CLAIMS_DIR


def verdicts_path(results_dir: str | os.PathLike) -> Path:
    return claims_dir(results_dir) / VERDICTS_FILE


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    table.to_parquet(path, index=False)


def store_tables(results_dir: str | os.PathLike, key: str,
                 tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Write ``tables`` to ``results_dir/claims/<key>/<name>.parquet`` (each atomically),
    remove the claim's tables of earlier runs that are not among them, and return
    ``{name: path relative to results_dir}``."""
    if not isinstance(tables, Mapping):
        raise ValueError(f"measure() must return a dict of DataFrames, got {type(tables).__name__}")
    folder = claims_dir(results_dir) / key
    written: dict[str, str] = {}
    for name, table in tables.items():
        if not isinstance(name, str) or not _TABLE_NAME.match(name):
            raise ValueError(f"table names must be letters, digits, '_', '.', '-', got {name!r}")
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"table {name!r} is a {type(table).__name__}, not a DataFrame")
        path = folder / f"{name}{store.SUFFIX}"
        store.replace_atomically(path, functools.partial(_write_parquet, table))
        written[name] = path.relative_to(Path(results_dir)).as_posix()
    if folder.is_dir():
        for old in folder.glob(f"*{store.SUFFIX}"):
            if old.stem not in written:
                old.unlink()
    return written


def load_tables(results_dir: str | os.PathLike, key: str) -> dict[str, pd.DataFrame]:
    """The measure tables stored for claim ``key`` (empty when there are none)."""
    folder = claims_dir(results_dir) / key
    if not folder.is_dir():
        return {}
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob(f"*{store.SUFFIX}"))}


def load_verdicts(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The entries of ``results_dir/claims/verdicts.json``, by claim number then key.

    Raises FileNotFoundError when there is none and ValueError (naming the file) when
    it cannot be read as a verdicts file.
    """
    path = verdicts_path(results_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no claim verdicts in {Path(results_dir)} (expected {path})")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable verdicts file ({err})") from None
    entries = document.get("claims") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("key"), str) for e in entries):
        raise ValueError(f"{path}: not a verdicts file (no list of claims with keys)")
    return sorted(entries, key=_entry_order)


def _entry_order(entry: Mapping[str, Any]) -> tuple[int, str]:
    number = entry.get("number")
    return (number if isinstance(number, int) and number > 0 else 10**6, str(entry["key"]))


def write_verdicts(results_dir: str | os.PathLike, results: Iterable[ClaimResult]) -> Path:
    """Merge ``results`` into ``results_dir/claims/verdicts.json`` (a claim's entry is
    replaced, the others are kept) and write it atomically; returns its path."""
    path = verdicts_path(results_dir)
    entries: dict[str, dict[str, Any]] = {}
    if path.is_file():
        try:
            entries = {e["key"]: e for e in load_verdicts(results_dir)}
        except ValueError:
            entries = {}  # an unreadable file is replaced by this run's verdicts
    for result in results:
        entries[result.key] = result.to_dict()
    document = {"format": VERDICTS_FORMAT, "optbench": __version__,
                "claims": sorted(entries.values(), key=_entry_order)}
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    store.replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


# --------------------------------------------------------------------------- running


def _failure(stage: str, exc: BaseException) -> str:
    return f"{stage}: {type(exc).__name__}: {exc}"


def _inconclusive(error: str) -> Verdict:
    return Verdict(INCONCLUSIVE, f"not decided: {error}")


def _reporter(progress: ProgressArg, total: int, stage: str) -> ProgressReporter:
    if progress is None:
        return Progress(total, quiet=True)
    if hasattr(progress, "update"):
        return cast(ProgressReporter, progress)
    return cast(Callable[[int, str], ProgressReporter], progress)(total, stage)


def select(keys: Iterable[str] | None = None) -> list[Claim]:
    """The registered claims named by ``keys`` (in that order, repeats dropped), or all
    of them; ValueError for an unknown key or an empty selection."""
    from . import get, names

    if isinstance(keys, str):
        keys = [keys]
    wanted = names() if keys is None else list(dict.fromkeys(keys))
    if not wanted:
        raise ValueError("no claims selected" if keys is not None else "no claims are registered")
    return [get(key) for key in wanted]


def _run_seconds(trace: pd.DataFrame) -> float:
    if trace.empty or "time" not in trace:
        return 0.0
    last = trace.sort_values(["run_id", "step"]).groupby("run_id", sort=False)["time"].last()
    value = float(last[pd.notna(last)].sum())
    return value if math.isfinite(value) else 0.0


def run_claims(
    keys: Iterable[str] | None = None,
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    *,
    quick: bool = False,
    seeds: Iterable[int] | None = None,
    jobs: int = 1,
    executor: str = "serial",
    scheduler: str | None = None,
    progress: ProgressArg = None,
    plugins: Iterable[str] = (),
) -> list[ClaimResult]:
    """Run the claims named ``keys`` (default: every registered one) and decide them.

    Parameters
    ----------
    keys
        Claim keys (:func:`optbench.claims.names`); None for all.
    results_dir
        Where the runs are stored (one Parquet file each, shared with any study) and
        ``claims/`` with the verdicts and the measure tables.
    quick, seeds
        The :class:`Budget` (``Budget.default(quick, seeds)``: ValueError for fewer
        than 2 distinct seeds or a negative one).
    jobs, executor, scheduler
        As for :func:`~optbench.study.run_study`; one study holds every claim's runs.
    progress
        A reporter for the runs (``update``/``close``), or a factory
        ``(count, stage) -> reporter`` called with stage ``"claims: runs"`` (the runs
        to compute) and then ``"claims: criteria"`` (one update per claim).
    plugins
        Modules imported here first (before the claims are selected: they may
        register claims, problems and optimizers) and in every worker.

    Returns one :class:`ClaimResult` per claim, in the order of ``keys``.  Errors in a
    claim's own code do not raise (see the module docstring); bad arguments, an
    unknown key or an unwritable ``results_dir`` raise before anything runs.
    """
    plugins = tuple(plugins)
    import_plugins(plugins)
    budget = Budget.default(quick=quick, seeds=None if seeds is None else tuple(seeds))
    selected = select(keys)
    out = Path(results_dir)

    plans = []  # (claim, arm_of, per_arm, error, seconds)
    all_specs: list[RunSpec] = []
    tags: dict[str, dict[str, str]] = {}
    for claim in selected:
        started = time.perf_counter()
        try:
            arm_of, per_arm, specs = _arm_map(claim, claim.arms(budget))
            error = None
        except Exception as exc:  # a claim's own code: the others go on
            arm_of, per_arm, specs, error = {}, {}, [], _failure("arms", exc)
        seconds = {"arms": time.perf_counter() - started}
        for spec in specs:
            rid = spec.run_id()
            tag = tags.get(rid)
            if tag is None:
                tags[rid] = {TAG_KEY: claim.key, TAG_ARM: f"{claim.key}/{arm_of[rid]}"}
                all_specs.append(spec)
            elif claim.key not in tag[TAG_KEY].split(", "):
                tag[TAG_KEY] += f", {claim.key}"
                tag[TAG_ARM] += f", {claim.key}/{arm_of[rid]}"
        plans.append((claim, arm_of, per_arm, error, seconds))

    todo, _ = pending(all_specs, out)
    reporter = _reporter(progress, len(todo), "claims: runs")
    run_study(all_specs, out, jobs=jobs, executor=executor, progress=reporter, tags=tags,
              scheduler=scheduler, plugins=plugins)
    trace_all = store.load(out)
    runs_all = store.runs(out)

    results: list[ClaimResult] = []
    criteria = _reporter(progress, len(plans), "claims: criteria") if not hasattr(
        progress, "update") else None
    try:
        for claim, arm_of, per_arm, error, seconds in plans:
            result = _decide(claim, budget, out, arm_of, per_arm, error, seconds,
                             trace_all, runs_all)
            results.append(result)
            if criteria is not None:
                criteria.update(f"{claim.key}  {result.outcome}", failed=result.error is not None)
    finally:
        if criteria is not None:
            criteria.close()
    write_verdicts(out, results)
    return results


def _decide(claim: Claim, budget: Budget, out: Path, arm_of: dict[str, str],
            per_arm: dict[str, list[str]], error: str | None, seconds: dict[str, float],
            trace_all: pd.DataFrame, runs_all: pd.DataFrame) -> ClaimResult:
    """Measure, gather the evidence and apply the criterion of one planned claim."""
    result = ClaimResult(claim=claim, verdict=_inconclusive(error or ""), budget=budget,
                         run_ids=per_arm, seconds=seconds, error=error)
    seconds.update(measure=0.0, criterion=0.0)
    if not runs_all.empty and arm_of:
        mine = runs_all[runs_all["run_id"].isin(arm_of.keys())]
        result.failed_runs = sorted(mine.loc[mine["status"] == "error", "run_id"])
    if error is not None:
        seconds["runs"] = 0.0
        return result
    started = time.perf_counter()
    try:
        tables = claim.measure(budget) if claim.measure is not None else {}
        result.tables = store_tables(out, claim.key, tables)
    except Exception as exc:  # a claim's own code: the others go on
        seconds["measure"] = time.perf_counter() - started
        result.error = _failure("measure", exc)
        result.verdict = _inconclusive(result.error)
        return result
    seconds["measure"] = time.perf_counter() - started
    evidence = build_evidence(trace_all, runs_all, arm_of, tables, budget)
    result.evidence = evidence
    seconds["runs"] = _run_seconds(evidence.trace)
    started = time.perf_counter()
    try:
        verdict = claim.criterion(evidence)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"criterion returned {type(verdict).__name__}, not a Verdict")
    except Exception as exc:  # a claim's own code: the others go on
        result.error = _failure("criterion", exc)
        result.verdict = _inconclusive(result.error)
    else:
        result.verdict = verdict
    seconds["criterion"] = time.perf_counter() - started
    return result


__all__ = [
    "CLAIMS_DIR", "ClaimResult", "DEFAULT_RESULTS", "VERDICTS_FILE", "build_evidence",
    "claims_dir", "collect", "evaluate", "load_tables", "load_verdicts", "run_claims", "select",
    "store_tables", "verdicts_path", "write_verdicts",
]
