"""Claim 9, ``newton-and-lbfgs``: Newton's method has no learning rate and converges in few
iterations; L-BFGS works very well in full batch and does not transfer well to minibatches.

Experiment
    Newton with its defaults (lr 1, no damping, no line search) on the problems of
    :data:`NEWTON_PROBLEMS` (full-batch logistic regression on the breast-cancer data,
    a 20-D quadratic whose data each run seed also seeds), up to
    :data:`NEWTON_MAX_STEPS` iterations to a gradient norm of :data:`NEWTON_TOL`.
    L-BFGS on the same logistic regression (:data:`LBFGS_PROBLEM`), every arm at
    :data:`GRAD_BUDGET` gradient calls: scipy's L-BFGS-B in full batch against
    full-batch gradient descent (rates :data:`GD_GRID`), and, at each batch size of
    :data:`LBFGS_BATCHES` (8, 32, 128 of the 569 rows), the stepwise L-BFGS on
    minibatches of that size (rates :data:`LBFGS_STOCHASTIC_GRID`, 2 gradient calls a
    step) against minibatch SGD on the same size (rates :data:`SGD_GRID`); rates tuned
    by leave-one-seed-out on the gap at the budget, per arm and batch size
    (:func:`second_order_tables`).
Budget convention
    The cost model (:mod:`optbench.cost`) counts calls, not rows: a gradient on a
    minibatch is one gradient call whatever its size.  So every batch size gets the same
    400 calls, and the two arms compared at one batch size compute gradients over the
    same number of rows, ``400 b`` (at 128 that is 16 times the rows of batch 8: the
    sweep compares the methods at each size, not the sizes with each other).
Verdict
    ``by_setting`` holds one outcome per part, in this order: ``Newton (logistic)``,
    ``Newton (quadratic)``, ``full batch``, ``minibatch 8``, ``minibatch 32``,
    ``minibatch 128`` (:func:`setting_name`).  Newton, per problem: the median
    iterations with a bootstrap 95% interval; holds if every run converges and the
    interval lies at or below :data:`FEW_ITERATIONS`, fails if it lies above or fewer
    than half converge.  Full batch: holds if the interval of L-BFGS's median gap lies
    at or below :data:`FULL_BATCH_GAP` and that of the paired ratio L-BFGS / tuned GD
    below 1, fails if either lies entirely on the other side.  Minibatch, per batch
    size: the paired ratio minibatch L-BFGS / tuned SGD; holds ("poorly") if its
    interval lies above 1, fails if below 1, inconclusive if it contains 1.  The claim
    holds only if every part holds, at every batch size (the batch sizes were fixed
    before any run), does not hold if any part fails, else inconclusive
    (:func:`~optbench.claims.base.combined` over ``by_setting``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .intervals import interval_text, median, median_ci
from .run_tables import Rows, gap_of, loso_select, n_errors, run_values, seeded_arm

__all__ = ["CLAIM", "FEW_ITERATIONS", "FULL_BATCH_GAP", "GD_GRID", "GRAD_BUDGET", "LBFGS_BATCHES",
           "LBFGS_PROBLEM", "LBFGS_STOCHASTIC_GRID", "NEWTON_MAX_STEPS", "NEWTON_PROBLEMS", "NEWTON_TOL",
           "SEEDED_DATA", "SGD_GRID", "criterion", "second_order_tables", "setting_name"]

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
#: The L-BFGS comparison's problem and its budget in gradient calls, the same in every arm
#: and at every batch size (a call on a minibatch counts as one gradient call, whatever its
#: size, as in :mod:`optbench.cost`; both arms at batch size b take gradients over 400 b rows).
LBFGS_PROBLEM = {"dataset": "breast_cancer", "standardize": True}
GRAD_BUDGET = 400
#: The batch sizes of the minibatch part (of the 569 rows), fixed before any run: small,
#: the lecture's, and large; full batch is the other part.
LBFGS_BATCHES = (8, 32, 128)
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


def setting_name(batch: int) -> str:
    """Batch size ``batch`` as a setting of the verdict's map: ``"minibatch 32"``."""
    return f"minibatch {batch}"


def _minibatch_arms(budget: Budget, batch: int) -> list[Arm]:
    """Minibatch SGD and the stepwise L-BFGS on minibatches of ``batch`` rows, every rate of
    their grids, :data:`GRAD_BUDGET` gradient calls each (2 per L-BFGS step)."""
    mini = {**LBFGS_PROBLEM, "batch_size": batch}
    arms = [seeded_arm(f"sgd/minibatch-{batch}/{lr:g}", budget.seeds, problem="logistic", optimizer="sgd",
                       problem_params=mini, optimizer_params={"lr": lr}, steps=GRAD_BUDGET,
                       record_every=10) for lr in SGD_GRID]
    arms += [seeded_arm(f"lbfgs_stochastic/minibatch-{batch}/{lr:g}", budget.seeds, problem="logistic",
                        optimizer="lbfgs_stochastic", problem_params=mini, optimizer_params={"lr": lr},
                        steps=GRAD_BUDGET // 2, record_every=5) for lr in LBFGS_STOCHASTIC_GRID]
    return arms


def _arms(budget: Budget) -> list[Arm]:
    arms = _newton_arms(budget)
    full = {**LBFGS_PROBLEM, "batch_size": None}
    arms.append(seeded_arm("lbfgs/full", budget.seeds, problem="logistic", optimizer="lbfgs",
                           problem_params=full, optimizer_params={"gtol": 1e-12, "ftol": 1e-15},
                           steps=GRAD_BUDGET, options={"tol_grad": 1e-12}))
    for lr in GD_GRID:
        arms.append(seeded_arm(f"gd/full/{lr:g}", budget.seeds, problem="logistic", optimizer="sgd",
                               problem_params=full, optimizer_params={"lr": lr}, steps=GRAD_BUDGET,
                               record_every=10))
    for batch in LBFGS_BATCHES:
        arms += _minibatch_arms(budget, batch)
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


def _column(tuned: pd.DataFrame, seeds: list[int], column: str) -> list[Any]:
    """``tuned[column]`` at each seed (NaN where missing)."""
    if not len(tuned):
        return [math.nan] * len(seeds)
    return [tuned[column].get(s, math.nan) for s in seeds]


def _pairs(gaps: pd.DataFrame) -> pd.DataFrame:
    """Full batch, per seed: the gaps at the budget of L-BFGS and of tuned GD (with its
    chosen rate ``gd_lr``) and the paired ratio ``full_ratio``."""
    lbfgs = gaps[gaps["arm"] == "lbfgs/full"].set_index("seed")["value"]
    gd = _tuned(gaps, "gd/full/")
    seeds = sorted(set(lbfgs.index) | set(gd.index))
    pairs = pd.DataFrame({"seed": seeds, "lbfgs_full": [float(lbfgs.get(s, math.nan)) for s in seeds],
                          "gd_full": _column(gd, seeds, "value"), "gd_lr": _column(gd, seeds, "config")})
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs["full_ratio"] = pairs["lbfgs_full"].astype(float) / pairs["gd_full"].astype(float)
    return pairs


def _minibatch_pairs(gaps: pd.DataFrame) -> pd.DataFrame:
    """Per batch size and seed: the gaps at the budget of tuned minibatch SGD and of tuned
    minibatch L-BFGS (each tuned at that batch size), their rates and the paired ratio."""
    frames = []
    for batch in LBFGS_BATCHES:
        sgd = _tuned(gaps, f"sgd/minibatch-{batch}/")
        slb = _tuned(gaps, f"lbfgs_stochastic/minibatch-{batch}/")
        seeds = sorted(set(sgd.index) | set(slb.index))
        frames.append(pd.DataFrame({
            "batch": [batch] * len(seeds), "seed": seeds,
            "sgd": _column(sgd, seeds, "value"), "sgd_lr": _column(sgd, seeds, "config"),
            "lbfgs": _column(slb, seeds, "value"), "lbfgs_lr": _column(slb, seeds, "config")}))
    table = pd.concat(frames, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["ratio"] = table["lbfgs"].astype(float) / table["sgd"].astype(float)
    return table


def second_order_tables(evidence: Evidence) -> dict[str, Any]:
    """The tables of claim 9: ``newton`` (each Newton run's iterations to the tolerance,
    ``+inf`` if not reached), ``pairs`` (full batch, per seed: the gaps at the budget of
    L-BFGS and of tuned GD, its rate ``gd_lr`` and ``full_ratio``), ``minibatch`` (per
    batch size of :data:`LBFGS_BATCHES` and seed: the gaps at the budget of tuned SGD and
    tuned L-BFGS, ``sgd``, ``lbfgs``, their rates ``sgd_lr``, ``lbfgs_lr`` and the paired
    ``ratio``), ``limit`` (the gradient-call budget) and ``errors`` (failed runs)."""
    limit = GRAD_BUDGET
    newton = run_values(evidence, _newton_iterations)
    newton = newton[newton["arm"].str.startswith("newton/")]
    gaps = run_values(evidence, _gap_at_budget(limit))
    gaps = gaps[~gaps["arm"].str.startswith("newton/")]
    return {"newton": newton, "pairs": _pairs(gaps), "minibatch": _minibatch_pairs(gaps), "limit": limit,
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


def _newton_parts(newton: pd.DataFrame, numbers: dict[str, float], parts: list[str]) -> dict[str, str]:
    """Each Newton problem's outcome, by setting name; adds its numbers and its text."""
    states = {}
    for i, (pname, _, _) in enumerate(NEWTON_PROBLEMS):
        its = newton.loc[newton["arm"] == f"newton/{pname}", "value"]
        med, low, high = median_ci(its, seed=900 + i)
        n_ok = int(np.isfinite(its).sum())
        numbers.update({f"newton_{pname}_iterations_median": med, f"newton_{pname}_iterations_low": low,
                        f"newton_{pname}_iterations_high": high, f"newton_{pname}_converged": n_ok,
                        f"newton_{pname}_runs": int(its.notna().sum())})
        parts.append(f"Newton (lr 1) iterations to |g| <= {NEWTON_TOL:g} on {pname}: "
                     f"{interval_text(med, low, high)} ({n_ok}/{int(its.notna().sum())} converged)")
        states[f"Newton ({pname})"] = _newton_state(its, low, high, n_ok)
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


def _full_batch_part(pairs: pd.DataFrame, limit: int, numbers: dict[str, float], parts: list[str]) -> str:
    """The full-batch outcome; adds its numbers and text."""
    full_gap = median_ci(pairs["lbfgs_full"], seed=910)
    full_ratio = median_ci(pairs["full_ratio"], seed=911)
    for key, stats in (("lbfgs_full_gap", full_gap), ("full_ratio", full_ratio)):
        numbers.update({f"{key}_median": stats[0], f"{key}_low": stats[1], f"{key}_high": stats[2]})
    numbers["gd_full_gap_median"] = median(pairs["gd_full"])
    parts.append(f"at {limit} gradient calls: full-batch L-BFGS gap {interval_text(*full_gap)}, "
                 f"/ tuned GD {interval_text(*full_ratio)}")
    return _full_batch_state(full_gap, full_ratio)


def _minibatch_parts(table: pd.DataFrame, numbers: dict[str, float], parts: list[str]) -> dict[str, str]:
    """Per batch size: the paired ratio minibatch L-BFGS / tuned SGD; its interval above 1
    ("poorly") holds, below 1 does not hold.  Adds the numbers and text."""
    states, texts = {}, []
    for j, batch in enumerate(LBFGS_BATCHES):
        sub = table[table["batch"] == batch]
        med, low, high = median_ci(sub["ratio"], seed=920 + j)
        key = f"minibatch_{batch}"
        numbers.update({f"{key}_ratio_median": med, f"{key}_ratio_low": low, f"{key}_ratio_high": high,
                        f"{key}_sgd_gap_median": median(sub["sgd"]),
                        f"{key}_lbfgs_gap_median": median(sub["lbfgs"])})
        texts.append(f"{interval_text(med, low, high)} at batch {batch}")
        states[setting_name(batch)] = side(low, high, 1.0, "above")
    parts.append("minibatch L-BFGS / tuned SGD " + ", ".join(texts))
    return states


def criterion(evidence: Evidence) -> Verdict:
    """Claim 9's verdict: every Newton problem, full batch and every batch size must hold
    (see the module docstring); ``by_setting`` holds each part's outcome."""
    tables = second_order_tables(evidence)
    numbers: dict[str, float] = {"grad_budget": tables["limit"], "error_runs": tables["errors"]}
    parts: list[str] = []
    by_setting = _newton_parts(tables["newton"], numbers, parts)
    by_setting["full batch"] = _full_batch_part(tables["pairs"], tables["limit"], numbers, parts)
    by_setting.update(_minibatch_parts(tables["minibatch"], numbers, parts))
    newton = [by_setting[f"Newton ({p})"] for p, *_ in NEWTON_PROBLEMS]
    mini = [by_setting[setting_name(b)] for b in LBFGS_BATCHES]
    numbers.update({"newton_holds": float(all(s == HOLDS for s in newton)),
                    "full_batch_holds": float(by_setting["full batch"] == HOLDS),
                    "minibatch_holds": float(all(s == HOLDS for s in mini))})
    text = "; ".join(parts)  # the map is said beside it (map_text of by_setting)
    if tables["errors"]:
        text += f"; {tables['errors']} run(s) failed and are left out"
    return Verdict(combined(by_setting.values()), text, numbers, by_setting=by_setting)


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
                "descent (rate grid 0.3 ... 30), and, at each minibatch size 8, 32 and 128 (fixed before "
                "any run), the stepwise L-BFGS on minibatches of that size (2 gradient calls per step, "
                "Armijo line search, rate grid 0.01 ... 1) against minibatch SGD (rate grid 0.03 ... 3) "
                "on the same size; rates tuned by leave-one-seed-out on the gap at the budget, per arm "
                "and batch size. A gradient call on a minibatch counts as one call whatever its size "
                "(the project's cost model counts calls), so every batch size gets the same 400 calls "
                "and both arms at size b take gradients over 400 b rows. Run seeds vary the start and the "
                "minibatches; --quick runs fewer seeds."),
    statistic=("Newton: per problem, median iterations with a bootstrap 95% interval; holds if every run "
               "converges and the interval lies at or below 20 ('few'), fails if it lies above 20 or "
               "fewer than half converge. Full batch: holds if the interval of L-BFGS's median gap at the "
               "budget lies at or below 1e-8 and that of the paired ratio L-BFGS gap / tuned GD gap "
               "below 1, fails if either lies entirely on the other side. Minibatch, at each batch size "
               "8, 32, 128: the paired ratio minibatch-L-BFGS gap / tuned SGD gap; holds ('poorly') if "
               "its interval lies above 1, fails if below 1, inconclusive if it contains 1. The map "
               "gives each part's outcome (Newton per problem, full batch, minibatch per batch size); "
               "the claim holds only if every part holds at every batch size, does not hold if any "
               "part fails, else inconclusive."),
    arms=_arms,
    criterion=criterion,
)
