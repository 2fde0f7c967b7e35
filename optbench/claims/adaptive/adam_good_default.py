"""Claim 7, ``adam-good-default``: Adam with beta1 0.9, beta2 0.999 and lr 1e-3 (or 5e-4)
is a good default, a starting point that works on any new problem.

Experiment
    Four problems of the built-in suites (:data:`DEFAULT_PROBLEMS`: a 20-D quadratic,
    2-D Rosenbrock, minibatch logistic regression, a small net on the spiral).  Untuned
    Adam at the rates of :data:`DEFAULT_LRS` against SGD, momentum, RMSProp and Adam
    (:data:`TUNED_METHODS`; --quick: :data:`QUICK_TUNED`, untuned Adam at 1e-3 only,
    fewer steps), each tuned on :data:`TUNE_GRID`; every configuration on every run
    seed; tuning by leave-one-seed-out over methods x rates on the final gap
    (:func:`~optbench.claims.adaptive.run_tables.loso_select`).
Verdict
    Per problem, the paired per-seed ratio of untuned Adam's (lr 1e-3) final gap to
    that of the best tuned method (:func:`per_problem`), its median with a bootstrap
    95% interval: "within" if the interval lies at or below :data:`GOOD_FACTOR`, "not
    within" if it lies above.  Holds if Adam is within on at least
    :data:`GOOD_FRACTION` of the problems (3 of 4); does not hold if it is not within
    on so many that this can no longer be reached (2 or more); inconclusive otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .intervals import interval_text, median, median_ci
from .run_tables import final_gap, loso_select, n_errors, run_values, seeded_arm

__all__ = ["CLAIM", "DEFAULT_LRS", "DEFAULT_PROBLEMS", "GOOD_FACTOR", "GOOD_FRACTION", "QUICK_TUNED",
           "TUNED_METHODS", "TUNE_GRID", "criterion", "final_gaps", "per_problem"]

#: (name, family, parameters, steps full, steps quick) of claim 7's problems.
DEFAULT_PROBLEMS = (
    ("quadratic", "quadratic", {"dim": 20, "condition_number": 100.0}, 2000, 1000),
    ("rosenbrock", "rosenbrock", {"dim": 2}, 2000, 1000),
    ("logistic", "logistic", {"n_samples": 500, "n_features": 10, "batch_size": 32,
                              "standardize": True}, 1000, 500),
    ("mlp", "mlp", {"dataset": "spiral", "hidden": [16], "activation": "relu", "init": "he",
                    "batch_size": 32}, 500, 300),
)
#: The tuned methods' learning-rate grid (one point per decade) and fixed parameters.
TUNE_GRID = (1e-3, 1e-2, 1e-1, 1.0)
TUNED_METHODS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sgd", {}), ("momentum", {"rho": 0.9}), ("rmsprop", {}), ("adam", {}))
QUICK_TUNED = ("sgd", "momentum", "adam")
#: The lecture's untuned rates: the first decides, the second is reported (full budget).
DEFAULT_LRS = (1e-3, 5e-4)
#: "Good default": untuned Adam's final gap within this factor of the best tuned method's.
GOOD_FACTOR = 10.0
#: ... on at least this fraction of the problems.
GOOD_FRACTION = 0.75


def _arms(budget: Budget) -> list[Arm]:
    methods = [m for m in TUNED_METHODS if not budget.quick or m[0] in QUICK_TUNED]
    lrs_default = DEFAULT_LRS[:1] if budget.quick else DEFAULT_LRS
    arms = []
    for pname, family, params, full, quick in DEFAULT_PROBLEMS:
        steps = quick if budget.quick else full
        record = max(1, steps // 20)
        configs = [(method, hyper, lr) for method, hyper in methods for lr in TUNE_GRID]
        configs += [("adam", {}, lr) for lr in lrs_default if lr not in TUNE_GRID]
        for method, hyper, lr in configs:
            arms.append(seeded_arm(f"{pname}/{method}/{lr:g}", budget.seeds, problem=family,
                                   optimizer=method, problem_params=params,
                                   optimizer_params={"lr": lr, **hyper}, steps=steps,
                                   record_every=record))
    return arms


def final_gaps(evidence: Evidence) -> pd.DataFrame:
    """Every run's final gap (:func:`~optbench.claims.adaptive.run_tables.run_values`) with its
    arm split into ``problem``, ``method`` and ``lr``."""
    values = run_values(evidence, final_gap)
    parts = values["arm"].str.split("/", expand=True) if len(values) else None
    if parts is None:
        return values.assign(problem=[], method=[], lr=[])
    return values.assign(problem=parts[0], method=parts[1], lr=parts[2].astype(float))


def _problem_rows(problem: str, sub: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :func:`per_problem` of one problem's final gaps ``sub``."""
    grid = sub[sub["lr"].isin(TUNE_GRID)]
    configs = grid.assign(config=list(zip(grid["method"], grid["lr"])))
    best = loso_select(configs[["config", "seed", "value"]])
    per_method = {}
    for method, msub in grid.groupby("method", sort=False):
        chosen = loso_select(msub.rename(columns={"lr": "config"})[["config", "seed", "value"]])
        per_method[method] = chosen.set_index("seed")["value"]
    adam = sub[sub["method"] == "adam"]
    untuned = {(float(lr), int(seed)): float(v)
               for lr, seed, v in zip(adam["lr"], adam["seed"], adam["value"])}
    rows = []
    for row in best.itertuples(index=False):
        rec = {"problem": problem, "seed": row.seed, "best": row.value,
               "best_config": "" if row.config is None else f"{row.config[0]}[lr={row.config[1]:g}]"}
        for lr in DEFAULT_LRS:
            rec[f"adam_{lr:g}"] = untuned.get((lr, int(row.seed)), math.nan)
        for method, series in per_method.items():
            rec[f"tuned_{method}"] = float(series.get(row.seed, math.nan))
        rows.append(rec)
    return rows


def per_problem(table: pd.DataFrame) -> pd.DataFrame:
    """Per problem and seed of :func:`final_gaps`' ``table``: untuned Adam's gaps
    (``adam_<lr>``), each tuned method's (``tuned_<method>``), the best tuned method's
    gap (``best``, chosen by leave-one-seed-out over methods x grid) and its name
    (``best_config``), and the paired ratio (``ratio``: untuned Adam at lr 1e-3 / best)."""
    rows = []
    for problem, sub in table.groupby("problem", sort=False):
        rows.extend(_problem_rows(problem, sub))
    out = pd.DataFrame(rows)
    if len(out):
        with np.errstate(invalid="ignore", divide="ignore"):
            out["ratio"] = out[f"adam_{DEFAULT_LRS[0]:g}"] / out["best"]
    return out


def _judge_problem(problem: str, sub: pd.DataFrame, seed: int, numbers: dict[str, float]) -> tuple[str, str]:
    """``(word, text)`` of one problem: within, not within or unclear, and its summary part;
    adds its numbers to ``numbers``."""
    med, low, high = median_ci(sub["ratio"], seed=seed)
    numbers.update({f"{problem}_ratio_median": med, f"{problem}_ratio_low": low,
                    f"{problem}_ratio_high": high,
                    f"{problem}_adam_default_gap": median(sub[f"adam_{DEFAULT_LRS[0]:g}"]),
                    f"{problem}_best_tuned_gap": median(sub["best"])})
    if f"adam_{DEFAULT_LRS[1]:g}" in sub and sub[f"adam_{DEFAULT_LRS[1]:g}"].notna().any():
        numbers[f"{problem}_adam_5e-4_ratio_median"] = median(
            sub[f"adam_{DEFAULT_LRS[1]:g}"] / sub["best"])
    if sub["ratio"].notna().sum() >= 2 and high <= GOOD_FACTOR:
        word = "within"
    elif sub["ratio"].notna().sum() >= 2 and low > GOOD_FACTOR:
        word = "not within"
    else:
        word = "unclear"
    best_name = sub["best_config"].mode().iloc[0] if len(sub) else "?"
    return word, f"{problem} {interval_text(med, low, high)} ({word}; best {best_name})"


def criterion(evidence: Evidence) -> Verdict:
    """Claim 7's verdict: on how many problems untuned Adam is within :data:`GOOD_FACTOR`."""
    table = final_gaps(evidence)
    per = per_problem(table)
    numbers: dict[str, float] = {"error_runs": n_errors(table)}
    good = bad = 0
    parts = []
    problems = [p for p, *_ in DEFAULT_PROBLEMS if len(per) and p in set(per["problem"])]
    for i, problem in enumerate(problems):
        word, part = _judge_problem(problem, per[per["problem"] == problem], 700 + i, numbers)
        good += int(word == "within")
        bad += int(word == "not within")
        parts.append(part)
    n = len(DEFAULT_PROBLEMS)
    need = math.ceil(GOOD_FRACTION * n)
    numbers.update({"problems_within": good, "problems_not_within": bad, "problems_needed": need})
    text = ("untuned Adam (lr 1e-3) final gap / best tuned method's, median [95% CI] over seeds: "
            + "; ".join(parts) + f"; within {GOOD_FACTOR:g}x on {good} of {n} problems (needed {need})")
    if numbers["error_runs"]:
        text += f"; {numbers['error_runs']:g} run(s) failed and are left out"
    if good >= need:
        outcome = HOLDS
    elif bad > n - need:
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    return Verdict(outcome, text, numbers)


CLAIM = Claim(
    key="adam-good-default",
    number=7,
    statement=("Adam with beta1 = 0.9, beta2 = 0.999 and learning rate 1e-3 or 5e-4 is a great "
               "starting point for many models: a default that works on any new problem."),
    experiment=("Four problems of the built-in suites: a 20-D quadratic (condition number 100, 2000 "
                "steps), 2-D Rosenbrock (2000 steps), minibatch logistic regression (500 x 10, "
                "standardized, batch 32, 1000 steps) and a small net on the spiral (one hidden layer of "
                "16 ReLU, batch 32, 500 steps); --quick halves the steps (300 for the net), tunes "
                "SGD, momentum and Adam only and runs untuned Adam at 1e-3 only. Untuned Adam at lr "
                "1e-3 (and 5e-4, reported) against SGD, momentum (rho 0.9), RMSProp and Adam, each "
                "tuned on the rate grid 1e-3, 1e-2, 1e-1, 1; every configuration on every run seed of "
                "the budget; tuning by leave-one-seed-out (for each seed the method and rate with the "
                "lowest geometric-mean final gap over the other seeds)."),
    statistic=("Per problem, the paired per-seed ratio of untuned Adam's (lr 1e-3) final gap to that "
               "of the best tuned method, its median with a bootstrap 95% interval: 'within' if the "
               "interval lies at or below 10, 'not within' if it lies above 10. Holds if Adam is "
               "within on at least 3 of the 4 problems; does not hold if it is not within on 2 or "
               "more (so 3 can no longer be reached); inconclusive otherwise."),
    arms=_arms,
    criterion=criterion,
)
