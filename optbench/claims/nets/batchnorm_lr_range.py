"""Claim 12, batch normalisation: a deep net with batch norm is trainable over a wider
range of learning rates.

Experiment: a relu net with three hidden layers of 32 units on a 3-arm spiral, with
and without batch norm, trained by minibatch SGD at every rate of a log grid with two
points per decade (:func:`bn_lrs`, :func:`bn_arms`); each run seed also seeds its
spiral.  Nothing is tuned: the grid is the experiment.

Verdict (:func:`bn_criterion`): a grid rate is trainable when the median final
training loss over seeds is at most :data:`TRAINABLE_FRACTION` ln(3), half the loss of
a uniform guess; the width of the trainable range in decades
(:func:`trainable_width`) with batch norm minus without, with a bootstrap interval from
resampling the seeds (the same resample for both).  Holds if the interval lies above 0;
does not hold if it lies at or below 0; inconclusive otherwise.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

from ...spec import RunSpec
from ..base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import LEVEL, N_BOOT, bootstrap_rng, interval
from .run_tables import failed_note, final_values, lr_name

__all__ = [
    "BN_CLASSES", "BN_KINDS", "BN_PROBLEM", "CLAIM", "TRAINABLE_FRACTION", "bn_arms", "bn_criterion",
    "bn_lrs", "bn_matrix", "diverged_share", "median_over_seeds", "trainable_width",
]

BN_PROBLEM = {"dataset": "spiral", "hidden": [32, 32, 32], "activation": "relu", "init": "he",
              "batch_size": 32}
#: "Trainable": the median final training loss is at most this share of ln(classes)
#: (the loss of a uniform guess); the spiral has 3 classes.
TRAINABLE_FRACTION = 0.5
BN_CLASSES = 3
#: The two nets, as the first part of their arms' names.
BN_KINDS = ("plain", "batchnorm")


def bn_lrs(budget: Budget) -> tuple[float, ...]:
    """The log grid ``10**-2.5 .. 10**1``, two points per decade (both sizes: the quick
    experiment saves on steps and seeds, not on the resolution of the width)."""
    return tuple(float(10.0 ** (k / 2)) for k in range(-5, 3))


def _bn_steps(budget: Budget) -> int:
    return 150 if budget.quick else 250


def bn_arms(budget: Budget) -> list[Arm]:
    """Plain and batch-normalised nets, SGD at every grid lr, every seed (the run seed
    also seeds the spiral, so each seed is another data set)."""
    arms = []
    for bn in (False, True):
        for lr in bn_lrs(budget):
            arms.append(Arm(f"{'batchnorm' if bn else 'plain'}/{lr_name(lr)}", tuple(
                RunSpec(problem="mlp", problem_params={**BN_PROBLEM, "batchnorm": bn, "seed": s},
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


def bn_matrix(evidence: Evidence, lrs: Sequence[float], seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Per net (``plain``, ``batchnorm``): the final losses as a (seeds, lrs) array
    (``+inf``: diverged, NaN: no run)."""
    finals = final_values(evidence)
    out = {}
    for kind in BN_KINDS:
        m = np.full((len(seeds), len(lrs)), np.nan)
        for j, lr in enumerate(lrs):
            rows = finals[finals["arm"] == f"{kind}/{lr_name(lr)}"].set_index("seed")["value"]
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


def _bn_summary(numbers: dict[str, float], evidence: Evidence) -> str:
    return (
        f"the SGD lr range where the median final loss is <= {numbers['threshold']:.3g} (half the "
        f"chance loss) spans {numbers['width_batchnorm']:.3g} decades with batch norm and "
        f"{numbers['width_plain']:.3g} without; difference {numbers['width_diff']:.3g} decades, "
        f"95% interval {interval(numbers['diff_low'], numbers['diff_high'])} "
        f"({int(numbers['diverged_plain'])} plain and {int(numbers['diverged_batchnorm'])} batch-norm "
        f"runs diverged){failed_note(evidence)}"
    )


def bn_criterion(evidence: Evidence) -> Verdict:
    """Width difference batchnorm - plain of the trainable lr range, seeds resampled."""
    lrs = bn_lrs(evidence.budget)
    seeds = list(evidence.budget.seeds)
    threshold = TRAINABLE_FRACTION * math.log(BN_CLASSES)
    mats = bn_matrix(evidence, lrs, seeds)
    widths = {k: float(trainable_width(m, lrs, threshold)) for k, m in mats.items()}
    if np.isnan(mats["plain"]).all() or np.isnan(mats["batchnorm"]).all():
        return Verdict(INCONCLUSIVE, "no finished runs in one of the arms; nothing to compare"
                       + failed_note(evidence))
    rng = bootstrap_rng(12)
    idx = rng.integers(0, len(seeds), size=(N_BOOT, len(seeds)))
    diff = (trainable_width(mats["batchnorm"][idx], lrs, threshold)
            - trainable_width(mats["plain"][idx], lrs, threshold))
    alpha = (1 - LEVEL) / 2
    low, high = (float(q) for q in np.quantile(diff, [alpha, 1 - alpha]))
    outcome = HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE
    numbers = {"width_plain": widths["plain"], "width_batchnorm": widths["batchnorm"],
               "width_diff": widths["batchnorm"] - widths["plain"], "diff_low": low, "diff_high": high,
               "threshold": threshold,
               "diverged_plain": float(np.isinf(mats["plain"]).sum()),
               "diverged_batchnorm": float(np.isinf(mats["batchnorm"]).sum())}
    return Verdict(outcome, _bn_summary(numbers, evidence), numbers)


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
        "A relu net with three hidden layers of 32 units (He init) on a 3-arm spiral, with and "
        "without batch norm, trained by minibatch SGD (batch 32) for 250 steps (150 with --quick) "
        "at every lr of a log grid 10^-2.5..10 (two points per decade); 8 run "
        "seeds (5 with --quick), each also seeding its spiral; nothing is tuned: the grid is the "
        "experiment."
    ),
    statistic=(
        f"Trainable lr range: grid rates whose median final training loss over seeds is <= "
        f"{TRAINABLE_FRACTION} ln(3) (half the loss of a uniform guess); its width in decades = "
        "number of such rates times the grid spacing. Statistic: width with batch norm minus "
        "width without, with a 95% bootstrap interval from resampling the seeds (the same "
        "resample for both). Holds if the interval lies above 0; does not hold if it lies at or "
        "below 0; inconclusive otherwise."
    ),
    arms=bn_arms,
    criterion=bn_criterion,
)
