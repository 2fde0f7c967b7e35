"""Claim 4, ``nesterov-vs-momentum``: Nesterov momentum converges at least as fast as
plain momentum with the same ``lr`` and ``rho`` on convex quadratics.

Experiment: random rotated quadratics of dimension :data:`DIM` for each condition
number of :data:`KAPPAS`, the run seed also the data seed.  Momentum against Nesterov
(the lecture's change-of-variables form), both full batch with the same ``lr = 1/L``
and each ``rho`` of :data:`RHOS`: one setting per (kappa, rho), nothing tuned; a run
stops at ``subopt <=`` :data:`TARGET`.

Verdict (:func:`criterion`, on :func:`nesterov_ratios`): per seed and setting the ratio
``steps_Nesterov / steps_momentum`` (``+inf`` steps for a run that never reached the
target), its median with a 95% bootstrap interval.  Holds if in every setting the
interval's upper end is ``<= 1 +`` :data:`MARGIN`; does not hold if in some setting its
lower end is above ``1 +`` :data:`MARGIN`; inconclusive otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired, verdict_from_sides
from .run_tables import expected_runs, per_run, problem_notes, spec, status_counts, steps_to_subopt

__all__ = [
    "CLAIM", "DIM", "KAPPAS", "MARGIN", "NUMBER", "RHOS", "TARGET", "arms", "criterion",
    "nesterov_ratios", "setting_name",
]

NUMBER = 4
KAPPAS = (10.0, 100.0, 1000.0)
RHOS = (0.9, 0.99)
DIM = 20
TARGET = 1e-6
#: "At least as fast": the ratio Nesterov / momentum may exceed 1 by at most this.
MARGIN = 0.05


# --------------------------------------------------------------------------- arms


def setting_name(kappa: float, rho: float) -> str:
    """The name of a setting, ``kappa=<kappa>,rho=<rho>`` (its arms add ``/<method>``)."""
    return f"kappa={kappa:g},rho={rho:g}"


def _steps(kappa: float, rho: float) -> int:
    """Budget: 4 times the slower of the two linear-rate estimates (oscillation ``sqrt(rho)``,
    the slowest mode ``1 - lr h / (1 - rho)``)."""
    rate = max(math.sqrt(rho), 1.0 - 1.0 / (kappa * (1.0 - rho)))
    return int(math.ceil(4.0 * math.log(DIM * kappa / TARGET) / (-2.0 * math.log(rate)))) + 50


def arms(budget: Budget) -> list[Arm]:
    """``<setting>/momentum`` and ``<setting>/nesterov`` for each setting: one run per seed."""
    result = []
    for kappa in KAPPAS:
        for rho in RHOS:
            steps = _steps(kappa, rho)
            record = max(1, steps // 1000)
            for name in ("momentum", "nesterov"):
                specs = [spec("quadratic", {"dim": DIM, "condition_number": kappa, "seed": s}, name,
                              {"lr": 1.0 / kappa, "rho": rho}, s, steps, record, tol_subopt=TARGET)
                         for s in budget.seeds]
                result.append(Arm(f"{setting_name(kappa, rho)}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def nesterov_ratios(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[tuple[float, float]]]:
    """The statistics of the criterion and the figure: ``(table, numbers, settings)``.

    ``table`` is the :func:`~optbench.claims.dynamics.run_tables.per_run` table of steps
    to :data:`TARGET` (``+inf`` if never); ``settings`` the ``(kappa, rho)`` with runs of
    both methods; ``numbers`` per setting ``ratio[<setting_name>]``, the median Nesterov /
    momentum ratio, with ``_low``/``_high`` its interval.
    """
    table = per_run(evidence, steps_to_subopt(TARGET))
    rng = bootstrap_rng(NUMBER)
    numbers: dict[str, float] = {}
    settings = [(k, r) for k in KAPPAS for r in RHOS
                if (table["arm"] == f"{setting_name(k, r)}/momentum").any()
                and (table["arm"] == f"{setting_name(k, r)}/nesterov").any()]
    for k, r in settings:
        s = setting_name(k, r)
        med, low, high = median_ci(paired(table, f"{s}/nesterov", f"{s}/momentum"), rng)
        numbers.update({f"ratio[{s}]": med, f"ratio[{s}]_low": low, f"ratio[{s}]_high": high})
    return table, numbers, settings


# --------------------------------------------------------------------------- criterion


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`nesterov_ratios`."""
    table, numbers, settings = nesterov_ratios(evidence)
    if not settings:
        return Verdict(INCONCLUSIVE, "No paired runs of momentum and Nesterov were found.", {})
    bound = 1.0 + MARGIN
    names = [setting_name(k, r) for k, r in settings]
    outcome = verdict_from_sides([numbers[f"ratio[{s}]_high"] <= bound for s in names],
                                 [numbers[f"ratio[{s}]_low"] > bound for s in names])
    highs = {s: numbers[f"ratio[{s}]_high"] for s in names}
    worst = max(names, key=lambda s: math.inf if math.isnan(highs[s]) else highs[s])
    meds = [numbers[f"ratio[{s}]"] for s in names]
    counts = status_counts(evidence)
    summary = (f"Steps to subopt <= {TARGET:g}, Nesterov / momentum at the same lr = 1/L and rho: medians "
               f"from {fmt(float(np.nanmin(meds)))} to {fmt(float(np.nanmax(meds)))} over "
               f"{len(names)} settings; the highest interval is {worst}: "
               f"{ci_of(numbers, f'ratio[{worst}]')}"
               f" (at least as fast = every interval <= {bound:g})"
               + problem_notes(counts, expected_runs(arms, evidence.budget), len(table)) + ".")
    return Verdict(outcome, summary, numbers)


CLAIM = Claim(
    key="nesterov-vs-momentum",
    number=NUMBER,
    statement=(
        "Slide: 'Nesterov Momentum: v_{t+1} = rho v_t - alpha grad f(x_t + rho v_t); x_{t+1} = x_t + "
        "v_{t+1}'; transcript (translated): a slight variation of momentum that steps along the "
        "velocity first and evaluates the gradient there.  Testable form: Nesterov "
        "momentum converges at least as fast as plain momentum on convex quadratics."
    ),
    experiment=(
        f"Random rotated quadratics, dim {DIM}, kappa in {', '.join(f'{k:g}' for k in KAPPAS)}; the run "
        "seed is also the data seed.  Momentum (v = rho v + g; x -= lr v) against Nesterov in the "
        "lecture's change-of-variables form, both full batch with the same lr = 1/L and rho in "
        f"{', '.join(f'{r:g}' for r in RHOS)} (the lecture's typical values), so 6 settings; nothing "
        f"tuned.  A run stops at subopt <= {TARGET:g}; budgets are 4x the linear-rate estimate, "
        "recording every budget/1000 steps.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per seed and setting the ratio r = steps_Nesterov / steps_momentum (+inf steps for a run that "
        "never reached the target), its median with a 95% percentile bootstrap interval.  Holds if in "
        f"every setting the interval's upper end is <= 1 + {MARGIN:g}; does not hold if in some "
        f"setting its lower end is > 1 + {MARGIN:g}; inconclusive otherwise."
    ),
    arms=arms,
    criterion=criterion,
)
