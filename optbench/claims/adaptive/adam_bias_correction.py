"""Claim 6, ``adam-bias-correction``: Adam without bias correction takes a very large first
step; with the correction the first step is about the learning rate per coordinate.

Experiment
    Adam (lr :data:`ADAM_LR`, beta1 0.9, beta2 0.999) with and without bias correction,
    and without it at beta2 0.99 (informative), on the 2-D problems of
    :data:`BIAS_PROBLEMS` (the taco-shell quadratic, Rosenbrock, the saddle), every run
    seed of the budget, 200 steps (40 with --quick), the iterate ``x_0, x_1``
    recorded at every step.  Nothing is tuned.
Verdict
    The per-coordinate first step ``|x_i(1) - x_i(0)| / lr`` (:func:`step_ratios`),
    pooled over problems, seeds and coordinates; its median with a bootstrap 95%
    interval per variant.  Under any gradient the uncorrected first step is
    ``(1-beta1)/sqrt(1-beta2)`` lr (:func:`uncorrected_factor`: 3.16 at the defaults,
    1.0 at beta2 0.99).  Holds if the corrected interval lies inside :data:`ABOUT_LR`
    and the uncorrected one (defaults) at or above :data:`VERY_LARGE`; does not hold
    if the corrected interval lies entirely outside :data:`ABOUT_LR` or the
    uncorrected one entirely below :data:`VERY_LARGE`; inconclusive otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .intervals import interval_text, median_ci
from .run_tables import runs_of, seeded_arm

__all__ = ["ABOUT_LR", "ADAM_LR", "BIAS_PROBLEMS", "BIAS_VARIANTS", "CLAIM", "VERY_LARGE", "criterion",
           "step_ratios", "uncorrected_factor"]

ADAM_LR = 1e-3
#: (name, family, parameters) of the 2-D problems of claim 6 (x_0, x_1 are recorded).
BIAS_PROBLEMS = (
    ("taco", "quadratic", {"dim": 2, "condition_number": 1800.0}),
    ("rosenbrock", "rosenbrock", {"dim": 2}),
    ("saddle", "saddle", {"dim": 2}),
)
#: (arm suffix, Adam's hyper-parameters) of claim 6; the last is informative only.
BIAS_VARIANTS = (
    ("corrected", {"bias_correction": True}),
    ("uncorrected", {"bias_correction": False}),
    ("uncorrected-beta2=0.99", {"bias_correction": False, "beta2": 0.99}),
)
#: "About lr": the corrected first step within this factor band of lr.
ABOUT_LR = (0.9, 1.1)
#: "Very large": the uncorrected first step at least this many times lr.
VERY_LARGE = 2.0

_RATIO_COLUMNS = ["arm", "variant", "problem", "seed", "step", "ratio"]


def uncorrected_factor(t: int | np.ndarray, beta1: float = 0.9, beta2: float = 0.999) -> Any:
    """``(1 - beta1^t) / sqrt(1 - beta2^t)``: an uncorrected step over lr under a constant gradient."""
    return (1 - beta1 ** np.asarray(t, dtype=float)) / np.sqrt(1 - beta2 ** np.asarray(t, dtype=float))


def _arms(budget: Budget) -> list[Arm]:
    steps = 40 if budget.quick else 200
    arms = []
    for pname, family, params in BIAS_PROBLEMS:
        for suffix, hyper in BIAS_VARIANTS:
            arms.append(seeded_arm(f"{pname}/{suffix}", budget.seeds, problem=family, optimizer="adam",
                                   problem_params=params, optimizer_params={"lr": ADAM_LR, **hyper},
                                   steps=steps, record_every=1))
    return arms


def step_ratios(evidence: Evidence) -> pd.DataFrame:
    """Per run, step and coordinate: ``|x_i(t) - x_i(t-1)| / lr`` (columns arm, variant,
    problem, seed, step, ratio), from consecutive recorded steps only."""
    trace = evidence.trace
    out = []
    if len(trace) == 0:
        return pd.DataFrame(columns=_RATIO_COLUMNS)
    for rows in runs_of(trace):
        arm = rows["arm"][0]
        problem, variant = arm.split("/", 1)
        steps = rows["step"]
        for coord in ("x_0", "x_1"):
            if coord not in rows:
                continue
            x = np.asarray(rows[coord], dtype=float)
            consecutive = np.diff(steps) == 1
            ratio = np.abs(np.diff(x)) / ADAM_LR
            out.append(pd.DataFrame({"arm": arm, "variant": variant, "problem": problem,
                                     "seed": int(rows["seed"][0]), "step": steps[1:][consecutive],
                                     "ratio": ratio[consecutive]}))
    if not out:
        return pd.DataFrame(columns=_RATIO_COLUMNS)
    return pd.concat(out, ignore_index=True)


Stats = tuple[float, float, float]


def _first_step_stats(ratios: pd.DataFrame, numbers: dict[str, float]) -> dict[str, Stats]:
    """``{variant: (median, low, high)}`` of the first step / lr; adds them to ``numbers``."""
    first = ratios[ratios["step"] == 1]
    stats = {}
    for i, (variant, _) in enumerate(BIAS_VARIANTS):
        med, low, high = median_ci(first.loc[first["variant"] == variant, "ratio"], seed=600 + i)
        stats[variant] = (med, low, high)
        key = variant.replace("-", "_").replace("=", "_")
        numbers.update({f"{key}_median": med, f"{key}_low": low, f"{key}_high": high,
                        f"{key}_n": float((first["variant"] == variant).sum())})
    early = ratios[(ratios["variant"] == "uncorrected") & (ratios["step"] <= 40)]
    if len(early):
        numbers["uncorrected_peak_first_40"] = float(early.groupby("step")["ratio"].median().max())
    return stats


def _summary(stats: dict[str, Stats], numbers: dict[str, float], n_err: int) -> str:
    cor, unc = stats["corrected"], stats["uncorrected"]
    text = (f"first step / lr (median [95% CI] over problems x seeds x coordinates): corrected "
            f"{interval_text(*cor)}, uncorrected {interval_text(*unc)} (theory "
            f"{numbers['theory_uncorrected']:.2f}; with beta2=0.99 "
            f"{interval_text(*stats['uncorrected-beta2=0.99'])}, theory 1.00)")
    if "uncorrected_peak_first_40" in numbers:
        text += (f"; the uncorrected steps grow to {numbers['uncorrected_peak_first_40']:.2f} lr "
                 f"(median) within 40 steps")
    if n_err:
        text += f"; {n_err} run(s) failed and are left out"
    return text


def criterion(evidence: Evidence) -> Verdict:
    """Claim 6's verdict from the first steps' medians and intervals (see the module docstring)."""
    ratios = step_ratios(evidence)
    n_err = int((evidence.runs["status"] == "error").sum()) if len(evidence.runs) else 0
    numbers: dict[str, float] = {"theory_uncorrected": float(uncorrected_factor(1)),
                                 "theory_uncorrected_beta2_0.99": float(uncorrected_factor(1, beta2=0.99)),
                                 "error_runs": n_err}
    stats = _first_step_stats(ratios, numbers)
    cor, unc = stats["corrected"], stats["uncorrected"]
    lo_band, hi_band = ABOUT_LR
    missing = any(math.isnan(v[0]) for v in (cor, unc))
    text = _summary(stats, numbers, n_err)
    if missing:
        return Verdict(INCONCLUSIVE, "no first step measured in an arm: " + text, numbers)
    if lo_band <= cor[1] and cor[2] <= hi_band and unc[1] >= VERY_LARGE:
        outcome = HOLDS
    elif cor[2] < lo_band or cor[1] > hi_band or unc[2] < VERY_LARGE:
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    return Verdict(outcome, text, numbers)


CLAIM = Claim(
    key="adam-bias-correction",
    number=6,
    kind="check",
    statement=("Adam without bias correction takes a very large first step (the second moment "
               "starts at zero); the bias correction avoids it: with it the first step is about "
               "the learning rate per coordinate."),
    experiment=("Adam (lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7) with and without bias correction, and "
                "without it at beta2 0.99 (informative), on three 2-D problems (the taco-shell "
                "quadratic with condition number 1800, Rosenbrock, the saddle), every run seed of the "
                "budget; 200 steps (40 with --quick), the iterate x_0, x_1 recorded at every step. "
                "Nothing is tuned."),
    statistic=("Per-coordinate first-step size |x_i(1) - x_i(0)| / lr, pooled over problems, seeds "
               "and coordinates; its median with a bootstrap 95% interval per variant. The uncorrected "
               "first step is (1-beta1)/sqrt(1-beta2) lr under any gradient (3.16 lr at the defaults, "
               "1.0 lr at beta2 = 0.99, so 'very large' depends on the betas and is judged at the "
               "lecture's defaults). Holds if the corrected interval lies inside [0.9, 1.1] and the "
               "uncorrected one (defaults) lies at or above 2; does not hold if the corrected interval "
               "lies entirely outside [0.9, 1.1] or the uncorrected one entirely below 2; inconclusive "
               "otherwise."),
    arms=_arms,
    criterion=criterion,
)
