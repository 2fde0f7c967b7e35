"""Claim 14, random search against grid search: random search covers the
hyper-parameter space better when performance is more sensitive to one
hyper-parameter than to the others.

Experiment: Adam, :data:`SEARCH_STEPS` full-batch steps on standardized breast_cancer
logistic regression; a trial's objective is its final suboptimality
``f(x_T) - f*``.  Full batch makes the objective a deterministic function of the
trial (and of ``x0``): the best value a search reports is exactly what its chosen
setting gives when run again, so there is no selection noise to hold out.  Search
space (:func:`search_space`): the learning rate, log-uniform on the project's default
range 1e-5..10 (it matters), beta2 uniform on 0.99..0.9999 (it hardly does) and eps
log-uniform on 1e-10..1e-6 (it does not).

One replicate per search seed ``s`` (:func:`search_seeds`; the run seed of all its
trials), at each budget ``n = k^3`` of :data:`SEARCH_BUDGETS`:

- grid search: the ``k x k x k`` grid at a fresh random offset (:func:`shifted_grid`):
  ``u_d ~ U(0, 1)`` per dimension from ``default_rng([s, 14, n])`` and the points
  ``low_d + (i + u_d) / k * (high_d - low_d)``, ``i = 0..k-1``, on each dimension's
  own scale (log for lr and eps), so the grid tries only ``k`` learning rates;
- random search: the first ``n`` of 27 independent trials drawn from
  ``default_rng([s, 14, 0])`` (one random search stopped after 8 and after 27 trials).

Verdict (:func:`search_criterion`): at each budget, per replicate the paired ratio
``best(random) / best(grid)`` of the best objective over each search's trials (a
diverged trial counts ``+inf``); its median with a bootstrap interval over
replicates.  A budget holds if the interval lies below 1, does not hold if above 1,
else inconclusive (``by_setting``); the claim holds if every budget holds, does not
hold if any does not, else inconclusive.  Which parameter matters is measured on the
3x3x3 grids (:func:`grid_spreads`): the spread ``max - min`` of ``log10`` objective
along each parameter, the others held fixed.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_interval, fmt, interval, ratio
from .run_tables import TUNE_SEED_OFFSET, failed_note, final_values

__all__ = [
    "CLAIM", "RANDOM_TIERS", "SEARCHES_PER_SEED", "SEARCH_BUDGETS", "SEARCH_OPTIMIZER",
    "SEARCH_PROBLEM", "SEARCH_STEPS", "budget_table", "grid_spreads", "random_arm",
    "search_arms", "search_criterion", "search_seeds", "search_space", "setting_name",
    "shifted_grid",
]

SEARCH_PROBLEM = {"dataset": "breast_cancer", "standardize": True, "batch_size": None, "seed": 0}
SEARCH_OPTIMIZER = "adam"
SEARCH_STEPS = 50
#: Equal budgets of both searches: ``k x k x k`` grids against ``k^3`` random trials.
SEARCH_BUDGETS = (8, 27)
#: The random trials of one search in arms: trials ``a..b`` (1-based) in arm ``random a-b``.
RANDOM_TIERS = ((1, 8), (9, 27))
#: Searches per run seed (full size, --quick): run seed ``s`` gives the search seeds
#: ``s + 1000 k`` for k below this (40 searches at full size, 30 with --quick).
SEARCHES_PER_SEED = {False: 25, True: 6}


def search_space() -> dict[str, Any]:
    """Adam's lr on the project's default range (it matters), beta2 (it hardly does) and
    eps (it does not)."""
    from ...search_space import DEFAULT_LR_RANGE, LogUniform, Uniform

    return {"lr": LogUniform(*DEFAULT_LR_RANGE), "beta2": Uniform(0.99, 0.9999),
            "eps": LogUniform(1e-10, 1e-6)}


def search_seeds(budget: Budget) -> tuple[int, ...]:
    """The search seeds: :data:`SEARCHES_PER_SEED` per run seed (the run seeds first)."""
    per = SEARCHES_PER_SEED[budget.quick]
    return tuple(s + TUNE_SEED_OFFSET * k for k in range(per) for s in budget.seeds)


def shifted_grid(space: Mapping[str, Any], k: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """The grid of ``k`` points per dimension at a random offset: per dimension (in
    sorted name order) ``u ~ U(0, 1)`` and the points ``space[d].from_unit((i + u) / k)``,
    ``i < k`` (on the dimension's own scale, log for a LogUniform); first name slowest."""
    axes = []
    for d in sorted(space):
        u = rng.uniform()
        axes.append([float(space[d].from_unit((i + u) / k)) for i in range(k)])
    return [dict(zip(sorted(space), point)) for point in itertools.product(*axes)]


def setting_name(n: int) -> str:
    """A budget as a setting of the verdict map: ``"9 trials"``."""
    return f"{n} trials"


def random_arm(first: int, last: int) -> str:
    """The arm of random trials ``first..last`` (1-based) of every search: ``"random 1-8"``."""
    return f"random {first}-{last}"


def _spec(trial: Mapping[str, float], seed: int) -> RunSpec:
    return RunSpec(problem="logistic", problem_params=SEARCH_PROBLEM, optimizer=SEARCH_OPTIMIZER,
                   optimizer_params={k: float(v) for k, v in trial.items()}, seed=seed,
                   steps=SEARCH_STEPS, record_every=SEARCH_STEPS)


def search_arms(budget: Budget) -> list[Arm]:
    """Arms ``grid n`` (each search's shifted ``k x k`` grid, ``n = k^2``) and
    ``random a-b`` (trials ``a..b`` of each search's 16 random trials); every trial of
    search ``s`` is one Adam run with run seed ``s``."""
    from ...samplers import random_trials

    space = search_space()
    grids: dict[int, list[RunSpec]] = {n: [] for n in SEARCH_BUDGETS}
    tiers: dict[tuple[int, int], list[RunSpec]] = {t: [] for t in RANDOM_TIERS}
    for s in search_seeds(budget):
        for n in SEARCH_BUDGETS:
            k = round(n ** (1 / len(space)))
            grids[n] += [_spec(t, s) for t in shifted_grid(space, k, np.random.default_rng([s, 14, n]))]
        trials = random_trials(space, max(SEARCH_BUDGETS), np.random.default_rng([s, 14, 0]))
        for first, last in RANDOM_TIERS:
            tiers[(first, last)] += [_spec(t, s) for t in trials[first - 1:last]]
    return ([Arm(f"grid {n}", tuple(grids[n])) for n in SEARCH_BUDGETS]
            + [Arm(random_arm(*t), tuple(tiers[t])) for t in RANDOM_TIERS])


def budget_table(finals: pd.DataFrame) -> pd.DataFrame:
    """Per budget ``n`` and search seed: ``grid`` and ``random``, the best objective of
    the ``n``-trial grid and of the first ``n`` random trials, and their ratio."""
    rows = []
    for n in SEARCH_BUDGETS:
        grid = finals[finals["arm"] == f"grid {n}"].groupby("seed")["value"].min()
        arms = [random_arm(a, b) for a, b in RANDOM_TIERS if b <= n]
        rand = finals[finals["arm"].isin(arms)].groupby("seed")["value"].min()
        both = pd.concat({"grid": grid, "random": rand}, axis=1).dropna()
        both["ratio"] = ratio(both["random"].to_numpy(), both["grid"].to_numpy())
        rows.append(both.reset_index().assign(budget=n))
    return pd.concat(rows, ignore_index=True)


def grid_spreads(finals: pd.DataFrame) -> dict[str, float]:
    """How much each parameter matters, on the largest grids: per search and values of
    the other parameters, the spread (max - min) of log10 objective along that one
    (finite runs only); ``decades_over_<name>``, the median over searches and values."""
    grid = finals[finals["arm"] == f"grid {max(SEARCH_BUDGETS)}"]
    grid = grid[np.isfinite(grid["value"].astype(float))].copy()
    grid["log"] = np.log10(np.clip(grid["value"].astype(float), 1e-300, None))
    spread = {}
    for name in sorted(search_space()):
        others = [f"optimizer.{o}" for o in sorted(search_space()) if o != name]
        by = grid.groupby(["seed", *others])["log"].agg(lambda v: v.max() - v.min())
        spread[f"decades_over_{name}"] = float(by.median()) if len(by) else math.nan
    return spread


def _budget_numbers(table: pd.DataFrame, n: int, label: int) -> dict[str, float]:
    rows = table[table["budget"] == n]
    r = rows["ratio"].to_numpy(dtype=float)
    r = r[~np.isnan(r)]
    low, high = bootstrap_interval(r, label=label) if r.size >= 2 else (math.nan, math.nan)
    return {f"ratio_{n}": float(np.median(r)) if r.size else math.nan, f"ratio_{n}_low": low,
            f"ratio_{n}_high": high, f"random_wins_{n}": float(np.mean(r < 1)) if r.size else math.nan,
            f"best_grid_{n}": float(rows["grid"].median()),
            f"best_random_{n}": float(rows["random"].median())}


def _search_summary(numbers: dict[str, float], by_setting: dict[str, str], evidence: Evidence) -> str:
    parts = [f"{n} trials {fmt(numbers[f'ratio_{n}'])} "
             f"{interval(numbers[f'ratio_{n}_low'], numbers[f'ratio_{n}_high'])}, random better in "
             f"{100 * numbers[f'random_wins_{n}']:.0f}% ({by_setting[setting_name(n)]})"
             for n in SEARCH_BUDGETS]
    return (f"over {numbers['searches']:.0f} paired searches of Adam on logistic regression, median "
            f"ratio best(random)/best(grid) of the final suboptimality at equal budget: "
            + "; ".join(parts) + f"; on the 3x3x3 grids the objective spans "
            f"{numbers['decades_over_lr']:.2g} decades over lr, "
            f"{numbers['decades_over_beta2']:.2g} over beta2 and "
            f"{numbers['decades_over_eps']:.2g} over eps{failed_note(evidence)}")


def search_criterion(evidence: Evidence) -> Verdict:
    """Per budget, the median paired ratio best(random)/best(grid) with its interval."""
    finals = final_values(evidence, "subopt")
    if finals.empty:
        return Verdict(INCONCLUSIVE, "no finished runs; nothing to compare" + failed_note(evidence))
    table = budget_table(finals)
    numbers: dict[str, float] = {"searches": float(table.groupby("budget").size().min())}
    by_setting = {}
    for i, n in enumerate(SEARCH_BUDGETS):
        numbers.update(_budget_numbers(table, n, label=40 + i))
        by_setting[setting_name(n)] = side(numbers[f"ratio_{n}_low"], numbers[f"ratio_{n}_high"],
                                           1.0, "below")
    numbers.update(grid_spreads(finals))
    return Verdict(combined(by_setting.values()), _search_summary(numbers, by_setting, evidence),
                   numbers, by_setting)


CLAIM = Claim(
    key="random-vs-grid-search",
    number=14,
    statement=(
        "Random search covers the hyper-parameter space better than grid search when the "
        "model's performance is more sensitive to one hyper-parameter than to the others."
    ),
    experiment=(
        "Adam, 50 full-batch steps on standardized breast_cancer logistic regression; a "
        "trial's objective is its final suboptimality (deterministic: full batch, so the best "
        "value found is what the chosen setting gives again). Search space: lr log-uniform on "
        "the project's default range 1e-5..10 (it matters), beta2 uniform on 0.99..0.9999 (it "
        "hardly does) and eps log-uniform on 1e-10..1e-6 (it does not). Per search seed s and "
        "equal budget n of 8 and 27 trials: the k x k x k grid (n = k^3) shifted by a fresh "
        "offset u ~ U(0, 1) per dimension (points (i + u)/k of each range, on the log scale for "
        "lr and eps; Generator [s, 14, n]), against the first n of 27 random trials "
        "(optbench.samplers.random_trials, Generator [s, 14, 0]); every trial is one run with "
        "run seed s. 25 search seeds per run seed (s + 1000 k): 200 searches of each kind (6 "
        "per run seed, 30, with --quick)."
    ),
    statistic=(
        "Per budget and search seed: the paired ratio best(random)/best(grid) of the best final "
        "suboptimality over each search's trials (a diverged trial counts +inf); its median "
        "with a 95% bootstrap interval over searches. A budget holds if the interval lies below "
        "1, does not hold if it lies above 1, else inconclusive (the map over 8 and 27 trials). "
        "The claim holds if every budget holds, does not hold if any does not, else "
        "inconclusive. Reported, not part of the rule: the spread of log10 objective along lr, "
        "beta2 and eps on the 3x3x3 grids, and the share of searches random wins."
    ),
    arms=search_arms,
    criterion=search_criterion,
)
