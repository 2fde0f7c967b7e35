"""Claim 7, ``adam-good-default``: Adam with beta1 0.9, beta2 0.999 and lr 1e-3 (or 5e-4)
is a good default, a starting point that works on any new problem; judged against the
step budget, where the tuned methods have converged.

Experiment
    Four problems of the built-in suites (:data:`DEFAULT_PROBLEMS`: a 20-D quadratic,
    2-D Rosenbrock, minibatch logistic regression, a small net on the spiral), problem
    ``p`` with base steps ``n_p`` (:func:`base_steps`: 2000, 2000, 1000, 500; --quick
    400 and 150 for the last two).  The budgets are ``B = m n_p`` for ``m`` in
    :data:`BUDGETS` (1x, 3x, 10x, 30x).  Untuned Adam at the rates of
    :data:`DEFAULT_LRS` (--quick: 1e-3 only) against SGD, momentum, RMSProp and Adam
    (:data:`TUNED_METHODS`; --quick: :data:`QUICK_TUNED`), each on the rate grid
    :data:`TUNE_GRID`; every configuration on every run seed.
One run per configuration and seed
    No run depends on its length: the rates are constant (no schedule), Adam's bias
    correction depends on the step index only, and the minibatches are drawn step by
    step from the run seed.  So one run of ``30 n_p`` steps, recorded at every ``B``
    and ``B / 3`` (:func:`checkpoints`) and at :data:`RECORD_PER_DECADE` log-spaced
    steps per decade (:func:`recorded_steps`), gives at each checkpoint the final gap
    of a run of that length recorded at the same steps
    (:func:`~optbench.claims.adaptive.run_tables.gap_at`): the sweep costs its
    longest budget only.  As every optbench run, a run stops as converged at the first
    recorded step with gradient norm ``<= 1e-10`` and keeps that gap.  This matters
    for untuned Adam on the quadratic and Rosenbrock: with its constant rate it does
    not settle there but keeps bouncing once near the optimum (gaps from below 1e-12 up
    to about 1e-5 after 20000 steps, median about 1e-8 on the quadratic), so its gap
    read at a fixed step without the stop would be partly luck, and some 1e7 times the
    tuned methods' 1e-15.
Per budget
    Tuning is redone at every checkpoint by leave-one-seed-out over methods x rates on
    the gaps there (:func:`~optbench.claims.adaptive.run_tables.loso_select`):
    ``best_s(B)`` is the gap at ``B`` of the configuration chosen for seed ``s`` on the
    other seeds.  Per problem, the paired ratio ``r_s(B) = adam_s(B) / best_s(B)``
    (untuned Adam, lr 1e-3), its median with a bootstrap 95% interval: "within" if the
    interval lies at or below :data:`GOOD_FACTOR`, "not within" if above it.  The
    budget's outcome: holds if within on at least :data:`GOOD_FRACTION` of the problems
    (3 of 4), does not hold if not within on 2 or more (3 can no longer be reached),
    inconclusive otherwise.  ``by_setting`` holds every budget's own outcome.
Convergence of the tuned methods
    With ``g(B) = median_s best_s(B)``, the tuned methods have converged at ``B`` on a
    problem if ``g(B / 3) <= CONVERGED_FACTOR * g(B)``: the last two thirds of the
    budget lowered the best tuned gap less than :data:`CONVERGED_FACTOR`-fold (the
    claim's own resolution).  A budget is *decisive* if they have converged there on
    every problem.  (On the net the loss stands in for the gap, so this rule and the
    ratio are both lenient there: a loss near its floor never falls 10-fold.)
Verdict
    The outcome at the largest decisive budget: the claim is about the quality a
    default reaches, so it is judged where the tuned methods have stopped improving,
    and there where untuned Adam has had the most steps; inconclusive if no budget is
    decisive.  The smaller budgets keep their own outcomes in ``by_setting``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .intervals import interval_text, median, median_ci
from .run_tables import gap_at, loso_select, n_errors, run_values, seeded_arm

__all__ = ["BUDGETS", "CLAIM", "CONVERGED_FACTOR", "DEFAULT_LRS", "DEFAULT_PROBLEMS", "GOOD_FACTOR",
           "GOOD_FRACTION", "QUICK_TUNED", "TUNED_METHODS", "TUNE_GRID", "base_steps", "budget_gaps",
           "budget_label", "checkpoints", "criterion", "judge_budgets", "per_budget", "recorded_steps",
           "setting_name", "tuned_methods"]

#: (name, family, parameters, base steps full, base steps quick) of claim 7's problems.
DEFAULT_PROBLEMS = (
    ("quadratic", "quadratic", {"dim": 20, "condition_number": 100.0}, 2000, 2000),
    ("rosenbrock", "rosenbrock", {"dim": 2}, 2000, 2000),
    ("logistic", "logistic", {"n_samples": 500, "n_features": 10, "batch_size": 32,
                              "standardize": True}, 1000, 400),
    ("mlp", "mlp", {"dataset": "spiral", "hidden": [16], "activation": "relu", "init": "he",
                    "batch_size": 32}, 500, 150),
)
#: The budgets, as multiples of each problem's base steps.
BUDGETS = (1, 3, 10, 30)
#: The tuned methods' learning-rate grid (one point per decade) and fixed parameters.
TUNE_GRID = (1e-3, 1e-2, 1e-1, 1.0)
TUNED_METHODS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sgd", {}), ("momentum", {"rho": 0.9}), ("rmsprop", {}), ("adam", {}))
QUICK_TUNED = ("momentum",)
#: The lecture's untuned rates: the first decides, the second is reported (full budget).
DEFAULT_LRS = (1e-3, 5e-4)
#: "Good default": untuned Adam's gap within this factor of the best tuned method's.
GOOD_FACTOR = 10.0
#: ... on at least this fraction of the problems.
GOOD_FRACTION = 0.75
#: Log-spaced recorded steps per decade (besides the checkpoints).
RECORD_PER_DECADE = 20
#: The tuned methods have converged at B if their gap at B/3 is at most this times that at B.
CONVERGED_FACTOR = 10.0


def base_steps(budget: Budget) -> dict[str, int]:
    """Each problem's base step count ``n_p`` (the 1x budget) at this budget's size."""
    return {name: (quick if budget.quick else full) for name, _, _, full, quick in DEFAULT_PROBLEMS}


def checkpoints(base: int) -> list[int]:
    """The steps read on a problem of base ``base``: every budget ``B`` and ``B / 3``."""
    return sorted({m * base for m in BUDGETS} | {round(m * base / 3) for m in BUDGETS})


def recorded_steps(base: int) -> list[int]:
    """The steps a run records: the :func:`checkpoints` and ``round(10 ** (j / RECORD_PER_DECADE))``
    up to the longest budget (where the runner also tests the gradient norm, ``tol_grad``)."""
    last = max(BUDGETS) * base
    logs = {round(10 ** (j / RECORD_PER_DECADE))
            for j in range(int(RECORD_PER_DECADE * math.log10(last)) + 1)}
    return sorted({s for s in logs if s <= last} | set(checkpoints(base)))


def setting_name(m: int) -> str:
    """Budget ``m`` as a setting of the verdict's map, ``"10x steps"``: the same at every
    size (the steps behind it differ: :func:`budget_label`)."""
    return f"{m}x steps"


def budget_label(m: int, budget: Budget) -> str:
    """``"10x (5000-20000 steps)"``: budget ``m`` and its range of steps over the problems."""
    steps = sorted({m * n for n in base_steps(budget).values()})
    span = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
    return f"{m}x ({span} steps)"


def _untuned_lrs(budget: Budget) -> tuple[float, ...]:
    """Untuned Adam's rates at this budget's size (--quick: 1e-3 only)."""
    return DEFAULT_LRS[:1] if budget.quick else DEFAULT_LRS


def _arms(budget: Budget) -> list[Arm]:
    methods = [m for m in TUNED_METHODS if m[0] in tuned_methods(budget)]
    bases = base_steps(budget)
    arms = []
    for pname, family, params, *_ in DEFAULT_PROBLEMS:
        base = bases[pname]
        configs = [(method, hyper, lr) for method, hyper in methods for lr in TUNE_GRID]
        configs += [("adam", {}, lr) for lr in _untuned_lrs(budget) if ("adam", lr) not in
                    {(m, r) for m, _, r in configs}]
        for method, hyper, lr in configs:
            arms.append(seeded_arm(f"{pname}/{method}/{lr:g}", budget.seeds, problem=family,
                                   optimizer=method, problem_params=params,
                                   optimizer_params={"lr": lr, **hyper}, steps=max(BUDGETS) * base,
                                   options={"record": recorded_steps(base)}))
    return arms


def _steps_at(evidence: Evidence, m: int, divisor: int) -> Any:
    """``value(rows, status)`` for :func:`run_values`: the run's gap at ``m n_p / divisor``."""
    bases = base_steps(evidence.budget)

    def value(rows: Any, status: str) -> float:
        base = bases[str(rows["arm"][0]).split("/")[0]]
        return gap_at(rows, status, round(m * base / divisor))
    return value


def budget_gaps(evidence: Evidence) -> pd.DataFrame:
    """Every run's gap (:func:`~optbench.claims.adaptive.run_tables.gap_at`) at each budget
    ``B = m n_p`` (``gap``) and at ``B / 3`` (``gap_third``), one row per run and budget,
    with its arm split into ``problem``, ``method`` and ``lr`` and ``m`` in ``budget``
    (NaN gaps for a failed run)."""
    frames = []
    for m in BUDGETS:
        values = run_values(evidence, _steps_at(evidence, m, 1))
        third = run_values(evidence, _steps_at(evidence, m, 3))
        frames.append(values.rename(columns={"value": "gap"}).assign(
            gap_third=third["value"].to_numpy(), budget=m))
    table = pd.concat(frames, ignore_index=True)
    if not len(table):
        return table.assign(problem=[], method=[], lr=[])
    parts = table["arm"].str.split("/", expand=True)
    return table.assign(problem=parts[0], method=parts[1], lr=parts[2].astype(float))


def tuned_methods(budget: Budget) -> tuple[str, ...]:
    """The names of the methods tuned at this budget's size."""
    return tuple(m for m, _ in TUNED_METHODS if not budget.quick or m in QUICK_TUNED)


def _tuned(sub: pd.DataFrame, column: str, methods: tuple[str, ...]) -> pd.DataFrame:
    """Leave-one-seed-out choice over ``methods`` x the grid's rates on ``column``."""
    grid = sub[sub["lr"].isin(TUNE_GRID) & sub["method"].isin(methods)]
    return loso_select(pd.DataFrame({"config": list(zip(grid["method"], grid["lr"])),
                                     "seed": grid["seed"], "value": grid[column]}))


def _budget_rows(problem: str, m: int, sub: pd.DataFrame, methods: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of :func:`per_budget` of one problem and budget."""
    best = _tuned(sub, "gap", methods)
    third = _tuned(sub, "gap_third", methods).set_index("seed")["value"]
    adam = sub[sub["method"] == "adam"]
    untuned = {(float(lr), int(seed)): float(v) for lr, seed, v in zip(adam["lr"], adam["seed"], adam["gap"])}
    rows = []
    for row in best.itertuples(index=False):
        rec = {"problem": problem, "budget": m, "seed": row.seed, "best": row.value,
               "best_third": float(third.get(row.seed, math.nan)),
               "best_config": "" if row.config is None else f"{row.config[0]}[lr={row.config[1]:g}]"}
        for lr in DEFAULT_LRS:
            rec[f"adam_{lr:g}"] = untuned.get((lr, int(row.seed)), math.nan)
        rows.append(rec)
    return rows


def per_budget(table: pd.DataFrame, methods: tuple[str, ...]) -> pd.DataFrame:
    """Per problem, budget and seed of :func:`budget_gaps`' ``table``: untuned Adam's gaps
    (``adam_<lr>``), the best tuned method's gap at ``B`` (``best``, chosen by
    leave-one-seed-out over ``methods`` x grid at ``B``) and its name (``best_config``), that
    at ``B / 3`` (``best_third``, chosen at ``B / 3``), and the paired ratio ``ratio``
    (untuned Adam at lr 1e-3 / ``best``)."""
    rows = []
    for (problem, m), sub in table.groupby(["problem", "budget"], sort=False):
        rows.extend(_budget_rows(problem, int(m), sub, methods))
    out = pd.DataFrame(rows)
    if len(out):
        with np.errstate(invalid="ignore", divide="ignore"):
            out["ratio"] = out[f"adam_{DEFAULT_LRS[0]:g}"] / out["best"]
    return out


def _judge_problem(key: str, sub: pd.DataFrame, seed: int, numbers: dict[str, float]) -> tuple[str, bool]:
    """``(word, converged)`` of one problem at one budget (``key``: ``"<problem>_<m>x"``):
    within, not within or unclear, and whether the tuned methods have converged; adds
    the numbers to ``numbers``."""
    med, low, high = median_ci(sub["ratio"], seed=seed)
    gap, third = median(sub["best"]), median(sub["best_third"])
    converged = bool(math.isfinite(gap) and third <= CONVERGED_FACTOR * gap)
    numbers.update({f"{key}_ratio_median": med, f"{key}_ratio_low": low, f"{key}_ratio_high": high,
                    f"{key}_adam_default_gap": median(sub[f"adam_{DEFAULT_LRS[0]:g}"]),
                    f"{key}_best_tuned_gap": gap, f"{key}_best_tuned_gap_third": third,
                    f"{key}_converged": float(converged)})
    if sub[f"adam_{DEFAULT_LRS[1]:g}"].notna().any():
        numbers[f"{key}_adam_5e-4_ratio_median"] = median(sub[f"adam_{DEFAULT_LRS[1]:g}"] / sub["best"])
    enough = sub["ratio"].notna().sum() >= 2
    word = "within" if enough and high <= GOOD_FACTOR else \
        "not within" if enough and low > GOOD_FACTOR else "unclear"
    return word, converged


def _outcome(words: list[str], n: int) -> str:
    """A budget's outcome from its problems' words (``n`` problems in all)."""
    need = math.ceil(GOOD_FRACTION * n)
    if words.count("within") >= need:
        return HOLDS
    return FAILS if words.count("not within") > n - need else INCONCLUSIVE


def judge_budgets(per: pd.DataFrame, numbers: dict[str, float]) -> list[dict[str, Any]]:
    """Per budget ``m`` of :data:`BUDGETS`: ``{"budget": m, "outcome", "decisive", "words":
    {problem: word}, "converged": {problem: bool}}`` from :func:`per_budget`'s table; adds
    the numbers to ``numbers``.  A problem without rows is unclear and not converged."""
    out = []
    for j, m in enumerate(BUDGETS):
        words, converged = {}, {}
        for i, (problem, *_) in enumerate(DEFAULT_PROBLEMS):
            sub = per[(per["problem"] == problem) & (per["budget"] == m)] if len(per) else per
            if len(sub):
                words[problem], converged[problem] = _judge_problem(
                    f"{problem}_{m}x", sub, 700 + 10 * j + i, numbers)
            else:
                words[problem], converged[problem] = "unclear", False
        outcome = _outcome(list(words.values()), len(DEFAULT_PROBLEMS))
        decisive = all(converged.values())
        numbers.update({f"{m}x_problems_within": list(words.values()).count("within"),
                        f"{m}x_decisive": float(decisive)})
        out.append({"budget": m, "outcome": outcome, "decisive": decisive, "words": words,
                    "converged": converged})
    return out


def _overall(judged: list[dict[str, Any]]) -> str:
    """The outcome at the largest decisive budget; inconclusive if none is decisive."""
    decisive = [j["outcome"] for j in judged if j["decisive"]]
    return decisive[-1] if decisive else INCONCLUSIVE


def _budget_text(j: dict[str, Any], label: str, numbers: dict[str, float]) -> str:
    parts = []
    for problem in j["words"]:
        key = f"{problem}_{j['budget']}x"
        if f"{key}_ratio_median" in numbers:
            stats = (numbers[f"{key}_ratio_{p}"] for p in ("median", "low", "high"))
            parts.append(f"{problem} {interval_text(*stats)}")
    still = [p for p, c in j["converged"].items() if not c]
    tuned = "tuned converged" if not still else f"tuned not converged on {', '.join(still)}"
    return f"{label}: {', '.join(parts) or 'no runs'} -> {j['outcome']} ({tuned})"


def criterion(evidence: Evidence) -> Verdict:
    """Claim 7's verdict over the budgets, decided at the decisive ones (module docstring)."""
    table = budget_gaps(evidence)
    first = table[table["budget"] == BUDGETS[0]] if len(table) else table
    numbers: dict[str, float] = {"error_runs": n_errors(first.rename(columns={"gap": "value"}))}
    judged = judge_budgets(per_budget(table, tuned_methods(evidence.budget)), numbers)
    labels = {j["budget"]: budget_label(j["budget"], evidence.budget) for j in judged}
    by_setting = {setting_name(j["budget"]): j["outcome"] for j in judged}
    outcome = _overall(judged)
    decisive = [f"{j['budget']}x" for j in judged if j["decisive"]]
    numbers["decisive_budgets"] = len(decisive)
    text = ("untuned Adam (lr 1e-3) gap / best tuned method's, median [95% CI] over seeds, within "
            f"{GOOD_FACTOR:g}x needed on 3 of 4 problems; "
            + "; ".join(_budget_text(j, labels[j["budget"]], numbers) for j in judged)
            + f"; decisive (tuned converged on every problem): {', '.join(decisive) or 'none'}; "
            + (f"verdict of the largest, {decisive[-1]}" if decisive else "no verdict"))
    if numbers["error_runs"]:
        text += f"; {numbers['error_runs']:g} run(s) failed and are left out"
    return Verdict(outcome, text, numbers, by_setting)


CLAIM = Claim(
    key="adam-good-default",
    number=7,
    statement=("Adam with beta1 = 0.9, beta2 = 0.999 and learning rate 1e-3 or 5e-4 is a great "
               "starting point for many models: a default that works on any new problem. Judged "
               "against the step budget, at the budgets where the tuned methods have converged."),
    experiment=("Four problems of the built-in suites with base steps n: a 20-D quadratic (condition "
                "number 100, n = 2000), 2-D Rosenbrock (n = 2000), minibatch logistic regression (500 x "
                "10, standardized, batch 32, n = 1000) and a small net on the spiral (one hidden layer of "
                "16 ReLU, batch 32, n = 500); budgets 1x, 3x, 10x and 30x n. Untuned Adam at lr 1e-3 (and "
                "5e-4, reported) against SGD, momentum (rho 0.9), RMSProp and Adam, each tuned on the rate "
                "grid 1e-3, 1e-2, 1e-1, 1; every configuration on every run seed. No rate depends on the "
                "run's length (constant rates, minibatches drawn step by step), so one run of 30n steps "
                "recorded at every budget B, at B/3 and at 20 log-spaced steps per decade gives the final "
                "gap of a run of each length; a run stops as converged at the first recorded gradient "
                "norm <= 1e-10 and keeps that gap (untuned Adam, which keeps bouncing near the optimum of "
                "the quadratic and Rosenbrock, gaps from below 1e-12 to about 1e-5, is read where it "
                "first stops). "
                "Tuning is redone at every budget by leave-one-seed-out (for each seed the method and "
                "rate with the lowest geometric-mean gap at that budget over the other seeds). --quick: "
                "n = 400 for logistic regression and 150 for the net, momentum the only tuned method, "
                "untuned Adam at 1e-3 only."),
    statistic=("Per budget and problem, the paired per-seed ratio of untuned Adam's (lr 1e-3) gap to "
               "that of the best tuned method, its median with a bootstrap 95% interval: 'within' if "
               "the interval lies at or below 10, 'not within' if above 10. A budget holds if Adam is "
               "within on at least 3 of the 4 problems, does not hold if not within on 2 or more, is "
               "inconclusive otherwise (the map: every budget with its own outcome). The tuned methods "
               "have converged at budget B on a problem if the median best tuned gap at B/3 is at most "
               "10 times that at B (the last two thirds of the budget gained less than 10-fold); a "
               "budget is decisive if they have converged on every problem. The verdict is the "
               "outcome at the largest decisive budget (a default is judged by what it reaches, where "
               "the tuned methods have stopped improving); inconclusive if no budget is decisive."),
    arms=_arms,
    criterion=criterion,
)
