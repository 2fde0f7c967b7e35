"""Claim 5, ``adagrad-stalls``: AdaGrad's step keeps shrinking and it stalls on a long
non-convex run; RMSProp does not.

Mechanism.  AdaGrad divides by the root of the *sum* of every squared gradient so far,
``x_{t+1} = x_t - lr g_t / (sqrt(G_t) + eps)``, ``G_t = sum_{s<=t} g_s^2``; RMSProp by
the root of their *moving average*, ``V_t = rho V_{t-1} + (1-rho) g_t^2``.  Where the
gradients shrink after an early phase, AdaGrad's ``G`` keeps the early, large ones and
its steps shrink with the gradient (``|step| ~ lr |g_t| / sqrt(G)``), while RMSProp's
``V`` forgets them and its steps stay near ``lr`` per coordinate.  The problem must
have such a phase: a net that fits its training set (:data:`PROBLEM`: the digits mlp
without weight decay, whose training loss and gradients go to 0), not a 2-D valley.

Experiment: AdaGrad and RMSProp on :data:`PROBLEM`, minibatch gradients, one long run
per lr and seed, recorded every :data:`RECORD` steps; each optimizer's lr on a
half-decade grid (:func:`grid`), selected *per budget* (each of :data:`BUDGETS`) by the
lowest median log10 training loss at that step on the tuning seeds :data:`TUNE_SEEDS`
(the rates are constant, so a run's loss at step ``B`` is the run of budget ``B``), and
evaluated on the budget's run seeds, which differ from them.

Verdict (:func:`criterion`): per budget, the per-seed ratio of the training loss at that
step, AdaGrad / RMSProp (each at its rate tuned for that budget), median with a 95%
bootstrap interval.  At one budget: holds if the interval lies above 1 (AdaGrad is
behind), does not hold if below 1, inconclusive otherwise (``by_setting``).  The claim is
about long runs, so the overall verdict is the one at the longest budget.  RMSProp's
floor is stated: its median loss at the longest budget and the decades it gained since
the budget before (:func:`rmsprop_floor`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, side
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired
from .run_tables import by_seed, per_run, problem_notes, spec, status_counts

__all__ = [
    "BUDGETS", "CLAIM", "GRID", "NUMBER", "PROBLEM", "QUICK_GRID", "RECORD", "TUNE_SEEDS", "arms",
    "budget_text", "criterion", "grid", "loss_at", "rmsprop_floor", "tune_seeds", "tuned_runs",
]

NUMBER = 5
#: The digits mlp (one hidden layer of 32 relu units, He init, batch 64) without weight
#: decay: it can fit its training set, so its loss and gradients go to 0 after an early phase.
PROBLEM: dict[str, Any] = {"dataset": "digits", "hidden": [32], "activation": "relu", "init": "he",
                           "batch_size": 64, "reg": 0.0, "seed": 0}
#: The step budgets at which the verdict is given (every run lasts the longest).  Not
#: shorter: at 100 steps the best AdaGrad rate lies below the grids, and the map would
#: depend on the grid (it did: holds at full size, inconclusive with --quick).
BUDGETS = (400, 1600, 6400)
#: The lr grids (half-decade steps): full size, and the three middle points with --quick.
GRID: dict[str, tuple[float, ...]] = {
    "adagrad": (0.1, 0.3, 1.0, 3.0, 10.0),
    "rmsprop": (3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
}
QUICK_GRID: dict[str, tuple[float, ...]] = {name: lrs[1:4] for name, lrs in GRID.items()}
#: Seeds on which the lr is selected (disjoint from the budgets' evaluation seeds); the
#: first two with --quick.
TUNE_SEEDS = (1000, 1001, 1002)
#: Record every this many steps (every budget is a multiple of it).
RECORD = 100


def grid(budget: Budget) -> dict[str, tuple[float, ...]]:
    """The lr grid of each optimizer: :data:`QUICK_GRID` with ``--quick``, else :data:`GRID`."""
    return QUICK_GRID if budget.quick else GRID


def tune_seeds(budget: Budget) -> tuple[int, ...]:
    """The tuning seeds of ``budget``: :data:`TUNE_SEEDS`, the first two with ``--quick``."""
    return TUNE_SEEDS[:2] if budget.quick else TUNE_SEEDS


def budget_text(steps: int) -> str:
    """A budget as the verdict's map names it: ``"800 steps"``."""
    return f"{steps} steps"


def arms(budget: Budget) -> list[Arm]:
    """``tune/<optimizer>/lr=<lr>`` (the tuning seeds) and ``eval/<optimizer>/lr=<lr>`` (the
    budget's seeds) for each lr of the grid: one run of ``max(BUDGETS)`` steps per seed."""
    result = []
    for name, lrs in grid(budget).items():
        for lr in lrs:
            for role, seeds in (("tune", tune_seeds(budget)), ("eval", budget.seeds)):
                specs = [spec("mlp", PROBLEM, name, {"lr": lr}, s, max(BUDGETS), RECORD) for s in seeds]
                result.append(Arm(f"{role}/{name}/lr={lr:g}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def loss_at(step: int):
    """A :func:`~.run_tables.per_run` value: the training loss recorded at ``step``
    (``+inf`` for a run that diverged before it, NaN if it was not recorded)."""
    def value(rows: pd.DataFrame, status: str) -> float:
        at = rows[rows["step"] == step]
        if at.empty:
            return math.inf if status == "diverged" else math.nan
        loss = float(at["loss"].iloc[0])
        return loss if math.isfinite(loss) else math.inf
    return value


def _select(table: pd.DataFrame, lrs: tuple[float, ...], name: str) -> float:
    """The lr of ``name`` with the lowest median log10 loss on the tuning seeds (a rate
    with a diverged tuning run is never chosen); NaN if none qualifies."""
    scores = []
    for lr in lrs:
        v = by_seed(table, f"tune/{name}/lr={lr:g}").dropna().to_numpy()
        ok = v.size and np.isfinite(v).all()
        scores.append(float(np.median(np.log10(np.maximum(v, 1e-300)))) if ok else math.inf)
    return lrs[int(np.argmin(scores))] if np.isfinite(scores).any() else math.nan


def _at_budget(table: pd.DataFrame, budget: Budget, steps: int, rng: np.random.Generator) -> dict[str, float]:
    """The tuned rates and the paired ratio AdaGrad / RMSProp at one budget (keys suffixed
    ``_<steps>``); no ratio when a rate could not be chosen."""
    numbers: dict[str, float] = {}
    chosen = {name: _select(table, lrs, name) for name, lrs in grid(budget).items()}
    for name, lr in chosen.items():
        numbers[f"lr_{name}_{steps}"] = lr
        edge = (grid(budget)[name][0], grid(budget)[name][-1])
        numbers[f"lr_{name}_{steps}_at_grid_edge"] = float(lr in edge)
    if any(math.isnan(lr) for lr in chosen.values()):
        return numbers
    a, r = (f"eval/{name}/lr={chosen[name]:g}" for name in ("adagrad", "rmsprop"))
    med, low, high = median_ci(paired(table, a, r), rng)
    numbers.update({f"ratio_{steps}": med, f"ratio_{steps}_low": low, f"ratio_{steps}_high": high})
    for name, arm in (("adagrad", a), ("rmsprop", r)):
        v = by_seed(table, arm).dropna()
        numbers[f"loss_{name}_{steps}"] = float(np.median(v)) if len(v) else math.nan
    return numbers


def rmsprop_floor(losses: dict[int, pd.DataFrame], lr: float) -> dict[str, float]:
    """RMSProp's floor at ``lr`` on the evaluation seeds, from the :func:`loss_at` tables
    ``losses`` of every budget: the median loss at the longest budget ``T`` and the median
    decades gained since the budget before it ``T'``, ``log10(loss(T') / loss(T))``."""
    arm = f"eval/rmsprop/lr={lr:g}"
    mid, last = (by_seed(losses[b], arm).dropna() for b in BUDGETS[-2:])
    seeds = sorted(set(last.index) & set(mid.index))
    gained = [math.log10(mid[s] / last[s]) for s in seeds if 0 < last[s] < math.inf and mid[s] > 0]
    return {"rmsprop_floor": float(np.median(last)) if len(last) else math.nan,
            "rmsprop_floor_decades": float(np.median(gained)) if gained else math.nan}


def tuned_runs(evidence: Evidence) -> dict[str, float]:
    """Every number of the verdict: per budget ``B`` the chosen rates ``lr_<name>_B``
    (and ``_at_grid_edge``), ``ratio_B`` with ``_low``/``_high`` and the medians
    ``loss_<name>_B``; RMSProp's floor at its rate for the longest budget."""
    rng = bootstrap_rng(NUMBER)
    losses = {steps: per_run(evidence, loss_at(steps)) for steps in BUDGETS}
    numbers: dict[str, float] = {}
    for steps in BUDGETS:
        numbers.update(_at_budget(losses[steps], evidence.budget, steps, rng))
    lr = numbers.get(f"lr_rmsprop_{max(BUDGETS)}", math.nan)
    numbers.update(rmsprop_floor(losses, lr) if not math.isnan(lr) else
                   {"rmsprop_floor": math.nan, "rmsprop_floor_decades": math.nan})
    return numbers


# --------------------------------------------------------------------------- criterion


def _outcome(numbers: dict[str, float], steps: int) -> str:
    """The outcome at one budget: the ratio's interval above 1 holds, below 1 does not."""
    return side(numbers.get(f"ratio_{steps}_low", math.nan), numbers.get(f"ratio_{steps}_high", math.nan),
                1.0, "above")


def _summary(evidence: Evidence, n: dict[str, float]) -> str:
    counts = status_counts(evidence, [a for a in evidence.runs.get("arm", pd.Series(dtype=str)).unique()
                                      if str(a).startswith("eval/")] if not evidence.runs.empty else None)
    end = max(BUDGETS)
    ratios = ", ".join(f"{fmt(n.get(f'ratio_{s}', math.nan))} at {s}" for s in BUDGETS)
    edge = [f"{name} at {s} steps" for s in BUDGETS for name in ("adagrad", "rmsprop")
            if n.get(f"lr_{name}_{s}_at_grid_edge")]
    runs = evidence.runs
    present = int(runs["arm"].astype(str).str.startswith("eval/").sum()) if not runs.empty else 0
    return (
        f"digits mlp without weight decay, training loss AdaGrad / RMSProp, each at its rate tuned for "
        f"the budget: {ratios} steps; at {end} steps {ci_of(n, f'ratio_{end}')} (AdaGrad "
        f"{fmt(n.get(f'loss_adagrad_{end}', math.nan))}, lr {fmt(n.get(f'lr_adagrad_{end}', math.nan))}; "
        f"RMSProp {fmt(n.get(f'loss_rmsprop_{end}', math.nan))}, lr "
        f"{fmt(n.get(f'lr_rmsprop_{end}', math.nan))}); RMSProp's level at the end "
        f"{fmt(n['rmsprop_floor'])}, {fmt(n['rmsprop_floor_decades'])} decades below its level at "
        f"{BUDGETS[-2]} steps"
        + (f"; the selected lr is at the grid's edge for {', '.join(edge)}" if edge else "")
        + problem_notes(counts, len(evidence.budget.seeds) * 2 * len(grid(evidence.budget)["adagrad"]),
                        present) + "."
    )


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`tuned_runs`: one outcome per budget, the
    overall one at the longest."""
    numbers = tuned_runs(evidence)
    if f"ratio_{max(BUDGETS)}" not in numbers:
        return Verdict(INCONCLUSIVE, "No tuned runs of AdaGrad and RMSProp were found.", numbers)
    by_budget = {budget_text(s): _outcome(numbers, s) for s in BUDGETS}
    return Verdict(by_budget[budget_text(max(BUDGETS))], _summary(evidence, numbers), numbers,
                   by_setting=by_budget)


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
        "The digits mlp (one hidden layer of 32 relu units, He init, minibatch 64) without weight decay, "
        "which fits its training set, so its gradients shrink after an early phase; one run of "
        f"{max(BUDGETS)} steps per rate and seed, recorded every {RECORD} steps, read at the budgets "
        f"{', '.join(map(str, BUDGETS))}. AdaGrad (eps 1e-7) and RMSProp (decay 0.99, eps 1e-7), each at "
        f"the best lr for each budget on a half-decade grid (AdaGrad "
        f"{', '.join(f'{x:g}' for x in GRID['adagrad'])}; RMSProp "
        f"{', '.join(f'{x:g}' for x in GRID['rmsprop'])}; --quick: the middle three of each), selected by "
        f"the lowest median log10 training loss at that step on the tuning seeds "
        f"{', '.join(map(str, TUNE_SEEDS))} (the first two with --quick) and evaluated on the "
        "budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per budget, on the evaluation seeds, paired per seed: the training-loss ratio AdaGrad / "
        "RMSProp at that step, median with a 95% percentile bootstrap interval. At a budget it holds "
        "if the interval lies above 1 (AdaGrad behind), does not hold if below 1, inconclusive "
        f"otherwise; the claim is about long runs, so the verdict is the one at {max(BUDGETS)} steps, "
        f"with the map over the budgets beside it. RMSProp's floor is stated: its loss at the end and "
        f"the decades it gained since {BUDGETS[-2]} steps."
    ),
    arms=arms,
    criterion=criterion,
)
