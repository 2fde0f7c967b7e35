"""Claim 11, normalising the inputs: before, the loss is very sensitive to changes in the
weights and hard to optimise; after, less sensitive and easier to optimise.

Experiment: logistic regression on breast_cancer with raw or standardized features,
and a one-hidden-layer relu net on digits with preprocess 'none' or 'standardize'.
Sensitivity: the condition number of the logistic Hessian at the minimiser w*
(:func:`norm_measure`).  Optimisation: minibatch SGD over a one-point-per-decade
learning-rate grid (:func:`norm_arms`); for each condition the rate is selected on two
tuning seeds (:func:`tune_seeds`, :func:`select_lr`) and evaluated on the run seeds.

Verdict (:func:`norm_criterion`): per family the per-seed ratio standardized/raw of the
tuned final value (:func:`norm_values`), median with a bootstrap interval.  Holds if
both intervals lie below 1; does not hold if either lies above 1; inconclusive
otherwise.  The sensitivity half is a near-certainty (standardising features of very
different scales shrinks the Hessian's spread), so it is the separate check
:data:`CHECK` (``input-normalization-conditioning``, :func:`conditioning_criterion`):
kappa_raw / kappa_standardized holds above 10 and does not hold at or below 1.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_interval, fmt, interval, ratio
from .run_tables import TUNE_SEED_OFFSET, failed_note, final_values, lr_name

__all__ = [
    "CHECK", "CLAIM", "FAMILY_TEXT", "NORM_CONDITIONS", "NORM_FAMILIES", "NORM_LOGISTIC",
    "NORM_LRS", "NORM_MLP", "conditioning_criterion", "no_arms", "norm_arms", "norm_criterion",
    "norm_measure", "norm_values", "select_lr", "tune_seeds",
]

NORM_LOGISTIC = {"dataset": "breast_cancer", "batch_size": 32, "seed": 0}
NORM_MLP = {"dataset": "digits", "hidden": [32], "activation": "relu", "init": "he",
            "batch_size": 64, "seed": 0}
#: (family, condition) -> the problem parameter that sets the preprocessing.
NORM_CONDITIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("logistic", "raw"): {"standardize": False},
    ("logistic", "standardized"): {"standardize": True},
    ("mlp", "raw"): {"preprocess": "none"},
    ("mlp", "standardized"): {"preprocess": "standardize"},
}
#: The two problem families, in the order of their statistics.
NORM_FAMILIES = ("logistic", "mlp")
#: How each family is named in the verdict's map.
FAMILY_TEXT = {"logistic": "logistic regression", "mlp": "relu net on digits"}
#: Learning-rate grids (one point per decade), wide enough for both conditions.
NORM_LRS = {"logistic": tuple(10.0 ** k for k in range(-7, 2)),
            "mlp": tuple(10.0 ** k for k in range(-4, 2))}


def _norm_steps(budget: Budget) -> dict[str, int]:
    return {"logistic": 150, "mlp": 100} if budget.quick else {"logistic": 300, "mlp": 200}


def tune_seeds(budget: Budget, n: int = 2) -> tuple[int, ...]:
    """Seeds that select a learning rate: ``TUNE_SEED_OFFSET + `` the first ``n`` run seeds."""
    return tuple(TUNE_SEED_OFFSET + s for s in budget.seeds[:n])


def norm_arms(budget: Budget) -> list[Arm]:
    """Per family, condition and grid lr: SGD runs on the tuning and the evaluation seeds."""
    steps = _norm_steps(budget)
    seeds = tune_seeds(budget) + tuple(budget.seeds)
    arms = []
    for (family, condition), extra in NORM_CONDITIONS.items():
        base = NORM_LOGISTIC if family == "logistic" else NORM_MLP
        for lr in NORM_LRS[family]:
            arms.append(Arm(f"{family}/{condition}/{lr_name(lr)}", tuple(
                RunSpec(problem=family, problem_params={**base, **extra}, optimizer="sgd",
                        optimizer_params={"lr": lr}, seed=s, steps=steps[family],
                        record_every=10 if family == "logistic" else 25)
                for s in seeds)))
    return arms


def norm_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``hessian``: the condition number ``lambda_max / lambda_min`` of the logistic
    Hessian at its minimiser ``w*``, raw and standardized (deterministic: no seeds)."""
    from ...build import build_problem

    rows = []
    for condition in ("raw", "standardized"):
        problem = build_problem("logistic", {**NORM_LOGISTIC, **NORM_CONDITIONS[("logistic", condition)]})
        eig = np.linalg.eigvalsh(problem.hess(problem.w_star))
        rows.append({"condition": condition, "lambda_min": float(eig[0]),
                     "lambda_max": float(eig[-1]), "kappa": float(eig[-1] / eig[0])})
    return {"hessian": pd.DataFrame(rows)}


def norm_values(evidence: Evidence) -> pd.DataFrame:
    """Per run: family, condition, lr, seed, value (logistic: final subopt / initial
    subopt; mlp: final training loss), +inf when diverged."""
    finals = final_values(evidence, "loss")
    if finals.empty:
        return finals.assign(family=[], condition=[], lr=[])
    parts = finals["arm"].str.split("/", expand=True)
    finals = finals.assign(family=parts[0], condition=parts[1],
                           lr=finals["optimizer.lr"].astype(float))
    start = (evidence.trace[evidence.trace["step"] == 0].set_index("run_id")["subopt"].astype(float))
    sub = finals["subopt"].astype(float).to_numpy()
    rel = sub / finals["run_id"].map(start).to_numpy()
    is_log = (finals["family"] == "logistic").to_numpy()
    value = np.where(is_log, rel, finals["loss"].astype(float).to_numpy())
    value = np.where(np.isinf(finals["value"].to_numpy()) | ~np.isfinite(value), np.inf, value)
    return finals.assign(value=value)


def select_lr(values: pd.DataFrame, seeds: Sequence[int]) -> float:
    """The grid lr with the lowest median value over ``seeds``; a rate with a diverged
    (inf) run there is never chosen (ties: the smaller lr).  NaN if none qualifies."""
    rows = values[values["seed"].isin(list(seeds))]
    best, best_lr = math.inf, math.nan
    for lr, g in sorted(rows.groupby("lr"), key=lambda t: t[0]):
        v = g["value"].to_numpy(dtype=float)
        if v.size == 0 or np.isinf(v).any():
            continue
        med = float(np.median(v))
        if med < best:
            best, best_lr = med, float(lr)
    return best_lr


def _kappa_outcome(hess: pd.DataFrame | None, numbers: dict[str, float]) -> str:
    """Add the Hessian's condition numbers and their ratio raw/standardized to ``numbers``;
    the outcome: holds above 10, does not hold at or below 1."""
    if hess is None or hess.empty:
        numbers["kappa_ratio"] = math.nan
        return INCONCLUSIVE
    kappa = hess.set_index("condition")["kappa"]
    numbers.update(kappa_raw=float(kappa["raw"]), kappa_standardized=float(kappa["standardized"]))
    numbers["kappa_ratio"] = numbers["kappa_raw"] / numbers["kappa_standardized"]
    return (HOLDS if numbers["kappa_ratio"] > 10 else FAILS if numbers["kappa_ratio"] <= 1
            else INCONCLUSIVE)


def _family_outcome(values: pd.DataFrame, family: str, label: int, tune: Sequence[int],
                    evaluation: list[int], numbers: dict[str, float]) -> str:
    """Add one family's selected rates, tuned medians and paired ratio standardized/raw
    (median, interval) to ``numbers``; the outcome: holds when the interval is below 1."""
    per = {}
    for condition in ("raw", "standardized"):
        rows = values[(values["family"] == family) & (values["condition"] == condition)]
        lr = select_lr(rows, tune)
        chosen = rows[(rows["lr"] == lr) & rows["seed"].isin(evaluation)]
        per[condition] = chosen.set_index("seed")["value"]
        numbers[f"{family}_lr_{condition}"] = lr
        numbers[f"{family}_{condition}"] = float(per[condition].median()) if len(chosen) else math.nan
    pair = pd.concat([per["standardized"].rename("s"), per["raw"].rename("r")], axis=1).dropna(how="any")
    ratios = ratio(pair["s"].to_numpy(), pair["r"].to_numpy())
    ratios = ratios[~np.isnan(ratios)]
    low, high = bootstrap_interval(ratios, label=label) if ratios.size >= 2 else (math.nan, math.nan)
    numbers.update({f"{family}_ratio": float(np.median(ratios)) if ratios.size else math.nan,
                    f"{family}_ratio_low": low, f"{family}_ratio_high": high})
    return side(low, high, 1.0, "below")


def _norm_summary(n: dict[str, float], evidence: Evidence) -> str:
    return (
        f"standardizing breast_cancer divides the condition number of the logistic Hessian at "
        f"w* by {fmt(n['kappa_ratio'])} ({fmt(n.get('kappa_raw', math.nan))} -> "
        f"{fmt(n.get('kappa_standardized', math.nan))}); with a tuned SGD lr the final relative "
        f"suboptimality ratio standardized/raw is {fmt(n['logistic_ratio'])} "
        f"{interval(n['logistic_ratio_low'], n['logistic_ratio_high'])} (logistic, lr "
        f"{fmt(n['logistic_lr_raw'])} raw vs {fmt(n['logistic_lr_standardized'])}) and the final "
        f"training-loss ratio {fmt(n['mlp_ratio'])} {interval(n['mlp_ratio_low'], n['mlp_ratio_high'])} "
        f"(mlp on digits, lr {fmt(n['mlp_lr_raw'])} vs {fmt(n['mlp_lr_standardized'])})"
        f"{failed_note(evidence)}"
    )


def norm_criterion(evidence: Evidence) -> Verdict:
    """Per family, the paired ratio standardized/raw of the tuned final value on the
    evaluation seeds; the verdict of each family is in ``by_setting``.  The Hessian's
    condition numbers are reported beside them but decide nothing here (they are the
    check :data:`CHECK`)."""
    numbers: dict[str, float] = {}
    _kappa_outcome(evidence.tables.get("hessian"), numbers)
    values = norm_values(evidence)
    tune = tune_seeds(evidence.budget)
    evaluation = list(evidence.budget.seeds)
    by_family = {FAMILY_TEXT[family]: _family_outcome(values, family, 20 + i, tune, evaluation, numbers)
                 for i, family in enumerate(NORM_FAMILIES)}
    return Verdict(combined(list(by_family.values())), _norm_summary(numbers, evidence), numbers,
                   by_setting=by_family)


def no_arms(budget: Budget) -> list[Arm]:
    """The check runs nothing: its evidence is :func:`norm_measure`'s table."""
    return []


def conditioning_criterion(evidence: Evidence) -> Verdict:
    """The check: kappa_raw / kappa_standardized of the logistic Hessian at w*; holds
    above 10, does not hold at or below 1."""
    numbers: dict[str, float] = {}
    outcome = _kappa_outcome(evidence.tables.get("hessian"), numbers)
    return Verdict(outcome, (
        f"standardizing breast_cancer divides the condition number of the logistic Hessian at "
        f"w* by {fmt(numbers['kappa_ratio'])} ({fmt(numbers.get('kappa_raw', math.nan))} -> "
        f"{fmt(numbers.get('kappa_standardized', math.nan))})"), numbers)


CLAIM = Claim(
    key="input-normalization",
    number=11,
    statement=(
        "Before normalization: classification loss very sensitive to changes in weight matrix; "
        "hard to optimize. After normalization: less sensitive to small changes in weights; "
        "easier to optimize."
    ),
    experiment=(
        "Logistic regression on breast_cancer (batch 32) with raw or standardized features, and "
        "a one-hidden-layer relu net (32 units, He init, batch 64) on digits with preprocess "
        "'none' or 'standardize'. Sensitivity: the condition number of the logistic Hessian at "
        "the minimiser w*. Optimisation: minibatch SGD over a one-point-per-decade lr grid "
        "(logistic 1e-7..10, 300 steps; mlp 1e-4..10, 200 steps; 150/100 with --quick); for each "
        "condition the lr is selected on two tuning seeds (run seeds + 1000) by the median final "
        "value, and evaluated on the run seeds (8, 5 with --quick)."
    ),
    statistic=(
        "Per family the per-seed ratio standardized/raw of the tuned final value (logistic: "
        "final subopt over initial subopt; mlp: final training loss), median with a 95% "
        "bootstrap interval. Holds if both intervals lie below 1; does not hold if either lies "
        "above 1; inconclusive otherwise. The Hessian's condition numbers are reported; the "
        "check input-normalization-conditioning judges them."
    ),
    arms=norm_arms,
    criterion=norm_criterion,
    measure=norm_measure,
)


CHECK = Claim(
    key="input-normalization-conditioning",
    number=11,
    kind="check",
    statement=("Before normalization the classification loss is very sensitive to changes in the "
               "weights; after normalization less so (the sensitivity half of claim 11)."),
    experiment=("The logistic loss on breast_cancer with raw or standardized features; the "
                "eigenvalues of its Hessian at the minimiser w* (deterministic, nothing is run)."),
    statistic=("kappa_raw / kappa_standardized of the Hessian at w*. Holds above 10; does not hold "
               "at or below 1; inconclusive between. A check: features whose scales differ by "
               "orders of magnitude make this near-certain."),
    arms=no_arms,
    criterion=conditioning_criterion,
    measure=norm_measure,
)
