"""Claim 12, batch normalisation: a deep net with batch norm is trainable over a wider
range of learning rates.

The statement is about deep nets, so the depth is the setting that decides it, swept
over :data:`BN_DEPTHS` hidden layers (named before any result was seen).

Experiment: at each depth, a relu net of hidden layers of :data:`BN_WIDTH` units on a
3-arm spiral, with and without batch norm, trained by minibatch SGD at every rate of a
log grid with two points per decade (:func:`bn_lrs`, :func:`bn_arms`); each run seed
also seeds its spiral.  Nothing is tuned: the grid is the experiment.

Verdict (:func:`bn_criterion`), at each depth: a grid rate is trainable when the median
final training loss over seeds is at most :data:`TRAINABLE_FRACTION` ln(3), half the
loss of a uniform guess; the width of the trainable range in decades
(:func:`trainable_width`) with batch norm minus without, with a bootstrap interval from
resampling the seeds (the same resample for both nets and for every depth).  A depth
holds if the interval lies above 0, does not hold if it lies at or below 0, and is
inconclusive otherwise (``by_setting``, every depth).  The claim's verdict combines
the deep depths only, those with at least :data:`~.run_tables.DEEP_HIDDEN_LAYERS`
hidden layers: it holds if every one of them holds, does not hold if any does not,
else inconclusive.  The shallower depths are measured and shown in the map but do not
enter the verdict.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined
from .paired_statistics import LEVEL, N_BOOT, bootstrap_rng, fmt, interval
from .run_tables import DEEP_HIDDEN_LAYERS, deep_depths, depth_name, failed_note, final_values, lr_name

__all__ = [
    "BN_CLASSES", "BN_DEPTHS", "BN_KINDS", "BN_PROBLEM", "BN_WIDTH", "CLAIM", "TRAINABLE_FRACTION",
    "bn_arm", "bn_arms", "bn_criterion", "bn_lrs", "bn_matrix", "bn_problem", "depth_numbers",
    "diverged_share", "median_over_seeds", "trainable_width",
]

#: The swept setting: numbers of hidden layers (named before any result was seen).
BN_DEPTHS = (1, 3, 6)
#: Units of every hidden layer.
BN_WIDTH = 32
#: The net's problem parameters other than ``hidden``, ``batchnorm`` and ``seed``.
BN_PROBLEM = {"dataset": "spiral", "activation": "relu", "init": "he", "batch_size": 32}
#: "Trainable": the median final training loss is at most this share of ln(classes)
#: (the loss of a uniform guess); the spiral has 3 classes.
TRAINABLE_FRACTION = 0.5
BN_CLASSES = 3
#: The two nets, as a part of their arms' names.
BN_KINDS = ("plain", "batchnorm")


def bn_lrs(budget: Budget) -> tuple[float, ...]:
    """The log grid ``10**-2.5 .. 10**1``, two points per decade (both sizes: the quick
    experiment saves on steps and seeds, not on the resolution of the width)."""
    return tuple(float(10.0 ** (k / 2)) for k in range(-5, 3))


def _bn_steps(budget: Budget) -> int:
    return 150 if budget.quick else 250


def bn_problem(depth: int, batchnorm: bool, seed: int) -> dict[str, Any]:
    """The problem parameters of the net of ``depth`` hidden layers on the spiral of ``seed``."""
    return {**BN_PROBLEM, "hidden": [BN_WIDTH] * depth, "batchnorm": batchnorm, "seed": seed}


def bn_arm(depth: int, kind: str, lr: float) -> str:
    """The arm of one depth, net and rate: ``"3 hidden layers/batchnorm/lr=1e-01"``."""
    return f"{depth_name(depth)}/{kind}/{lr_name(lr)}"


def bn_arms(budget: Budget) -> list[Arm]:
    """At every depth, plain and batch-normalised nets, SGD at every grid lr, every seed
    (the run seed also seeds the spiral, so each seed is another data set)."""
    arms = []
    for depth in BN_DEPTHS:
        for kind in BN_KINDS:
            for lr in bn_lrs(budget):
                arms.append(Arm(bn_arm(depth, kind, lr), tuple(
                    RunSpec(problem="mlp", problem_params=bn_problem(depth, kind == "batchnorm", s),
                            optimizer="sgd", optimizer_params={"lr": lr}, seed=s,
                            steps=_bn_steps(budget), record_every=25)
                    for s in budget.seeds)))
    return arms


def trainable_width(values: np.ndarray, lrs: Sequence[float], threshold: float) -> np.ndarray:
    """Width in decades of the trainable lr range.

    ``values`` is (..., seeds, len(lrs)) of final losses (inf: diverged, NaN: missing);
    a grid lr is trainable when the median over seeds (NaN ignored) is at most
    ``threshold``; the width is the number of trainable grid points times the grid's
    spacing in decades (a grid of one point has width 0 or 1 decade).
    """
    spacing = float(np.log10(lrs[1] / lrs[0])) if len(lrs) > 1 else 1.0
    with warnings.catch_warnings():  # an lr whose runs all failed: an all-NaN median
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(values, axis=-2)
    return np.sum(med <= threshold, axis=-1) * spacing


def bn_matrix(evidence: Evidence, lrs: Sequence[float], seeds: Sequence[int],
              depth: int) -> dict[str, np.ndarray]:
    """Per net (``plain``, ``batchnorm``) of ``depth`` hidden layers: the final losses as a
    (seeds, lrs) array (``+inf``: diverged, NaN: no run)."""
    finals = final_values(evidence)
    out = {}
    for kind in BN_KINDS:
        m = np.full((len(seeds), len(lrs)), np.nan)
        for j, lr in enumerate(lrs):
            rows = finals[finals["arm"] == bn_arm(depth, kind, lr)].set_index("seed")["value"]
            for i, s in enumerate(seeds):
                if s in rows.index:
                    m[i, j] = float(rows[s])
        out[kind] = m
    return out


def median_over_seeds(m: np.ndarray) -> np.ndarray:
    """Per grid lr (column of a :func:`bn_matrix` array): the median final loss over the
    seeds that have a run (``+inf`` once half of them diverged; NaN without runs)."""
    return np.array([np.median(col[~np.isnan(col)]) if (~np.isnan(col)).any() else np.nan
                     for col in m.T])


def diverged_share(m: np.ndarray) -> np.ndarray:
    """Per grid lr (column of a :func:`bn_matrix` array): the share of seeds that diverged."""
    return np.mean(np.isinf(m), axis=0)


def depth_numbers(mats: dict[str, np.ndarray], lrs: Sequence[float], threshold: float,
                  idx: np.ndarray) -> tuple[str, dict[str, float]]:
    """One depth's outcome and numbers from its :func:`bn_matrix` arrays: each net's
    trainable width with a bootstrap interval, and the difference batchnorm - plain with
    its interval, over the seed resamples ``idx`` (resamples, seeds); keys without the
    depth's prefix."""
    if np.isnan(mats["plain"]).all() or np.isnan(mats["batchnorm"]).all():
        return INCONCLUSIVE, {}
    alpha = (1 - LEVEL) / 2
    boot = {k: trainable_width(m[idx], lrs, threshold) for k, m in mats.items()}
    boot["diff"] = boot["batchnorm"] - boot["plain"]
    numbers = {f"width_{k}": float(trainable_width(m, lrs, threshold)) for k, m in mats.items()}
    numbers["width_diff"] = numbers["width_batchnorm"] - numbers["width_plain"]
    for name, values in boot.items():
        low, high = (float(q) for q in np.quantile(values, [alpha, 1 - alpha]))
        prefix = "diff" if name == "diff" else f"width_{name}"
        numbers.update({f"{prefix}_low": low, f"{prefix}_high": high})
    numbers.update({f"diverged_{k}": float(np.isinf(m).sum()) for k, m in mats.items()})
    low, high = numbers["diff_low"], numbers["diff_high"]
    return (HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE), numbers


def _depth_summary(n: dict[str, float], depth: int, outcome: str) -> str:
    k = f"depth{depth}_"
    if f"{k}width_diff" not in n:
        return f"{depth_name(depth)} ({outcome}): no finished runs in one of the nets"
    return (
        f"{depth_name(depth)} ({outcome}): width in decades {fmt(n[f'{k}width_batchnorm'])} with "
        f"batch norm, {fmt(n[f'{k}width_plain'])} without, difference {fmt(n[f'{k}width_diff'])} "
        f"{interval(n[f'{k}diff_low'], n[f'{k}diff_high'])} ({int(n[f'{k}diverged_plain'])} plain "
        f"and {int(n[f'{k}diverged_batchnorm'])} batch-norm runs diverged)"
    )


def bn_criterion(evidence: Evidence) -> Verdict:
    """Per depth, the width difference batchnorm - plain of the trainable lr range, seeds
    resampled; the claim combines the deep depths."""
    lrs = bn_lrs(evidence.budget)
    seeds = list(evidence.budget.seeds)
    threshold = TRAINABLE_FRACTION * math.log(BN_CLASSES)
    idx = bootstrap_rng(12).integers(0, len(seeds), size=(N_BOOT, len(seeds)))
    numbers: dict[str, float] = {"threshold": threshold, "deep_from": float(DEEP_HIDDEN_LAYERS)}
    by_setting = {}
    for depth in BN_DEPTHS:
        outcome, mine = depth_numbers(bn_matrix(evidence, lrs, seeds, depth), lrs, threshold, idx)
        numbers.update({f"depth{depth}_{k}": v for k, v in mine.items()})
        by_setting[depth_name(depth)] = outcome
    deep = deep_depths(BN_DEPTHS)
    summary = (
        f"the verdict combines the nets of >= {DEEP_HIDDEN_LAYERS} hidden layers "
        f"({', '.join(str(d) for d in deep)}); the SGD lr range where the median final loss is "
        f"<= {threshold:.3g} (half the chance loss) spans, with a 95% interval of the "
        "difference: "
        + "; ".join(_depth_summary(numbers, d, by_setting[depth_name(d)]) for d in BN_DEPTHS)
        + failed_note(evidence)
    )
    return Verdict(combined(by_setting[depth_name(d)] for d in deep), summary, numbers, by_setting)


_DEPTHS_TEXT = ", ".join(str(d) for d in BN_DEPTHS)
_DEEP_TEXT = " and ".join(str(d) for d in deep_depths(BN_DEPTHS))

CLAIM = Claim(
    key="batchnorm-lr-range",
    number=12,
    statement=(
        "Batch normalization: an extra layer in the network that makes the intermediate "
        "activations zero-mean and unit-variance, with the minibatch's mean and standard "
        "deviation, followed by a learnable scale and shift (gamma, beta). The consequence to "
        "test: it makes a deep net trainable over a wider range of learning rates."
    ),
    experiment=(
        f"Swept: the depth, relu nets of {_DEPTHS_TEXT} hidden layers of {BN_WIDTH} units (He "
        "init) on a 3-arm spiral, each with and without batch norm, trained by minibatch SGD "
        "(batch 32) for 250 steps (150 with --quick) at every lr of a log grid 10^-2.5..10 (two "
        "points per decade); 8 run seeds (5 with --quick), each also seeding its spiral; nothing "
        "is tuned: the grid is the experiment."
    ),
    statistic=(
        f"Per depth. Trainable lr range: grid rates whose median final training loss over seeds "
        f"is <= {TRAINABLE_FRACTION} ln(3) (half the loss of a uniform guess); its width in "
        "decades = number of such rates times the grid spacing. Statistic: width with batch norm "
        "minus width without, with a 95% bootstrap interval from resampling the seeds (the same "
        "resample for both nets and every depth). A depth holds if the interval lies above 0, "
        "does not hold if it lies at or below 0, inconclusive otherwise (the map over the "
        f"depths). The claim is about deep nets: its verdict combines the depths of >= "
        f"{DEEP_HIDDEN_LAYERS} hidden layers ({_DEEP_TEXT}), holding if each holds, not holding "
        "if any does not, else inconclusive; the shallower depths are shown in the map but do "
        "not enter the verdict. Reported, not part of the rule: each net's width with its "
        "interval (the same resamples) and the runs that diverged."
    ),
    arms=bn_arms,
    criterion=bn_criterion,
)
