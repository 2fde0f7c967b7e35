"""Claim 3, ``momentum-averages-noise``: with noisy gradients momentum's iterates scatter
less around the optimum than SGD's at the same effective step ``lr / (1 - rho)``.

Experiment: rotated quadratics of dimension :data:`DIM` and condition number
:data:`KAPPA` with additive Gaussian gradient noise (:data:`NOISE` per coordinate), the
run seed also the data seed, so both arms of a seed see the same noise draws.  SGD with
``lr`` against momentum with ``rho =`` :data:`RHO` and ``lr (1 - rho)``, at each
effective step ``lr * L`` of :data:`STEPS_LR`; nothing tuned.

Verdict (:func:`criterion`, on :func:`late_subopt`): per run the mean subopt over the
second half (:func:`mean_late_subopt`, the A-weighted variance of the iterates around
the optimum; ``+inf`` if diverged); per seed the ratio momentum / SGD, its median with a
95% bootstrap interval, beside the theory's stationary ratio
(:func:`stationary_subopt_ratio`).  Holds if at every effective step the interval lies
below ``1 -`` :data:`MARGIN`; does not hold if at some step it lies above it; inconclusive
otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired, verdict_from_sides
from .run_tables import by_seed, expected_runs, per_run, problem_notes, spec, status_counts

__all__ = [
    "CLAIM", "DIM", "KAPPA", "MARGIN", "NOISE", "NUMBER", "RHO", "STEPS_LR", "arms", "criterion",
    "late_subopt", "mean_late_subopt", "stationary_subopt_ratio",
]

NUMBER = 3
DIM = 10
KAPPA = 10.0
NOISE = 1.0
RHO = 0.9
#: Effective steps lr * L of both methods (SGD's lr; momentum's lr / (1 - rho)).
STEPS_LR = (0.1, 1.0)
#: "Lower" means at least this much lower: the ratio must be below 1 - MARGIN.
MARGIN = 0.1


# --------------------------------------------------------------------------- arms


def arms(budget: Budget) -> list[Arm]:
    """``lrL=<lr*L>/sgd`` and ``lrL=<lr*L>/momentum`` for each effective step: one run per seed."""
    steps = 2000 if budget.quick else 4000
    result = []
    for lrl in STEPS_LR:
        lr = lrl / KAPPA
        for name, params in (("sgd", {"lr": lr}), ("momentum", {"lr": lr * (1.0 - RHO), "rho": RHO})):
            specs = [spec("quadratic", {"dim": DIM, "condition_number": KAPPA, "noise": NOISE,
                                        "seed": s}, name, params, s, steps, 1, tol_grad=None)
                     for s in budget.seeds]
            result.append(Arm(f"lrL={lrl:g}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def stationary_subopt_ratio(lr_l: float, rho: float = RHO, kappa: float = KAPPA,
                            dim: int = DIM) -> float:
    r"""Theory: stationary ``E[subopt]`` of heavy ball over SGD at equal effective step.

    Per eigenvalue ``h`` with isotropic gradient noise ``sigma^2``, SGD with step ``a``
    has stationary variance ``a sigma^2 / (h (2 - a h))`` and the heavy ball with
    ``a (1 - rho)`` and ``rho`` has ``a sigma^2 (1 + rho) / (h (2 (1 + rho) - a (1 - rho) h))``
    (the discrete Lyapunov equation of the two-step recursion); ``E[subopt] = 1/2 sum h Var``.
    With ``a = lr_l / kappa`` and the quadratic's eigenvalues ``geomspace(1, kappa, dim)``.
    """
    h = np.geomspace(1.0, kappa, dim)
    a = lr_l / kappa
    sgd = a / (2.0 - a * h)
    mom = a * (1.0 + rho) / (2.0 * (1.0 + rho) - a * (1.0 - rho) * h)
    return float(mom.sum() / sgd.sum())


def mean_late_subopt(rows: pd.DataFrame, status: str) -> float:
    """Mean subopt over the rows after the first half of the run's budget (+inf if diverged)."""
    if status == "diverged":
        return math.inf
    steps = rows["step"].to_numpy()
    late = steps > steps.max() / 2.0
    return float(np.mean(rows["subopt"].to_numpy(dtype=float)[late])) if late.any() else math.nan


def late_subopt(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[float]]:
    """The statistics of the criterion and the figure: ``(table, numbers, lrls)``.

    ``table`` is the :func:`~optbench.claims.dynamics.run_tables.per_run` table of
    :func:`mean_late_subopt`; ``lrls`` the effective steps of :data:`STEPS_LR` with runs of
    both methods; ``numbers`` per step ``ratio_lrL<x>`` (median momentum / SGD ratio,
    ``_low``/``_high`` its interval), ``theory_lrL<x>`` (:func:`stationary_subopt_ratio`)
    and ``late_subopt_<sgd|momentum>_lrL<x>`` (medians).
    """
    table = per_run(evidence, mean_late_subopt)
    rng = bootstrap_rng(NUMBER)
    numbers: dict[str, float] = {}
    lrls = [x for x in STEPS_LR if (table["arm"] == f"lrL={x:g}/sgd").any()
            and (table["arm"] == f"lrL={x:g}/momentum").any()]
    for x in lrls:
        med, low, high = median_ci(paired(table, f"lrL={x:g}/momentum", f"lrL={x:g}/sgd"), rng)
        numbers.update({f"ratio_lrL{x:g}": med, f"ratio_lrL{x:g}_low": low, f"ratio_lrL{x:g}_high": high,
                        f"theory_lrL{x:g}": stationary_subopt_ratio(x)})
        for m in ("sgd", "momentum"):
            v = by_seed(table, f"lrL={x:g}/{m}").dropna()
            numbers[f"late_subopt_{m}_lrL{x:g}"] = float(np.median(v)) if len(v) else math.nan
    return table, numbers, lrls


# --------------------------------------------------------------------------- criterion


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`late_subopt`."""
    table, numbers, lrls = late_subopt(evidence)
    if not lrls:
        return Verdict(INCONCLUSIVE, "No paired runs of SGD and momentum were found.", {})
    bound = 1.0 - MARGIN
    outcome = verdict_from_sides([numbers[f"ratio_lrL{x:g}_high"] < bound for x in lrls],
                                 [numbers[f"ratio_lrL{x:g}_low"] > bound for x in lrls])
    parts = ", ".join(
        f"lr*L={x:g}: {ci_of(numbers, f'ratio_lrL{x:g}')}"
        f" (theory {fmt(numbers[f'theory_lrL{x:g}'])})" for x in lrls)
    counts = status_counts(evidence)
    summary = (f"Mean subopt over the second half, momentum / SGD at equal effective step (median [95% CI]): "
               f"{parts}; 'lower' needs the interval below {bound:g}"
               + problem_notes(counts, expected_runs(arms, evidence.budget), len(table)) + ".")
    return Verdict(outcome, summary, numbers)


CLAIM = Claim(
    key="momentum-averages-noise",
    number=NUMBER,
    statement=(
        "Slide: 'Our gradients come from minibatches so they can be noisy!'  Transcript (translated): "
        "stepping along the weighted mix of velocity and gradient helps overcome some of the noise in "
        "the gradient estimates; the noise is cancelled out over time, and compared with SGD's "
        "winding path SGD+momentum approaches the minimum more smoothly."
    ),
    experiment=(
        f"Rotated quadratics, dim {DIM}, kappa {KAPPA:g} (L = {KAPPA:g}), additive Gaussian "
        f"gradient noise of standard deviation {NOISE:g} per coordinate; the run seed is also the data "
        "seed, and both arms of a seed see the same noise draws.  SGD with lr against momentum with "
        f"rho = {RHO:g} and lr (1 - rho), the same effective step lr / (1 - rho), at two effective steps "
        f"lr * L in {', '.join(f'{x:g}' for x in STEPS_LR)}.  4000 steps (2000 with --quick), every "
        "step recorded; the second half of each run is its stationary phase (the transient has decayed "
        "by e^-20, resp. e^-10).  Nothing tuned.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per run the mean subopt over the second half, = 1/2 E[(x-x*)^T A (x-x*)], the A-weighted "
        "variance of the iterates around the optimum; per seed the ratio momentum / SGD, its median "
        "with a 95% percentile bootstrap interval, next to the theoretical stationary ratio.  Holds if "
        f"at both effective steps the interval lies below {1 - MARGIN:g} (at least "
        f"{MARGIN:.0%} lower); does not hold if at some step it lies above {1 - MARGIN:g} (less "
        "reduction than that, or higher); inconclusive otherwise."
    ),
    arms=arms,
    criterion=criterion,
)
