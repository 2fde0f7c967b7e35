"""Claim 9, ``newton-and-lbfgs``: Newton's method has no learning rate and converges in few
iterations; L-BFGS works very well in full batch and does not transfer well to minibatches.

Experiment
    Newton with its defaults (lr 1, no damping, no line search) on the problems of
    :data:`NEWTON_PROBLEMS` (full-batch logistic regression on the breast-cancer data,
    a 20-D quadratic whose data each run seed also seeds), up to
    :data:`NEWTON_MAX_STEPS` iterations to a gradient norm of :data:`NEWTON_TOL`.
    L-BFGS on the same logistic regression (:data:`LBFGS_PROBLEM`), every arm at
    :data:`GRAD_BUDGET` gradient calls: scipy's L-BFGS-B in full batch against
    full-batch gradient descent (rates :data:`GD_GRID`), and the stepwise L-BFGS on
    minibatches of :data:`LBFGS_BATCH` (rates :data:`LBFGS_STOCHASTIC_GRID`) against
    minibatch SGD (rates :data:`SGD_GRID`); rates tuned by leave-one-seed-out on the
    gap at the budget (:func:`second_order_tables`).
Verdict
    Newton, per problem: the median iterations with a bootstrap 95% interval; holds if
    every run converges and the interval lies at or below :data:`FEW_ITERATIONS`,
    fails if it lies above or fewer than half converge.  Full batch: holds if the
    interval of L-BFGS's median gap lies at or below :data:`FULL_BATCH_GAP` and that of
    the paired ratio L-BFGS / tuned GD below 1, fails if either lies entirely on the
    other side.  Minibatch: the paired ratio minibatch L-BFGS / tuned SGD; holds
    ("poorly") if its interval lies above 1, fails if below 1.  The claim holds only
    if every part holds, does not hold if any part fails, else inconclusive.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .intervals import interval_text, median, median_ci
from .run_tables import Rows, gap_of, loso_select, n_errors, run_values, seeded_arm

__all__ = ["CLAIM", "FEW_ITERATIONS", "FULL_BATCH_GAP", "GD_GRID", "GRAD_BUDGET", "LBFGS_BATCH",
           "LBFGS_PROBLEM", "LBFGS_STOCHASTIC_GRID", "NEWTON_MAX_STEPS", "NEWTON_PROBLEMS", "NEWTON_TOL",
           "SEEDED_DATA", "SGD_GRID", "criterion", "second_order_tables"]

NEWTON_PROBLEMS = (
    ("logistic", "logistic", {"dataset": "breast_cancer", "standardize": True, "batch_size": None}),
    ("quadratic", "quadratic", {"dim": 20, "condition_number": 1000.0}),
)
#: Which Newton problems take a data seed (the run seed); the bundled data has none.
SEEDED_DATA = ("quadratic",)
NEWTON_TOL = 1e-8
NEWTON_MAX_STEPS = 50
#: "Few iterations": Newton's median iterations to the tolerance at most this.
FEW_ITERATIONS = 20
#: The L-BFGS comparison's problem (the minibatch arms use batch 32) and its budget.
LBFGS_PROBLEM = {"dataset": "breast_cancer", "standardize": True}
LBFGS_BATCH = 32
GRAD_BUDGET = 400
GD_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
SGD_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
LBFGS_STOCHASTIC_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
#: "Very well in full batch": L-BFGS's median gap at the budget at most this.
FULL_BATCH_GAP = 1e-8


def _newton_arms(budget: Budget) -> list[Arm]:
    return [seeded_arm(f"newton/{pname}", budget.seeds, data_seed=pname in SEEDED_DATA,
                       problem=family, optimizer="newton", problem_params=params,
                       steps=NEWTON_MAX_STEPS, options={"tol_grad": NEWTON_TOL})
            for pname, family, params in NEWTON_PROBLEMS]


def _arms(budget: Budget) -> list[Arm]:
    arms = _newton_arms(budget)
    budget_grad = GRAD_BUDGET
    full = {**LBFGS_PROBLEM, "batch_size": None}
    mini = {**LBFGS_PROBLEM, "batch_size": LBFGS_BATCH}
    arms.append(seeded_arm("lbfgs/full", budget.seeds, problem="logistic", optimizer="lbfgs",
                           problem_params=full, optimizer_params={"gtol": 1e-12, "ftol": 1e-15},
                           steps=budget_grad, options={"tol_grad": 1e-12}))
    for lr in GD_GRID:
        arms.append(seeded_arm(f"gd/full/{lr:g}", budget.seeds, problem="logistic", optimizer="sgd",
                               problem_params=full, optimizer_params={"lr": lr}, steps=budget_grad,
                               record_every=10))
    for lr in SGD_GRID:
        arms.append(seeded_arm(f"sgd/minibatch/{lr:g}", budget.seeds, problem="logistic", optimizer="sgd",
                               problem_params=mini, optimizer_params={"lr": lr}, steps=budget_grad,
                               record_every=10))
    for lr in LBFGS_STOCHASTIC_GRID:
        arms.append(seeded_arm(f"lbfgs_stochastic/minibatch/{lr:g}", budget.seeds, problem="logistic",
                               optimizer="lbfgs_stochastic", problem_params=mini,
                               optimizer_params={"lr": lr}, steps=budget_grad // 2, record_every=5))
    return arms


def _gap_at_budget(limit: int) -> Callable[[Rows, str], float]:
    """A run's gap at its last recorded row with at most ``limit`` gradient calls (``+inf``
    if it diverged within the budget)."""
    def value(rows: Rows, status: str) -> float:
        within = np.asarray(rows["n_grad"]) <= limit
        if not within.any():
            return math.nan
        if status == "diverged" and within.all():
            return math.inf
        return float(gap_of(rows)[within][-1])
    return value


def _newton_iterations(rows: Rows, status: str) -> float:
    """Steps to the tolerance; ``+inf`` if not reached (diverged or out of steps)."""
    if status != "converged":
        return math.inf
    return float(rows["step"].max())


def _tuned(values: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Leave-one-seed-out choice among the arms named ``prefix<rate>``, indexed by seed."""
    sub = values[values["arm"].str.startswith(prefix)]
    sub = sub.assign(config=sub["arm"].str.rsplit("/", n=1).str[1].astype(float))
    return loso_select(sub[["config", "seed", "value"]]).set_index("seed")


def _pairs(gaps: pd.DataFrame) -> pd.DataFrame:
    """Per seed: the gaps at the budget of full-batch L-BFGS and of the tuned arms (with
    their chosen rates), and the paired ratios ``full_ratio`` and ``minibatch_ratio``."""
    lbfgs = gaps[gaps["arm"] == "lbfgs/full"].set_index("seed")["value"]
    gd = _tuned(gaps, "gd/full/")
    sgd = _tuned(gaps, "sgd/minibatch/")
    slb = _tuned(gaps, "lbfgs_stochastic/minibatch/")
    seeds = sorted(set(lbfgs.index) | set(gd.index) | set(sgd.index) | set(slb.index))
    pairs = pd.DataFrame({
        "seed": seeds,
        "lbfgs_full": [float(lbfgs.get(s, math.nan)) for s in seeds],
        "gd_full": [float(gd["value"].get(s, math.nan)) if len(gd) else math.nan for s in seeds],
        "gd_lr": [gd["config"].get(s) if len(gd) else None for s in seeds],
        "sgd_minibatch": [float(sgd["value"].get(s, math.nan)) if len(sgd) else math.nan for s in seeds],
        "sgd_lr": [sgd["config"].get(s) if len(sgd) else None for s in seeds],
        "lbfgs_minibatch": [float(slb["value"].get(s, math.nan)) if len(slb) else math.nan for s in seeds],
        "lbfgs_minibatch_lr": [slb["config"].get(s) if len(slb) else None for s in seeds],
    })
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs["full_ratio"] = pairs["lbfgs_full"] / pairs["gd_full"]
        pairs["minibatch_ratio"] = pairs["lbfgs_minibatch"] / pairs["sgd_minibatch"]
    return pairs


def second_order_tables(evidence: Evidence) -> dict[str, Any]:
    """The tables of claim 9: ``newton`` (each Newton run's iterations to the tolerance,
    ``+inf`` if not reached), ``pairs`` (per seed: the gaps at the budget of full-batch
    L-BFGS, of minibatch L-BFGS and of the tuned GD and SGD, their chosen rates
    ``gd_lr``, ``sgd_lr``, ``lbfgs_minibatch_lr``, and the ratios ``full_ratio`` and
    ``minibatch_ratio``), ``limit`` (the gradient-call budget) and ``errors`` (failed runs)."""
    limit = GRAD_BUDGET
    newton = run_values(evidence, _newton_iterations)
    newton = newton[newton["arm"].str.startswith("newton/")]
    gaps = run_values(evidence, _gap_at_budget(limit))
    gaps = gaps[~gaps["arm"].str.startswith("newton/")]
    return {"newton": newton, "pairs": _pairs(gaps), "limit": limit,
            "errors": n_errors(newton) + n_errors(gaps)}


def _newton_state(its: pd.Series, low: float, high: float, n_ok: int) -> str:
    """One Newton problem's part: few iterations (holds), many or not converging (fails)."""
    if its.notna().sum() < 2:
        return INCONCLUSIVE
    if n_ok == its.notna().sum() and high <= FEW_ITERATIONS:
        return HOLDS
    if low > FEW_ITERATIONS or n_ok < 0.5 * its.notna().sum():
        return FAILS
    return INCONCLUSIVE


def _newton_parts(newton: pd.DataFrame, numbers: dict[str, float], parts: list[str]) -> list[str]:
    """Each Newton problem's state; adds its numbers to ``numbers`` and its text to ``parts``."""
    states = []
    for i, (pname, _, _) in enumerate(NEWTON_PROBLEMS):
        its = newton.loc[newton["arm"] == f"newton/{pname}", "value"]
        med, low, high = median_ci(its, seed=900 + i)
        n_ok = int(np.isfinite(its).sum())
        numbers.update({f"newton_{pname}_iterations_median": med, f"newton_{pname}_iterations_low": low,
                        f"newton_{pname}_iterations_high": high, f"newton_{pname}_converged": n_ok,
                        f"newton_{pname}_runs": int(its.notna().sum())})
        parts.append(f"Newton (lr 1) iterations to |g| <= {NEWTON_TOL:g} on {pname}: "
                     f"{interval_text(med, low, high)} ({n_ok}/{int(its.notna().sum())} converged)")
        states.append(_newton_state(its, low, high, n_ok))
    return states


def _full_batch_state(full_gap: tuple[float, float, float], full_ratio: tuple[float, float, float]) -> str:
    """Full batch: L-BFGS's gap at most :data:`FULL_BATCH_GAP` and below tuned GD's."""
    if any(math.isnan(v[0]) for v in (full_gap, full_ratio)):
        return INCONCLUSIVE
    if full_gap[2] <= FULL_BATCH_GAP and full_ratio[2] < 1.0:
        return HOLDS
    if full_gap[1] > FULL_BATCH_GAP or full_ratio[1] > 1.0:
        return FAILS
    return INCONCLUSIVE


def _minibatch_state(mini_ratio: tuple[float, float, float]) -> str:
    """Minibatch: L-BFGS's gap above tuned SGD's ("poorly") holds, below it fails."""
    if math.isnan(mini_ratio[0]):
        return INCONCLUSIVE
    if mini_ratio[1] > 1.0:
        return HOLDS
    if mini_ratio[2] < 1.0:
        return FAILS
    return INCONCLUSIVE


def _lbfgs_parts(tables: dict[str, Any], numbers: dict[str, float],
                 parts: list[str]) -> tuple[str, str]:
    """``(full-batch state, minibatch state)``; adds their numbers and text."""
    pairs = tables["pairs"]
    full_gap = median_ci(pairs["lbfgs_full"], seed=910)
    full_ratio = median_ci(pairs["full_ratio"], seed=911)
    mini_ratio = median_ci(pairs["minibatch_ratio"], seed=912)
    for key, stats in (("lbfgs_full_gap", full_gap), ("full_ratio", full_ratio),
                       ("minibatch_ratio", mini_ratio)):
        numbers.update({f"{key}_median": stats[0], f"{key}_low": stats[1], f"{key}_high": stats[2]})
    for key in ("gd_full", "sgd_minibatch", "lbfgs_minibatch"):
        numbers[f"{key}_gap_median"] = median(pairs[key])
    parts.append(f"at {tables['limit']} gradient calls: full-batch L-BFGS gap {interval_text(*full_gap)}, "
                 f"/ tuned GD {interval_text(*full_ratio)}; minibatch L-BFGS / tuned SGD "
                 f"{interval_text(*mini_ratio)}")
    return _full_batch_state(full_gap, full_ratio), _minibatch_state(mini_ratio)


def criterion(evidence: Evidence) -> Verdict:
    """Claim 9's verdict: every Newton problem, full batch and minibatch (see the module docstring)."""
    tables = second_order_tables(evidence)
    numbers: dict[str, float] = {"grad_budget": tables["limit"], "error_runs": tables["errors"]}
    parts: list[str] = []
    # Newton: few iterations on every problem, no learning rate tuned
    newton_state = _newton_parts(tables["newton"], numbers, parts)
    full_state, mini_state = _lbfgs_parts(tables, numbers, parts)
    states = [*newton_state, full_state, mini_state]
    numbers.update({"newton_holds": float(all(s == HOLDS for s in newton_state)),
                    "full_batch_holds": float(full_state == HOLDS),
                    "minibatch_holds": float(mini_state == HOLDS)})
    text = "; ".join(parts) + (f" (Newton: {', '.join(newton_state)}; full batch: {full_state}; "
                               f"minibatch: {mini_state})")
    if tables["errors"]:
        text += f"; {tables['errors']} run(s) failed and are left out"
    if all(s == HOLDS for s in states):
        outcome = HOLDS
    elif any(s == FAILS for s in states):
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    return Verdict(outcome, text, numbers)


CLAIM = Claim(
    key="newton-and-lbfgs",
    number=9,
    statement=("Newton's method has no learning rate (no hyper-parameter): it jumps to the minimum of "
               "the second-order approximation and converges in few iterations. L-BFGS usually works "
               "very well in full batch, deterministic mode, and does not transfer very well to the "
               "mini-batch setting."),
    experiment=("Newton with its defaults (lr 1, no damping, no line search) on full-batch logistic "
                "regression on the breast-cancer data (569 x 30, standardized) and a 20-D quadratic "
                "(condition number 1000, each run seed also seeds its data), up to 50 iterations to a "
                "gradient norm of 1e-8. L-BFGS, on the same logistic regression, at 400 gradient calls "
                "in every arm: scipy's L-BFGS-B (full batch, gtol 1e-12) against full-batch gradient "
                "descent (rate grid 0.3 ... 30), and the stepwise L-BFGS on minibatches of 32 (2 gradient "
                "calls per step, Armijo line search, rate grid 0.01 ... 1) against minibatch SGD (rate "
                "grid 0.03 ... 3) on the same minibatch size; rates tuned by leave-one-seed-out on the "
                "gap at the budget. Run seeds vary the start and the minibatches; --quick runs fewer "
                "seeds."),
    statistic=("Newton: per problem, median iterations with a bootstrap 95% interval; holds if every run "
               "converges and the interval lies at or below 20 ('few'), fails if it lies above 20 or "
               "fewer than half converge. Full batch: holds if the interval of L-BFGS's median gap at the "
               "budget lies at or below 1e-8 and that of the paired ratio L-BFGS gap / tuned GD gap "
               "below 1, fails if either lies entirely on the other side. Minibatch: the paired ratio "
               "minibatch-L-BFGS gap / tuned SGD gap; holds ('poorly') if its interval lies above 1, "
               "fails if below 1. The claim holds only if every part holds, does not hold if any part "
               "fails, else inconclusive."),
    arms=_arms,
    criterion=criterion,
)
