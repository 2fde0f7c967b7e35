"""Claim 13, ensembles, snapshot ensembles and Polyak averaging: averaging models (or
parameters) gains a few percent, not a huge improvement but a consistent one.

Experiment: a relu net with one hidden layer of 32 units on digits, trained by Adam
long enough that a single model's validation accuracy has stopped improving.  Per
replicate (one per run seed, which also seeds the train/validation split)
:func:`optbench.ensembles.compare_ensembles` trains independent members, one
warm-restart run whose cycle ends are the snapshots, and one run with Polyak averaging
(:func:`ens_measure`); the single models' runs are the claim's arm (:func:`ens_arms`).

Verdict (:func:`ens_criterion`): per replicate the validation-accuracy gain of each
method over its single model (:func:`ensemble_gains`); per method the mean gain with a
bootstrap interval over replicates, which holds above 0 (:func:`gain_outcome`).  The
claim holds if all three methods hold, does not hold if any of them does not hold, and
is inconclusive otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_interval, combined
from .run_tables import failed_note

__all__ = [
    "CLAIM", "ENS_AVERAGE", "ENS_LR", "ENS_METHODS", "ENS_OPTIMIZER", "ENS_PROBLEM",
    "MEMBER_SEED_STRIDE", "ens_arms", "ens_criterion", "ens_measure", "ensemble_gains",
    "gain_outcome",
]

ENS_PROBLEM = {"dataset": "digits", "hidden": [32], "activation": "relu", "init": "he",
               "batch_size": 64}
ENS_OPTIMIZER = "adam"
ENS_LR = 1e-2
ENS_AVERAGE = 0.995
ENS_METHODS = ("independent", "snapshot", "polyak")
#: Seeds of the further members of an independent ensemble: the replicate's run seed
#: plus multiples of this.
MEMBER_SEED_STRIDE = 1000


def _ens_size(budget: Budget) -> dict[str, int]:
    if budget.quick:
        return {"steps": 600, "members": 3, "cycles": 5}
    return {"steps": 600, "members": 5, "cycles": 5}


def _ens_problem(seed: int) -> dict[str, Any]:
    return {**ENS_PROBLEM, "seed": int(seed)}


def ens_arms(budget: Budget) -> list[Arm]:
    """The single models (the first member of each replicate; the same specs as
    :func:`optbench.ensembles.compare_ensembles` runs), for their traces."""
    size = _ens_size(budget)
    return [Arm("single", tuple(
        RunSpec(problem="mlp", problem_params=_ens_problem(s), optimizer=ENS_OPTIMIZER,
                optimizer_params={"lr": ENS_LR}, seed=s, steps=size["steps"], record_every=50)
        for s in budget.seeds))]


def ens_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``ensembles``: :func:`optbench.ensembles.compare_ensembles` once per replicate
    (run seed ``s``: data seed ``s``, members ``s, s + 1000, ...``), with a column
    ``replicate``."""
    from ...ensembles import compare_ensembles

    size = _ens_size(budget)
    frames = []
    for s in budget.seeds:
        members = [s + MEMBER_SEED_STRIDE * j for j in range(size["members"])]
        table = compare_ensembles(_ens_problem(s), ENS_OPTIMIZER, {"lr": ENS_LR},
                                  steps=size["steps"], seeds=members, cycles=size["cycles"],
                                  average=ENS_AVERAGE, record_every=50)
        frames.append(table.assign(replicate=s))
    return {"ensembles": pd.concat(frames, ignore_index=True)}


def _replicate_gains(rep: Any, g: pd.DataFrame) -> dict[str, Any]:
    """One replicate's row of :func:`ensemble_gains`."""
    acc = g.set_index("model")["val_acc"]
    single = acc.get(f"single seed={rep}", math.nan)
    polyak = g.loc[g["kind"] == "average", "val_acc"]
    loss = g.set_index("model")["val_loss"]
    polyak_loss = g.loc[g["kind"] == "average", "val_loss"]
    single_loss = loss.get(f"single seed={rep}", math.nan)
    return {
        "replicate": rep,
        "independent_loss": (loss.get("median single", math.nan)
                             - loss.get("independent ensemble", math.nan)),
        "snapshot_loss": single_loss - loss.get("snapshot ensemble", math.nan),
        "polyak_loss": single_loss - (float(polyak_loss.iloc[0]) if len(polyak_loss) else math.nan),
        "independent": acc.get("independent ensemble", math.nan) - acc.get("median single", math.nan),
        "snapshot": acc.get("snapshot ensemble", math.nan) - single,
        "polyak": (float(polyak.iloc[0]) if len(polyak) else math.nan) - single,
        "single": single,
    }


def ensemble_gains(table: pd.DataFrame) -> pd.DataFrame:
    """Per replicate, the validation-accuracy gain of each method over its single model:
    independent ensemble - median single member; snapshot ensemble and Polyak average -
    the single constant-lr run of the same seed (the replicate's first member)."""
    rows = [_replicate_gains(rep, g) for rep, g in table.groupby("replicate")]
    # accuracies are multiples of 1/n_val: round off the float noise of their differences
    return pd.DataFrame(rows).round(12)


def gain_outcome(low: float, high: float) -> str:
    """One method's verdict from the interval of its mean gain: HOLDS above 0, FAILS at or
    below 0, INCONCLUSIVE if it straddles 0 (or is missing)."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    return HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE


def _ens_summary(numbers: dict[str, float], outcomes: dict[str, str], replicates: int,
                 evidence: Evidence) -> str:
    parts = [f"{m} {100 * numbers[f'{m}_gain']:+.2f} pp "
             f"[{100 * numbers[f'{m}_low']:+.2f}, {100 * numbers[f'{m}_high']:+.2f}] ({outcomes[m]})"
             for m in ENS_METHODS]
    losses = ", ".join(f"{m} {numbers[f'{m}_loss_gain']:+.3f}" for m in ENS_METHODS)
    return (f"mean validation-accuracy gain over the single model (median single accuracy "
            f"{numbers['single_acc']:.3f}), over {replicates} paired replicates: "
            + "; ".join(parts) + "; median validation-loss decrease (not part of the verdict): "
            + losses + failed_note(evidence))


def ens_criterion(evidence: Evidence) -> Verdict:
    """Mean paired gain per method with a bootstrap interval; the verdict combines them."""
    table = evidence.tables.get("ensembles")
    if table is None or table.empty:
        return Verdict(INCONCLUSIVE, "no ensemble table was measured; nothing to decide")
    gains = ensemble_gains(table)
    numbers: dict[str, float] = {"replicates": float(len(gains)),
                                 "single_acc": float(gains["single"].median())}
    outcomes = {}
    for i, method in enumerate(ENS_METHODS):
        v = gains[method].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        low, high = bootstrap_interval(v, np.mean, label=30 + i) if v.size >= 2 else (math.nan, math.nan)
        numbers.update({f"{method}_gain": float(np.mean(v)) if v.size else math.nan,
                        f"{method}_low": low, f"{method}_high": high,
                        f"{method}_positive": float(np.mean(v > 0)) if v.size else math.nan,
                        f"{method}_loss_gain": float(gains[f"{method}_loss"].median())})
        outcomes[method] = gain_outcome(low, high)
        numbers[f"{method}_holds"] = float(outcomes[method] == HOLDS)
    values = list(outcomes.values())
    outcome = combined(values)
    return Verdict(outcome, _ens_summary(numbers, outcomes, len(gains), evidence), numbers)


CLAIM = Claim(
    key="ensembles",
    number=13,
    statement=(
        "Model ensembles: train several independent models from different random "
        "initialisations and average their predictions at test time; this usually gains a few "
        "percent: not a huge improvement, but a consistent one. Instead of training independent "
        "models, use multiple snapshots of a single model during training. Instead of using "
        "the actual parameter vector, keep a moving average of the parameter vector and use "
        "that at test time (Polyak averaging)."
    ),
    experiment=(
        "A relu net with one hidden layer of 32 units on digits (He init, batch 64), Adam with "
        "lr 1e-2, 600 steps: long enough that a single model's validation "
        "accuracy has stopped improving (it is the same after 300 steps), so that averaging is "
        "compared with a trained model, not with one still learning. Per replicate (one per "
        "run seed, which also "
        "seeds the train/validation split) optbench.ensembles.compare_ensembles trains 5 "
        "independent members (3 with --quick), one warm-restart run with 5 cycles whose "
        "cycle ends are the snapshots, and one run with Polyak averaging of decay 0.995; "
        "8 replicates (5 with --quick). The single models' runs are the claim's arm."
    ),
    statistic=(
        "Per replicate, the validation-accuracy gain: independent ensemble minus the median "
        "single member; snapshot ensemble and Polyak average minus the constant-lr single model "
        "of the same seed. Per method: the mean gain with a 95% bootstrap interval over "
        "replicates; that method holds if the interval lies above 0 ('consistent'), does not "
        "hold if it lies at or below 0, else inconclusive. The claim holds if all three hold, "
        "does not hold if any of them does not hold, and is inconclusive otherwise; the summary "
        "says which hold."
    ),
    arms=ens_arms,
    criterion=ens_criterion,
    measure=ens_measure,
)
