"""``score``: workloads -> trials -> time to target -> profile -> score.

The pipeline of optbench-score v1 (:mod:`.protocol`), one short function per step.
The submission's runs go through :func:`optbench.study.run_study` into
``out/runs`` (so an interrupted score resumes, on any executor); the baselines come
from the shipped bundle (:mod:`.baselines`) or, with ``rerun_baselines``, are run
the same way into ``out/baseline-runs``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..environment import environment
from ..search_space import Space, default_space, spaces_to_dict
from ..spec import label
from ..study import pending, run_study
from ..tuning import check_space
from . import baselines as bundles
from .profile import (bootstrap_scores, budget_points, interval, leave_one_out, profile_curve,
                      ratios, scores, verdict)
from .protocol import (DEFAULT_STUDIES, DEFAULT_TRIALS, LEVEL, LEVELS, PROTOCOL, RULESETS, TAU_MAX,
                       budget_factor)
from .time_to_target import cube, median_times, study_times
from .trials import Method, PlannedRun, baseline_methods, plan
from .workloads import Workload, workloads as level_workloads

#: The axes time is measured on: gradient-equivalents (primary) and seconds.
AXES = ("cost", "seconds")


@dataclass
class ScoreResult:
    """Everything a scorecard shows: ``meta`` (JSON data) and the tables."""

    meta: dict[str, Any]
    verdict: dict[str, Any]
    workloads: pd.DataFrame
    hits: pd.DataFrame
    times: pd.DataFrame
    scores: pd.DataFrame
    profile: pd.DataFrame
    budget: pd.DataFrame
    leave_one_out: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON data (what ``score.json`` holds)."""
        def records(table: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(table.to_json(orient="records"))
        return {"protocol": PROTOCOL, **self.meta, "verdict": self.verdict, "notes": self.notes,
                "scores": records(self.scores), "workloads": records(self.workloads),
                "times": records(self.times), "budget": records(self.budget),
                "leave_one_out": records(self.leave_one_out)}


def _check(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def submission(optimizer: str, fixed: Mapping[str, Any] | None = None,
               space: Mapping[str, Space] | None = None, ruleset: str = "external") -> Method:
    """The submitted method: its name on the scorecard, its space (default: the
    optimizer's default space less the fixed names) and fixed hyper-parameters.

    Raises ValueError (naming the parameter) for an unknown optimizer or a space or
    fixed value it refuses.
    """
    fixed = dict(fixed or {})
    if space is None:
        space = {k: v for k, v in default_space(optimizer).items() if k not in fixed}
    space = dict(space) if ruleset == "external" else {}
    check_space(optimizer, space, fixed)
    name = label(optimizer, fixed)
    if name in {m.name for m in baseline_methods()}:
        name = f"{name} (submission)"
    return Method(name, optimizer, space, fixed)


def _run(planned: list[PlannedRun], out: Path, workloads: Sequence[Workload], ruleset: str,
         run_options: Mapping[str, Any], stage: str) -> pd.DataFrame:
    specs = [p.spec for p in planned]
    options = dict(run_options)
    factory = options.pop("progress", None)
    if factory is not None:
        options["progress"] = factory(len(pending(specs, out)[0]), stage)
    run_study(specs, out, **options)
    runs, traces = bundles.stored_records(planned, out, workloads)
    by_run = dict(tuple(traces.groupby("run_id", sort=False)))
    return bundles.hits_table(runs, by_run, workloads, ruleset)


def _baseline_hits(workloads: Sequence[Workload], ruleset: str, trials: int, studies: int,
                   seed: int, rerun: bool, out: Path, run_options: Mapping[str, Any]
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    planned = [p for m in baseline_methods()
               for p in plan(m, workloads, ruleset=ruleset, trials=trials, studies=studies, seed=seed)]
    if rerun:
        return (_run(planned, out / "baseline-runs", workloads, ruleset, run_options, "baselines"),
                environment())
    bundle = bundles.read_bundle(bundles.bundle_path(ruleset))
    bundles.check_bundle(bundle, planned)
    return bundles.bundle_hits(bundle, workloads, ruleset, planned), bundle.meta.get("environment", {})


def _times_table(T: dict[str, np.ndarray], methods: list[str], names: list[str], rng_seed: int
                 ) -> pd.DataFrame:
    """Per method and workload: the median time on each axis, its bootstrap interval
    over studies, and its ratio to the fastest."""
    rows = []
    rng = np.random.default_rng(rng_seed)
    for axis in AXES:
        t = median_times(T[axis])
        r = ratios(t)
        S = T[axis].shape[-1]
        idx = rng.integers(0, S, size=(1000, S))
        reps = np.median(T[axis][:, :, idx], axis=-1)  # (M, W, 1000)
        low, high = interval(np.moveaxis(reps, -1, 0))
        for i, m in enumerate(methods):
            for j, w in enumerate(names):
                rows.append({"axis": axis, "method": m, "workload": w, "time": t[i, j],
                             "low": low[i, j], "high": high[i, j], "ratio": r[i, j]})
    return pd.DataFrame(rows)


def _scores_table(T: dict[str, np.ndarray], methods: list[str], sub: str) -> tuple[pd.DataFrame, dict]:
    rows, verdicts = [], {}
    for axis in AXES:
        point = scores(T[axis])
        reps = bootstrap_scores(T[axis])
        low, high = interval(reps)
        for i, m in enumerate(methods):
            rows.append({"axis": axis, "method": m, "submission": m == sub, "score": point[i],
                         "low": low[i], "high": high[i]})
        verdicts[axis] = verdict(point, reps, methods, sub, methods[1:])
    return pd.DataFrame(rows), verdicts


def _budget_table(hits: pd.DataFrame, methods: list[str], names: list[str], trials: int,
                  studies: int) -> pd.DataFrame:
    rows = []
    for k in budget_points(trials):
        T = cube(study_times(hits, k), methods, names, studies, "cost")
        point, (low, high) = scores(T), interval(bootstrap_scores(T))
        rows += [{"trials": k, "method": m, "score": point[i], "low": low[i], "high": high[i]}
                 for i, m in enumerate(methods)]
    return pd.DataFrame(rows)


def _profile_table(T: dict[str, np.ndarray], methods: list[str]) -> pd.DataFrame:
    return pd.concat([profile_curve(ratios(median_times(T[a])), methods).assign(axis=a) for a in AXES],
                     ignore_index=True)


def score(optimizer: str, *, fixed: Mapping[str, Any] | None = None,
          space: Mapping[str, Space] | None = None, ruleset: str = "external", level: str = "full",
          trials: int = DEFAULT_TRIALS, studies: int = DEFAULT_STUDIES, seed: int = 0,
          out: str | Path = "results/score", rerun_baselines: bool = False, jobs: int = 1,
          executor: str = "serial", scheduler: str | None = None, plugins: Sequence[str] = (),
          progress: Any = None, workloads: Sequence[Workload] | None = None) -> ScoreResult:
    """Score ``optimizer`` under optbench-score v1 against the tuned baselines.

    ``fixed`` hyper-parameters are not searched; ``space`` replaces the default
    search space (external ruleset).  ``level`` is ``"quick"`` or ``"full"``;
    ``trials`` and ``studies`` are the ruleset's K and S; ``seed`` the protocol seed
    (the shipped baselines are for seed 0, K <= 5, S <= 3: anything else needs
    ``rerun_baselines``).  Runs are stored under ``out``.  ``progress`` is a factory
    ``(runs to run, stage) -> reporter`` or None.  ``workloads`` replaces the
    protocol's (for experiments and tests: such a score is not optbench-score v1, and
    its baselines must be re-run).
    """
    _check("ruleset", ruleset, RULESETS)
    _check("level", level, LEVELS)
    trials = 1 if ruleset == "self" else _count("trials", trials)
    studies, out = _count("studies", studies), Path(out)
    method = submission(optimizer, fixed, space, ruleset)
    wl = list(workloads) if workloads is not None else level_workloads(level)
    if not wl:
        raise ValueError("no workloads to score on")
    if workloads is not None and not rerun_baselines:
        raise ValueError("workloads other than the protocol's have no shipped baseline runs: "
                         "score with rerun_baselines=True (--rerun-baselines)")
    missing = [w.name for w in wl if not math.isfinite(w.target)]
    if missing:
        raise ValueError(f"workloads without a target: {', '.join(missing)} (see scripts/score_targets.py)")
    options = {"jobs": jobs, "executor": executor, "scheduler": scheduler, "plugins": tuple(plugins),
               "progress": progress}
    mine = plan(method, wl, ruleset=ruleset, trials=trials, studies=studies, seed=seed)
    base, base_env = _baseline_hits(wl, ruleset, trials, studies, seed, rerun_baselines, out, options)
    hits = _run(mine, out / "runs", wl, ruleset, options, "submission")
    hits = pd.concat([hits, base], ignore_index=True)
    result = _assemble(method, hits, wl, level, ruleset, trials, studies, seed, rerun_baselines, base_env)
    if workloads is not None:
        result.notes.append("scored on workloads given by the caller, not those of the protocol")
    return result


def _assemble(method: Method, hits: pd.DataFrame, wl: Sequence[Workload], level: str, ruleset: str,
              trials: int, studies: int, seed: int, rerun: bool, base_env: dict) -> ScoreResult:
    methods = [method.name] + [m.name for m in baseline_methods()]
    names = [w.name for w in wl]
    fastest = study_times(hits)
    T = {a: cube(fastest, methods, names, studies, a) for a in AXES}
    scores_table, verdicts = _scores_table(T, methods, method.name)
    notes = []
    if not rerun:
        notes.append("the baselines' seconds were measured on the machine that made the shipped bundle; "
                     "rerun them (--rerun-baselines) for a seconds axis comparable with this machine's")
    unreached = [w for j, w in enumerate(names) if np.isinf(median_times(T["cost"])[:, j]).all()]
    if unreached:
        notes.append(f"no method reached the target of {', '.join(unreached)} in the median study: "
                     f"{'it adds' if len(unreached) == 1 else 'they add'} nothing to any score")
    errors = hits[(hits["status"] == "error") & (hits["method"] == method.name)]
    if len(errors):
        notes.append(f"{len(errors)} of the submission's runs raised an error; they count as misses "
                     "(their messages are in the stored error runs: optbench.load of the runs folder)")
    skipped = [w.name for w in level_workloads(level, available_only=False) if not w.available()]
    if skipped:
        notes.append(f"left out (their package is not installed): {', '.join(skipped)}")
    meta = {
        "level": level, "ruleset": ruleset, "trials": trials, "studies": studies, "seed": seed,
        "tau_max": TAU_MAX, "level_of_intervals": LEVEL,
        "submission": {"name": method.name, "optimizer": method.optimizer, "fixed": method.fixed,
                       "space": spaces_to_dict(method.space)},
        "baselines": [{"name": m.name, "optimizer": m.optimizer, "fixed": m.fixed,
                       "space": spaces_to_dict(m.space)} for m in baseline_methods()],
        "baselines_rerun": rerun, "environment": environment(), "baseline_environment": base_env,
        "budget_factor": budget_factor(ruleset), "submission_errors": int(len(errors)),
    }
    workloads_table = pd.DataFrame([{"workload": w.name, "problem": w.problem, "metric": w.metric,
                                     "target": w.target, "budget": w.budget * budget_factor(ruleset),
                                     "description": w.description} for w in wl])
    budget = _budget_table(hits, methods, names, trials, studies) if ruleset == "external" else pd.DataFrame(
        columns=["trials", "method", "score", "low", "high"])
    return ScoreResult(
        meta=meta, verdict={a: vars(v) | {"sentence": v.sentence(method.name)} for a, v in verdicts.items()},
        workloads=workloads_table, hits=hits, times=_times_table(T, methods, names, seed),
        scores=scores_table, profile=_profile_table(T, methods), budget=budget,
        leave_one_out=leave_one_out(T["cost"], methods, names), notes=notes)
