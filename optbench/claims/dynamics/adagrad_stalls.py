"""Claim 5, ``adagrad-stalls``: AdaGrad's step keeps shrinking and it stalls on a long
non-convex run; RMSProp does not.

Experiment: the 2-D Rosenbrock function from the classic start (-1.2, 1) plus a seeded
perturbation, full gradients, a long run of :data:`STEPS` steps.  AdaGrad and RMSProp,
each at its best lr on a half-decade grid (:func:`grid`: :data:`GRID`, or
:data:`QUICK_GRID` with ``--quick``), selected by the lowest median log10 final subopt
on the tuning seeds :data:`TUNE_SEEDS` and evaluated on the budget's run seeds, which
differ from them.

Verdict (:func:`criterion`, on :func:`tuned_runs`): on the evaluation seeds, paired per
seed, the final-subopt ratio AdaGrad / RMSProp and the difference of the decades of
progress over the second half (:func:`final_and_progress`), RMSProp minus AdaGrad;
medians with 95% bootstrap intervals.  Holds if the ratio's interval lies above 1
(AdaGrad ends worse) and the difference's above 0 (AdaGrad progresses less late in the
run); does not hold if the ratio's interval lies below 1 or the difference's below 0;
inconclusive otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired, verdict_from_sides
from .run_tables import by_seed, per_run, problem_notes, spec, status_counts

__all__ = [
    "CLAIM", "GRID", "NUMBER", "QUICK_GRID", "RECORD", "STEPS", "TUNE_SEEDS", "arms", "criterion",
    "final_and_progress", "grid", "tuned_runs",
]

NUMBER = 5
#: The lr grids (half-decade steps): full size, and the three middle points with --quick.
GRID: dict[str, tuple[float, ...]] = {
    "adagrad": (0.1, 0.3, 1.0, 3.0, 10.0),
    "rmsprop": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
}
QUICK_GRID: dict[str, tuple[float, ...]] = {name: lrs[1:4] for name, lrs in GRID.items()}
#: Seeds on which the lr is selected (disjoint from the budgets' evaluation seeds).
TUNE_SEEDS = (1000, 1001, 1002)
STEPS = 10000
#: Record every this many steps (a trace row costs more than a Rosenbrock step).
RECORD = 50


# --------------------------------------------------------------------------- arms


def _steps(budget: Budget) -> int:
    return STEPS


def grid(budget: Budget) -> dict[str, tuple[float, ...]]:
    """The lr grid of each optimizer: :data:`QUICK_GRID` with ``--quick``, else :data:`GRID`."""
    return QUICK_GRID if budget.quick else GRID


def arms(budget: Budget) -> list[Arm]:
    """``tune/<optimizer>/lr=<lr>`` (the tuning seeds) and ``eval/<optimizer>/lr=<lr>`` (the
    budget's seeds) for each lr of the grid: one run per seed."""
    steps = _steps(budget)
    record = RECORD
    result = []
    for name, lrs in grid(budget).items():
        for lr in lrs:
            for role, seeds in (("tune", TUNE_SEEDS), ("eval", budget.seeds)):
                specs = [spec("rosenbrock", {"dim": 2}, name, {"lr": lr}, s, steps, record, tol_grad=None)
                         for s in seeds]
                result.append(Arm(f"{role}/{name}/lr={lr:g}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def final_and_progress(rows: pd.DataFrame, status: str) -> tuple[float, float]:
    """(final subopt, decades of progress over the second half); +inf / NaN if diverged."""
    if status == "diverged":
        return (math.inf, math.nan)
    steps = rows["step"].to_numpy()
    subopt = np.maximum(rows["subopt"].to_numpy(dtype=float), 1e-300)
    half = subopt[np.searchsorted(steps, steps.max() / 2.0)]
    return (float(subopt[-1]), float(np.log10(half / subopt[-1])))


def _select(final: pd.DataFrame, budget: Budget) -> tuple[dict[str, float], dict[str, float]]:
    """``(chosen, numbers)``: each optimizer's lr with the lowest median log10 final subopt
    on the tuning seeds, and ``lr_<name>``, ``lr_<name>_at_grid_edge``."""
    chosen: dict[str, float] = {}
    numbers: dict[str, float] = {}
    for name, lrs in grid(budget).items():
        scores = []
        for lr in lrs:
            v = by_seed(final, f"tune/{name}/lr={lr:g}").dropna().to_numpy()
            scores.append(float(np.median(np.log10(np.maximum(v, 1e-300)))) if v.size else math.nan)
        if not np.isnan(scores).all():
            best = int(np.nanargmin(np.where(np.isnan(scores), np.inf, scores)))
            chosen[name] = lrs[best]
            numbers[f"lr_{name}"] = lrs[best]
            numbers[f"lr_{name}_at_grid_edge"] = float(best in (0, len(lrs) - 1))
    return chosen, numbers


def _compare(final: pd.DataFrame, progress: pd.DataFrame, a: str, r: str,
             rng: np.random.Generator) -> dict[str, float]:
    """The paired comparison of the evaluation arms ``a`` (AdaGrad) and ``r`` (RMSProp)."""
    numbers: dict[str, float] = {}
    med, low, high = median_ci(paired(final, a, r), rng)
    numbers.update(final_ratio=med, final_ratio_low=low, final_ratio_high=high)
    pa, pr = by_seed(progress, a), by_seed(progress, r)
    seeds = sorted(set(pa.index) & set(pr.index))
    diff = np.array([pr[s] - pa[s] for s in seeds], dtype=float)
    med, low, high = median_ci(diff, rng)
    numbers.update(progress_diff=med, progress_diff_low=low, progress_diff_high=high)
    for name, arm in (("adagrad", a), ("rmsprop", r)):
        fv, pv = by_seed(final, arm).dropna(), by_seed(progress, arm).dropna()
        numbers[f"final_{name}"] = float(np.median(fv)) if len(fv) else math.nan
        numbers[f"progress_{name}"] = float(np.median(pv)) if len(pv) else math.nan
    return numbers


def tuned_runs(evidence: Evidence) -> dict[str, Any]:
    """The statistics of the criterion and the figure, a dict.

    ``final`` and ``progress``: the :func:`~optbench.claims.dynamics.run_tables.per_run`
    tables of :func:`final_and_progress`'s two values; ``chosen``: ``{optimizer: lr}``
    selected on the tuning seeds; ``numbers``: ``lr_<name>``, ``lr_<name>_at_grid_edge``
    and, once both are chosen, ``final_ratio`` and ``progress_diff`` (with
    ``_low``/``_high``), ``final_<name>`` and ``progress_<name>`` (medians); ``arms``
    (only then): the two evaluation arms compared, AdaGrad's first.
    """
    final = per_run(evidence, lambda rows, status: final_and_progress(rows, status)[0])
    progress = per_run(evidence, lambda rows, status: final_and_progress(rows, status)[1])
    rng = bootstrap_rng(NUMBER)
    chosen, numbers = _select(final, evidence.budget)
    out: dict[str, Any] = {"chosen": chosen, "numbers": numbers, "final": final, "progress": progress}
    if len(chosen) < 2:
        return out
    a, r = f"eval/adagrad/lr={chosen['adagrad']:g}", f"eval/rmsprop/lr={chosen['rmsprop']:g}"
    out["arms"] = (a, r)
    numbers.update(_compare(final, progress, a, r, rng))
    return out


# --------------------------------------------------------------------------- criterion


def _summary(evidence: Evidence, stats: dict[str, Any]) -> str:
    numbers = stats["numbers"]
    edge = [n for n in grid(evidence.budget) if numbers.get(f"lr_{n}_at_grid_edge")]
    counts = status_counts(evidence, [a for a in evidence.runs.get("arm", pd.Series(dtype=str)).unique()
                                      if str(a).startswith("eval/")] if not evidence.runs.empty else None)
    n_eval = len(evidence.budget.seeds) * 2
    present = int(stats["final"]["arm"].isin(list(stats["arms"])).sum())
    return (
        f"Rosenbrock, {_steps(evidence.budget)} steps, tuned lr AdaGrad {fmt(numbers['lr_adagrad'])}, "
        f"RMSProp {fmt(numbers['lr_rmsprop'])}: final subopt AdaGrad {fmt(numbers['final_adagrad'])} vs "
        f"RMSProp {fmt(numbers['final_rmsprop'])}, ratio "
        f"{ci_of(numbers, 'final_ratio')}; "
        f"decades of progress over the second half AdaGrad {fmt(numbers['progress_adagrad'])}, RMSProp "
        f"{fmt(numbers['progress_rmsprop'])}, difference RMSProp - AdaGrad "
        f"{ci_of(numbers, 'progress_diff')}"
        + (f"; selected lr at the grid's edge for {', '.join(edge)}" if edge else "")
        + problem_notes(counts, n_eval, present) + "."
    )


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`tuned_runs`."""
    stats = tuned_runs(evidence)
    numbers = stats["numbers"]
    if "arms" not in stats:
        return Verdict(INCONCLUSIVE, "No tuning runs of AdaGrad and RMSProp were found.", numbers)
    outcome = verdict_from_sides(
        [numbers["final_ratio_low"] > 1.0, numbers["progress_diff_low"] > 0.0],
        [numbers["final_ratio_high"] < 1.0, numbers["progress_diff_high"] < 0.0],
    )
    return Verdict(outcome, _summary(evidence, stats), numbers)


CLAIM = Claim(
    key="adagrad-stalls",
    number=NUMBER,
    statement=(
        "Slide: 'What happens to the step size over long time?'  Transcript (translated): with AdaGrad "
        "the step size gets smaller and smaller, because the squared-gradient sum grows monotonically; "
        "for convex problems that is a good property, but in the non-convex case, when you reach a "
        "local extremum AdaGrad can get you stuck there and training cannot go on; RMSProp is the "
        "variant that takes this into account."
    ),
    experiment=(
        "The 2-D Rosenbrock function (non-convex banana valley) from the classic start (-1.2, 1) plus "
        f"0.1 N(0, I) per seed, full gradients, a long run of {STEPS} steps, recorded every "
        f"{RECORD} steps.  "
        "AdaGrad (eps 1e-7) and RMSProp (decay 0.99, eps 1e-7), each at its best lr on a half-decade "
        f"grid (AdaGrad {', '.join(f'{x:g}' for x in GRID['adagrad'])}; RMSProp "
        f"{', '.join(f'{x:g}' for x in GRID['rmsprop'])}; --quick: the middle three of each), selected "
        f"by the lowest median log10 final subopt on the tuning seeds {', '.join(map(str, TUNE_SEEDS))} "
        "and evaluated on the budget's run seeds (8; 5 with --quick), which differ from them."
    ),
    statistic=(
        "On the evaluation seeds, paired per seed: the final-subopt ratio AdaGrad / RMSProp and the "
        "difference of the decades of progress over the second half, log10(subopt(T/2) / subopt(T)), "
        "RMSProp minus AdaGrad; medians with 95% percentile bootstrap intervals.  Holds if the ratio's "
        "interval lies above 1 (AdaGrad ends worse) and the difference's above 0 (AdaGrad progresses "
        "less late in the run); does not hold if the ratio's interval lies below 1 or the difference's "
        "below 0; inconclusive otherwise."
    ),
    arms=arms,
    criterion=criterion,
)
