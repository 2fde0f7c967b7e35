"""Claim 14, random search against grid search: random search covers the
hyper-parameter space better when performance is more sensitive to one
hyper-parameter than to the others.

Experiment: Adam on standardized breast_cancer logistic regression.  Search space
(:func:`search_space`): the learning rate, log-uniform on the project's default range
(it matters), and beta2, uniform on 0.99..0.9999 (it hardly does).  With the same
budget of :data:`SEARCH_TRIALS` trials, the 3x3 grid against random trials drawn with
a Generator seeded by the search seed (:func:`search_arms`); each trial is one run
with the search seed as run seed, several search seeds per run seed
(:func:`search_seeds`).

Verdict (:func:`search_criterion`): per search seed the number of distinct learning
rates tried and the best final suboptimality over the trials (a diverged trial counts
+inf); the per-seed ratio best(random)/best(grid), median with a bootstrap interval.
Holds if random tries more distinct rates on every seed and the interval lies below
1; does not hold if the interval lies above 1 or random does not try more distinct
rates; inconclusive otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_interval, fmt, interval, ratio, side
from .run_tables import TUNE_SEED_OFFSET, failed_note, final_values

__all__ = [
    "CLAIM", "SEARCHES_PER_SEED", "SEARCH_OPTIMIZER", "SEARCH_PROBLEM", "SEARCH_TRIALS",
    "search_arms", "search_criterion", "search_seeds", "search_space",
]

SEARCH_PROBLEM = {"dataset": "breast_cancer", "standardize": True, "batch_size": 32, "seed": 0}
SEARCH_OPTIMIZER = "adam"
SEARCH_TRIALS = 9


def search_space() -> dict[str, Any]:
    """Adam's lr on the project's default range (it matters) and beta2 (it hardly does)."""
    from ...tuning import DEFAULT_LR_RANGE, LogUniform, Uniform

    return {"lr": LogUniform(*DEFAULT_LR_RANGE), "beta2": Uniform(0.99, 0.9999)}


def _search_steps(budget: Budget) -> int:
    """The same at both sizes: --quick runs fewer searches, not shorter ones."""
    return 300


#: Searches per run seed (full size, --quick): run seed ``s`` gives the search seeds
#: ``s + 1000 k`` for k below this.
SEARCHES_PER_SEED = {False: 3, True: 2}


def search_seeds(budget: Budget) -> tuple[int, ...]:
    """The search seeds: :data:`SEARCHES_PER_SEED` per run seed (the run seeds first)."""
    per = SEARCHES_PER_SEED[budget.quick]
    return tuple(s + TUNE_SEED_OFFSET * k for k in range(per) for s in budget.seeds)


def search_arms(budget: Budget) -> list[Arm]:
    """Per search seed ``s``: the 3x3 grid and 9 random trials (Generator seeded by
    ``[s, 14]``), each trial one Adam run with run seed ``s``."""
    from ...tuning import grid_trials, random_trials

    space = search_space()
    steps = _search_steps(budget)

    def spec(trial: dict[str, Any], s: int) -> RunSpec:
        return RunSpec(problem="logistic", problem_params=SEARCH_PROBLEM, optimizer=SEARCH_OPTIMIZER,
                       optimizer_params={k: float(v) for k, v in trial.items()}, seed=s,
                       steps=steps, record_every=steps)

    grid = grid_trials(space, SEARCH_TRIALS)
    grid_specs, random_specs = [], []
    for s in search_seeds(budget):
        grid_specs += [spec(t, s) for t in grid]
        random_specs += [spec(t, s) for t in random_trials(space, SEARCH_TRIALS,
                                                            np.random.default_rng([s, 14]))]
    return [Arm("grid", tuple(grid_specs)), Arm("random", tuple(random_specs))]


def _grid_spreads(finals: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """How much each parameter matters, from the grid: per seed and value of the other
    parameter, the spread (max - min) of log10 final subopt over lr, and over beta2
    (finite runs only)."""
    grid = finals[finals["arm"] == "grid"].copy()
    grid["log"] = np.log10(np.clip(grid["value"].astype(float), 1e-300, 1e300))
    by_lr = grid.groupby(["seed", "optimizer.beta2"])["log"].agg(lambda v: v.max() - v.min())
    finite = grid[np.isfinite(grid["value"])]
    by_b2 = finite.groupby(["seed", "optimizer.lr"])["log"].agg(lambda v: v.max() - v.min())
    return by_lr, by_b2


def _search_summary(numbers: dict[str, float], evidence: Evidence) -> str:
    return (
        f"with {SEARCH_TRIALS} trials of Adam on logistic regression, random search tries "
        f"{numbers['distinct_random']:.0f} distinct learning rates against the grid's "
        f"{numbers['distinct_grid']:.0f}; the best final suboptimality found is "
        f"{fmt(numbers['best_random'])} "
        f"(random) vs {fmt(numbers['best_grid'])} (grid), median paired ratio {fmt(numbers['ratio'])} "
        f"{interval(numbers['ratio_low'], numbers['ratio_high'])}; on the grid the final loss spans "
        f"{numbers['decades_over_lr']:.2g} "
        f"decades over lr and {numbers['decades_over_beta2']:.2g} over beta2{failed_note(evidence)}"
    )


def search_criterion(evidence: Evidence) -> Verdict:
    """Per search seed: distinct lrs tried and the best final subopt, random vs grid."""
    finals = final_values(evidence, "subopt")
    if finals.empty:
        return Verdict(INCONCLUSIVE, "no finished runs; nothing to compare" + failed_note(evidence))
    per = finals.groupby(["arm", "seed"]).agg(best=("value", "min"),
                                               distinct=("optimizer.lr", "nunique")).reset_index()
    wide = per.pivot(index="seed", columns="arm")
    if "grid" not in wide["best"] or "random" not in wide["best"]:
        return Verdict(INCONCLUSIVE, "one search has no finished runs" + failed_note(evidence))
    ratios = ratio(wide["best"]["random"].to_numpy(), wide["best"]["grid"].to_numpy())
    ratios = ratios[~np.isnan(ratios)]
    low, high = bootstrap_interval(ratios, label=40) if ratios.size >= 2 else (math.nan, math.nan)
    distinct_r = wide["distinct"]["random"].to_numpy(dtype=float)
    distinct_g = wide["distinct"]["grid"].to_numpy(dtype=float)
    more = bool(np.all(distinct_r > distinct_g))
    where = side(low, high, 1.0, "below")
    outcome = HOLDS if where == HOLDS and more else FAILS if where == FAILS or not more else INCONCLUSIVE
    by_lr, by_b2 = _grid_spreads(finals)
    numbers = {"ratio": float(np.median(ratios)) if ratios.size else math.nan, "ratio_low": low,
               "ratio_high": high, "distinct_random": float(np.median(distinct_r)),
               "distinct_grid": float(np.median(distinct_g)),
               "best_random": float(wide["best"]["random"].median()),
               "best_grid": float(wide["best"]["grid"].median()),
               "decades_over_lr": float(by_lr.median()), "decades_over_beta2": float(by_b2.median())}
    return Verdict(outcome, _search_summary(numbers, evidence), numbers)


CLAIM = Claim(
    key="random-vs-grid-search",
    number=14,
    statement=(
        "Random search covers the hyper-parameter space better than grid search when the "
        "model's performance is more sensitive to one hyper-parameter than to the others."
    ),
    experiment=(
        "Adam on standardized breast_cancer logistic regression (batch 32, 300 steps). Search "
        "space: lr log-uniform on the project's default range 1e-5..10 (it "
        "matters) and beta2 uniform on 0.99..0.9999 (it hardly does). Same budget of 9 trials: "
        "the 3x3 grid of optbench.tuning.grid_trials against 9 optbench.tuning.random_trials "
        "drawn with a Generator seeded by the search seed; each trial is one run with the "
        "search seed as run seed; 3 search seeds per run seed (s, s + 1000, s + 2000): 24 "
        "searches (2 per run seed, 10, with --quick)."
    ),
    statistic=(
        "Per search seed: the number of distinct lr values tried, and the best final "
        "suboptimality over the trials (a diverged trial counts +inf). Statistic: the per-seed "
        "ratio best(random)/best(grid), median with a 95% bootstrap interval. Holds if random "
        "tries more distinct lrs on every seed and the interval lies below 1; does not hold if "
        "the interval lies above 1 or random does not try more distinct lrs; inconclusive "
        "otherwise."
    ),
    arms=search_arms,
    criterion=search_criterion,
)
