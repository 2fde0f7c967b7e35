"""Claim 10, weight initialisation: too small and the activations vanish, too large and
they saturate, Xavier or He and they stay well spread; learning follows.

The statement is about deep nets: with one hidden layer, std-0.01 weights do not make
the activations vanish.  So the depth is the setting that decides it, swept over
:data:`INIT_DEPTHS` hidden layers (named before any result was seen).

Experiment: at each depth, a tanh net of hidden layers of :data:`INIT_WIDTH` units on
digits, initialised four ways (small, large, Xavier, He).  For every run seed the
activation spread of every layer at the initial point x0 is measured
(:func:`init_measure`), and plain SGD with one common learning rate (not tuned per
scheme or depth: the claim is about the initialisation) trains each net
(:func:`init_arms`).

Verdict (:func:`init_criterion`), at each depth: per seed, the activations at x0
"vanish" (the deepest layer's std below :data:`VANISH_STD`), "saturate" (mean share of
saturated tanh units above :data:`SATURATE_FRAC`) or are "well distributed"
(:func:`init_shapes`); and per seed the ratio of final training losses good/bad for
each of Xavier and He against each of small and large, median with a bootstrap
interval.  A depth holds if small vanishes, large saturates and Xavier and He are well
distributed on at least :data:`SHARE` of the seeds each and all four intervals lie
below 1; it does not hold if any shape is seen on at most ``1 - SHARE`` of the seeds
or any interval lies above 1; inconclusive otherwise (``by_setting``, every depth).
The claim's verdict combines the deep depths only, those with at least
:data:`~.run_tables.DEEP_HIDDEN_LAYERS` hidden layers: it holds if every one of them
holds, does not hold if any does not, else inconclusive.  The shallower depths are
measured and shown in the map but do not enter the verdict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_interval, fmt, ratio
from .run_tables import DEEP_HIDDEN_LAYERS, deep_depths, depth_name, failed_note, final_values

__all__ = [
    "CLAIM", "INIT_BAD", "INIT_DEPTHS", "INIT_GOOD", "INIT_LR", "INIT_PROBLEM", "INIT_SCHEMES",
    "INIT_WIDTH", "VANISH_STD", "depth_outcome", "init_arm", "init_arms", "init_criterion",
    "init_measure", "init_problem", "init_shapes", "median_curve",
]

#: The swept setting: numbers of hidden layers (named before any result was seen).
INIT_DEPTHS = (1, 2, 4, 8)
#: Units of every hidden layer.
INIT_WIDTH = 32
#: The net's problem parameters other than ``hidden`` and ``init``.
INIT_PROBLEM = {"dataset": "digits", "activation": "tanh", "batch_size": 64, "seed": 0}
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


def init_problem(depth: int, init: str) -> dict[str, Any]:
    """The problem parameters of the net of ``depth`` hidden layers initialised ``init``."""
    return {**INIT_PROBLEM, "hidden": [INIT_WIDTH] * depth, "init": init}


def init_arm(depth: int, init: str) -> str:
    """The arm of one depth and scheme: ``"4 hidden layers/small"``."""
    return f"{depth_name(depth)}/{init}"


def init_arms(budget: Budget) -> list[Arm]:
    """One arm per depth and scheme: plain SGD (lr 0.1) on a tanh net on digits, every seed."""
    steps = _init_steps(budget)
    return [Arm(init_arm(depth, init), tuple(
        RunSpec(problem="mlp", problem_params=init_problem(depth, init), optimizer="sgd",
                optimizer_params={"lr": INIT_LR}, seed=s, steps=steps, record_every=25)
        for s in budget.seeds)) for depth in INIT_DEPTHS for init in INIT_SCHEMES]


def init_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``activations``: :func:`optbench.diagnostics.activation_stats` of every depth and
    scheme at the initial point ``x0(seed)`` of every run seed (the training split fed
    forward), with columns ``depth``, ``init`` and ``seed`` added."""
    from ...build import build_problem
    from ...diagnostics import activation_stats

    frames = []
    for depth in INIT_DEPTHS:
        for init in INIT_SCHEMES:
            problem = build_problem("mlp", init_problem(depth, init))
            for seed in budget.seeds:
                stats = activation_stats(problem, problem.x0(seed))
                frames.append(stats.assign(depth=depth, init=init, seed=seed))
    return {"activations": pd.concat(frames, ignore_index=True)}


def init_shapes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (depth, init, seed): whether the activations vanish, saturate or are well spread."""
    rows = []
    for (depth, init, seed), g in table.groupby(["depth", "init", "seed"]):
        g = g.sort_values("layer")
        sat = g["frac_saturated"].astype(float)
        rows.append({
            "depth": int(depth), "init": init, "seed": seed,
            "last_std": float(g["std"].iloc[-1]),
            "mean_saturated": float(sat.mean()),
            "vanish": bool(g["std"].iloc[-1] < VANISH_STD),
            "saturate": bool(sat.mean() > SATURATE_FRAC),
            "well": bool((g["std"] >= WELL_MIN_STD).all() and (sat <= WELL_MAX_SAT).all()),
        })
    return pd.DataFrame(rows, columns=["depth", "init", "seed", "last_std", "mean_saturated",
                                       "vanish", "saturate", "well"])


def _shape_numbers(shapes: pd.DataFrame, key: str, numbers: dict[str, float]) -> list[str]:
    """Add one depth's share of seeds showing each expected shape and the median spread of
    every scheme to ``numbers`` (keys start with ``key``); return the outcome of each
    expected shape."""
    share_outcomes = []
    for init, shape in EXPECTED_SHAPES.items():
        rows = shapes[shapes["init"] == init]
        share = float(rows[shape].mean()) if len(rows) else math.nan
        numbers[f"{key}share_{shape}_{init}"] = share
        share_outcomes.append(HOLDS if share >= SHARE else FAILS if share <= 1 - SHARE else INCONCLUSIVE)
    for init in INIT_SCHEMES:
        rows = shapes[shapes["init"] == init]
        numbers[f"{key}last_std_{init}"] = float(rows["last_std"].median()) if len(rows) else math.nan
        numbers[f"{key}saturated_{init}"] = (float(rows["mean_saturated"].median()) if len(rows)
                                             else math.nan)
    return share_outcomes


def _pair_numbers(finals: pd.DataFrame, key: str, numbers: dict[str, float]) -> list[str]:
    """Add one depth's paired final-loss ratio good/bad (median, interval) of every pair of
    a good and a bad scheme to ``numbers`` (keys start with ``key``); return the outcome
    of each pair (below 1 holds)."""
    wide = finals.pivot_table(index="seed", columns="scheme", values="value", aggfunc="first")
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
            numbers.update({f"{key}ratio_{good}_{bad}": med, f"{key}ratio_{good}_{bad}_low": low,
                            f"{key}ratio_{good}_{bad}_high": high})
            pair_outcomes.append(side(low, high, 1.0, "below"))
    return pair_outcomes


def _depth_finals(finals: pd.DataFrame, depth: int) -> pd.DataFrame:
    """The final values of one depth's arms, with the column ``scheme``."""
    prefix = f"{depth_name(depth)}/"
    rows = finals[finals["arm"].astype(str).str.startswith(prefix)]
    return rows.assign(scheme=rows["arm"].astype(str).str.slice(len(prefix)))


def depth_outcome(shapes: pd.DataFrame, finals: pd.DataFrame, depth: int,
                  numbers: dict[str, float]) -> str:
    """One depth's outcome: its four shapes (shares of seeds) and four paired loss ratios,
    :func:`~optbench.claims.base.combined`; its numbers are added to ``numbers`` with keys
    ``depth<d>_...``."""
    key = f"depth{depth}_"
    share_outcomes = _shape_numbers(shapes[shapes["depth"] == depth], key, numbers)
    mine = _depth_finals(finals, depth)
    pair_outcomes = _pair_numbers(mine, key, numbers)
    for init in INIT_SCHEMES:
        v = mine.loc[mine["scheme"] == init, "value"]
        numbers[f"{key}final_loss_{init}"] = float(v.median()) if len(v) else math.nan
    return combined(share_outcomes + pair_outcomes)


def _depth_summary(n: dict[str, float], depth: int, outcome: str) -> str:
    k = f"depth{depth}_"
    worst = max(n[f"{k}ratio_{g}_{b}_high"] for g in INIT_GOOD for b in INIT_BAD)
    return (
        f"{depth_name(depth)} ({outcome}): small init's deepest std "
        f"{fmt(n[f'{k}last_std_small'])} (vanishes on {n[f'{k}share_vanish_small']:.0%} of "
        f"seeds), large saturates {fmt(n[f'{k}saturated_large'])} of the units "
        f"({n[f'{k}share_saturate_large']:.0%}), Xavier/He well spread on "
        f"{n[f'{k}share_well_xavier']:.0%}/{n[f'{k}share_well_he']:.0%}; loss small/large/Xavier/He "
        f"{fmt(n[f'{k}final_loss_small'])}/{fmt(n[f'{k}final_loss_large'])}/"
        f"{fmt(n[f'{k}final_loss_xavier'])}/{fmt(n[f'{k}final_loss_he'])}, largest upper bound "
        f"of a ratio good/bad {fmt(worst)}"
    )


def init_criterion(evidence: Evidence) -> Verdict:
    """Per depth: activation shapes at x0 (shares of seeds) and paired final-loss ratios
    good/bad; the claim combines the deep depths."""
    table = evidence.tables.get("activations")
    if table is None or table.empty:
        return Verdict(INCONCLUSIVE, "no activation table was measured; nothing to decide")
    shapes = init_shapes(table)
    finals = final_values(evidence)
    numbers: dict[str, float] = {"steps": float(_init_steps(evidence.budget)),
                                 "deep_from": float(DEEP_HIDDEN_LAYERS)}
    by_setting = {depth_name(d): depth_outcome(shapes, finals, d, numbers) for d in INIT_DEPTHS}
    deep = deep_depths(INIT_DEPTHS)
    outcome = combined(by_setting[depth_name(d)] for d in deep)
    summary = (
        f"the verdict combines the nets of >= {DEEP_HIDDEN_LAYERS} hidden layers "
        f"({', '.join(str(d) for d in deep)}); at x0 and after {int(numbers['steps'])} SGD steps "
        "(median training loss): "
        + "; ".join(_depth_summary(numbers, d, by_setting[depth_name(d)]) for d in INIT_DEPTHS)
        + failed_note(evidence)
    )
    return Verdict(outcome, summary, numbers, by_setting)


def median_curve(frame: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Median over runs of ``column`` at each recorded step (diverged rows as +inf):
    columns ``step`` and ``column``."""
    values = frame[column].astype(float).where(np.isfinite(frame[column].astype(float)), np.inf)
    return (frame.assign(_v=values).groupby("step")["_v"].median().reset_index()
            .rename(columns={"_v": column}))


_DEPTHS_TEXT = ", ".join(str(d) for d in INIT_DEPTHS)
_DEEP_TEXT = " and ".join(str(d) for d in deep_depths(INIT_DEPTHS))

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
        f"Swept: the depth, tanh nets of {_DEPTHS_TEXT} hidden layers of {INIT_WIDTH} units on "
        "digits (standardized, batch 64, data seed 0), each initialised four ways: small (std "
        "0.01), large (std 1), Xavier (1/sqrt(fan_in)) and He (sqrt(2/fan_in)). For every depth "
        "and run seed the activation spread of every layer at x0 is measured "
        "(optbench.diagnostics.activation_stats on the training split), and plain SGD with one "
        f"common lr = {INIT_LR:g} (not tuned per scheme or depth: the claim is about the "
        "initialisation) trains each for 300 steps (150 with --quick); 8 seeds (5 with --quick)."
    ),
    statistic=(
        f"Per depth. Shapes at x0, per seed: 'vanish' = the deepest layer's std < {VANISH_STD}; "
        f"'saturate' = mean over layers of the share |h| > 0.99 above {SATURATE_FRAC}; "
        f"'well distributed' = every layer's std >= {WELL_MIN_STD} and saturated share <= "
        f"{WELL_MAX_SAT}. Learning: per-seed ratio of the final training loss, good/bad, for "
        "each of Xavier and He against each of small and large (4 pairs), median with a 95% "
        "bootstrap interval. A depth holds if small vanishes, large saturates and Xavier and He "
        f"are well distributed on >= {SHARE:.0%} of the seeds each and all four intervals lie "
        f"below 1; does not hold if any shape is seen on <= {1 - SHARE:.0%} of the seeds or any "
        "interval lies above 1; inconclusive otherwise (the map over the depths). The claim is "
        f"about deep nets: its verdict combines the depths of >= {DEEP_HIDDEN_LAYERS} hidden "
        f"layers ({_DEEP_TEXT}), holding if each holds, not holding if any does not, else "
        "inconclusive; the shallower depths are shown in the map but do not enter the verdict."
    ),
    arms=init_arms,
    criterion=init_criterion,
    measure=init_measure,
)
