"""Claim 10, weight initialisation: too small and the activations vanish, too large and
they saturate, Xavier or He and they stay well spread; learning follows.

Experiment: a tanh net with four hidden layers of 32 units on digits, initialised four
ways (small, large, Xavier, He).  For every run seed the activation spread of every
layer at the initial point x0 is measured (:func:`init_measure`), and plain SGD with
one common learning rate (not tuned per scheme: the claim is about the
initialisation) trains each net (:func:`init_arms`).

Verdict (:func:`init_criterion`): per seed, the activations at x0 "vanish" (the
deepest layer's std below :data:`VANISH_STD`), "saturate" (mean share of saturated
tanh units above :data:`SATURATE_FRAC`) or are "well distributed"
(:func:`init_shapes`); and per seed the ratio of final training losses good/bad for
each of Xavier and He against each of small and large, median with a bootstrap
interval.  Holds if small vanishes, large saturates and Xavier and He are well
distributed on at least :data:`SHARE` of the seeds each and all four intervals lie
below 1; does not hold if any shape is seen on at most ``1 - SHARE`` of the seeds or
any interval lies above 1; inconclusive otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_interval, fmt, ratio
from .run_tables import failed_note, final_values

__all__ = [
    "CLAIM", "INIT_BAD", "INIT_GOOD", "INIT_LR", "INIT_PROBLEM", "INIT_SCHEMES", "VANISH_STD",
    "init_arms", "init_criterion", "init_measure", "init_shapes", "median_curve",
]

INIT_PROBLEM = {"dataset": "digits", "hidden": [32, 32, 32, 32], "activation": "tanh",
                "batch_size": 64, "seed": 0}
INIT_SCHEMES = ("small", "large", "xavier", "he")
INIT_GOOD = ("xavier", "he")
INIT_BAD = ("small", "large")
INIT_LR = 0.1
#: "Vanish": the deepest hidden layer's activations have a standard deviation below this.
VANISH_STD = 0.01
#: "Saturate": the mean over layers of the share of tanh outputs with |h| > 0.99 exceeds this.
SATURATE_FRAC = 0.25
#: "Well distributed": every layer's std is at least WELL_MIN_STD and its saturated
#: share at most WELL_MAX_SAT.
WELL_MIN_STD = 0.1
WELL_MAX_SAT = 0.1
#: A characterisation "holds" when it is true for at least this share of the seeds, and
#: "does not hold" when it is true for at most 1 - this share.
SHARE = 0.8
#: The shape each scheme's activations are claimed to take at x0.
EXPECTED_SHAPES = {"small": "vanish", "large": "saturate", "xavier": "well", "he": "well"}


def _init_steps(budget: Budget) -> int:
    return 150 if budget.quick else 300


def init_arms(budget: Budget) -> list[Arm]:
    """One arm per scheme: plain SGD (lr 0.1) on a 4x32 tanh net on digits, every seed."""
    steps = _init_steps(budget)
    return [Arm(init, tuple(
        RunSpec(problem="mlp", problem_params={**INIT_PROBLEM, "init": init}, optimizer="sgd",
                optimizer_params={"lr": INIT_LR}, seed=s, steps=steps, record_every=25)
        for s in budget.seeds)) for init in INIT_SCHEMES]


def init_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``activations``: :func:`optbench.diagnostics.activation_stats` of every scheme at the
    initial point ``x0(seed)`` of every run seed (the training split fed forward)."""
    from ...build import build_problem
    from ...diagnostics import activation_stats

    frames = []
    for init in INIT_SCHEMES:
        problem = build_problem("mlp", {**INIT_PROBLEM, "init": init})
        for seed in budget.seeds:
            stats = activation_stats(problem, problem.x0(seed))
            frames.append(stats.assign(init=init, seed=seed))
    return {"activations": pd.concat(frames, ignore_index=True)}


def init_shapes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (init, seed): whether the activations vanish, saturate or are well spread."""
    rows = []
    for (init, seed), g in table.groupby(["init", "seed"]):
        g = g.sort_values("layer")
        sat = g["frac_saturated"].astype(float)
        rows.append({
            "init": init, "seed": seed,
            "last_std": float(g["std"].iloc[-1]),
            "mean_saturated": float(sat.mean()),
            "vanish": bool(g["std"].iloc[-1] < VANISH_STD),
            "saturate": bool(sat.mean() > SATURATE_FRAC),
            "well": bool((g["std"] >= WELL_MIN_STD).all() and (sat <= WELL_MAX_SAT).all()),
        })
    return pd.DataFrame(rows)


def _shape_numbers(shapes: pd.DataFrame, numbers: dict[str, float]) -> list[str]:
    """Add the share of seeds showing each expected shape and the median spread of
    every scheme to ``numbers``; return the outcome of each expected shape."""
    share_outcomes = []
    for init, shape in EXPECTED_SHAPES.items():
        rows = shapes[shapes["init"] == init]
        share = float(rows[shape].mean()) if len(rows) else math.nan
        numbers[f"share_{shape}_{init}"] = share
        share_outcomes.append(HOLDS if share >= SHARE else FAILS if share <= 1 - SHARE else INCONCLUSIVE)
    for init in INIT_SCHEMES:
        rows = shapes[shapes["init"] == init]
        numbers[f"last_std_{init}"] = float(rows["last_std"].median()) if len(rows) else math.nan
        numbers[f"saturated_{init}"] = float(rows["mean_saturated"].median()) if len(rows) else math.nan
    return share_outcomes


def _pair_numbers(finals: pd.DataFrame, numbers: dict[str, float]) -> list[str]:
    """Add the paired final-loss ratio good/bad (median, interval) of every pair of a good
    and a bad scheme to ``numbers``; return the outcome of each pair (below 1 holds)."""
    wide = finals.pivot_table(index="seed", columns="arm", values="value", aggfunc="first")
    pair_outcomes = []
    label = 0
    for good in INIT_GOOD:
        for bad in INIT_BAD:
            label += 1
            if good not in wide or bad not in wide:
                ratios = np.array([])
            else:
                ratios = ratio(wide[good].to_numpy(), wide[bad].to_numpy())
                ratios = ratios[~np.isnan(ratios)]
            med = float(np.median(ratios)) if ratios.size else math.nan
            low, high = bootstrap_interval(ratios, label=label) if ratios.size >= 2 else (math.nan, math.nan)
            numbers.update({f"ratio_{good}_{bad}": med, f"ratio_{good}_{bad}_low": low,
                            f"ratio_{good}_{bad}_high": high})
            pair_outcomes.append(side(low, high, 1.0, "below"))
    return pair_outcomes


def _init_summary(numbers: dict[str, float], evidence: Evidence) -> str:
    worst_good = max(INIT_GOOD, key=lambda g: max(numbers[f"ratio_{g}_{b}_high"] for b in INIT_BAD))
    return (
        f"at x0 the deepest layer's std is {fmt(numbers['last_std_small'])} for small init "
        f"(vanishes on {numbers['share_vanish_small']:.0%} of seeds), large init saturates "
        f"{fmt(numbers['saturated_large'])} of the tanh units ({numbers['share_saturate_large']:.0%} "
        f"of seeds), Xavier/He are well spread on {numbers['share_well_xavier']:.0%}/"
        f"{numbers['share_well_he']:.0%}; after {int(numbers['steps'])} SGD steps the median "
        f"training loss is {fmt(numbers['final_loss_small'])} (small), "
        f"{fmt(numbers['final_loss_large'])} (large), {fmt(numbers['final_loss_xavier'])} "
        f"(Xavier), {fmt(numbers['final_loss_he'])} (He); the least favourable paired ratio "
        f"({worst_good}) has upper bound "
        f"{fmt(max(numbers[f'ratio_{worst_good}_{b}_high'] for b in INIT_BAD))}"
        f"{failed_note(evidence)}"
    )


def init_criterion(evidence: Evidence) -> Verdict:
    """Activation shapes at x0 (shares of seeds) and paired final-loss ratios good/bad."""
    table = evidence.tables.get("activations")
    if table is None or table.empty:
        return Verdict(INCONCLUSIVE, "no activation table was measured; nothing to decide")
    numbers: dict[str, float] = {}
    share_outcomes = _shape_numbers(init_shapes(table), numbers)
    finals = final_values(evidence)
    pair_outcomes = _pair_numbers(finals, numbers)
    for init in INIT_SCHEMES:
        v = finals.loc[finals["arm"] == init, "value"]
        numbers[f"final_loss_{init}"] = float(v.median()) if len(v) else math.nan
    numbers["steps"] = float(_init_steps(evidence.budget))

    outcomes = share_outcomes + pair_outcomes
    outcome = combined(outcomes)
    return Verdict(outcome, _init_summary(numbers, evidence), numbers)


def median_curve(frame: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Median over runs of ``column`` at each recorded step (diverged rows as +inf):
    columns ``step`` and ``column``."""
    values = frame[column].astype(float).where(np.isfinite(frame[column].astype(float)), np.inf)
    return (frame.assign(_v=values).groupby("step")["_v"].median().reset_index()
            .rename(columns={"_v": column}))


CLAIM = Claim(
    key="weight-initialization",
    number=10,
    statement=(
        "Initialization too small: activations go to zero, gradients also zero, no learning. "
        "Initialization too big: activations saturate (for tanh), gradients zero, no learning. "
        "Initialization just right (Xavier, MSRA/He): nice distribution of activations at all "
        "layers, learning proceeds nicely."
    ),
    experiment=(
        "A tanh net with four hidden layers of 32 units on digits (standardized, batch 64, "
        "data seed 0), initialised four ways: small (std 0.01), large (std 1), Xavier "
        "(1/sqrt(fan_in)) and He (sqrt(2/fan_in)). For every run seed the activation spread "
        "of every layer at x0 is measured (optbench.diagnostics.activation_stats on the "
        "training split), and plain SGD with one common lr = 0.1 (not tuned per scheme: the "
        "claim is about the initialisation) trains each for 300 steps (150 with --quick); "
        "8 seeds (5 with --quick)."
    ),
    statistic=(
        f"Shapes at x0, per seed: 'vanish' = the deepest layer's std < {VANISH_STD}; "
        f"'saturate' = mean over layers of the share |h| > 0.99 above {SATURATE_FRAC}; "
        f"'well distributed' = every layer's std >= {WELL_MIN_STD} and saturated share <= "
        f"{WELL_MAX_SAT}. Learning: per-seed ratio of the final training loss, good/bad, for "
        "each of Xavier and He against each of small and large (4 pairs), median with a 95% "
        "bootstrap interval. Holds if small vanishes, large saturates and Xavier and He are "
        f"well distributed on >= {SHARE:.0%} of the seeds each and all four intervals lie "
        f"below 1; does not hold if any shape is seen on <= {1 - SHARE:.0%} of the seeds or "
        "any interval lies above 1; inconclusive otherwise."
    ),
    arms=init_arms,
    criterion=init_criterion,
    measure=init_measure,
)
