"""Claim 4, ``nesterov-vs-momentum``: Nesterov momentum converges at least as fast as
plain momentum with the same ``lr`` and ``rho`` on convex quadratics, "at least as
fast" meaning at most :data:`MARGIN` (5%) more steps to the target.

Experiment: random rotated quadratics of dimension :data:`DIM` for each condition
number of :data:`KAPPAS`, the run seed also the data seed.  Momentum against Nesterov
(the lecture's change-of-variables form), both full batch with the same ``lr = 1/L``
and each ``rho`` of :data:`RHOS`: one setting per (kappa, rho), nothing tuned; a run
stops at ``subopt <=`` :data:`TARGET`, and every step is recorded, so its step count to
the target is exact.

Verdict (:func:`criterion`, on :func:`nesterov_ratios`): per seed and setting the ratio
``steps_Nesterov / steps_momentum`` (``+inf`` steps for a run that never reached the
target), its median with a 95% bootstrap interval.  A setting holds if its interval
lies below ``1 +`` :data:`MARGIN`, does not hold if above, is inconclusive otherwise
(``by_setting``); the claim holds if every setting holds, does not hold if any does not
(:func:`~optbench.claims.base.combined`).  The summary names the settings where Nesterov
needs more steps than momentum (a median above 1) although within the margin.
"""

from __future__ import annotations

import math

import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_rng, ci_of, median_ci, paired
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
#: Every step is recorded: steps to the target are exact.
RECORD_EVERY = 1


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
            for name in ("momentum", "nesterov"):
                specs = [spec("quadratic", {"dim": DIM, "condition_number": kappa, "seed": s}, name,
                              {"lr": 1.0 / kappa, "rho": rho}, s, steps, RECORD_EVERY,
                              tol_subopt=TARGET)
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


def _summary(evidence: Evidence, table: pd.DataFrame, numbers: dict[str, float], names: list[str]) -> str:
    bound = 1.0 + MARGIN
    parts = "; ".join(f"{s}: {ci_of(numbers, f'ratio[{s}]')}" for s in names)
    slower = [f"{s} (+{numbers[f'ratio[{s}]'] - 1.0:.1%}, interval +{numbers[f'ratio[{s}]_low'] - 1.0:.1%} "
              f"to +{numbers[f'ratio[{s}]_high'] - 1.0:.1%})" for s in names if numbers[f"ratio[{s}]"] > 1.0]
    note = (f"; Nesterov needs more steps than momentum at {', '.join(slower)}"
            if slower else "; Nesterov never needs more steps than momentum (every median <= 1)")
    counts = status_counts(evidence)
    return (f"Exact steps to subopt <= {TARGET:g}, Nesterov / momentum at the same lr = 1/L and rho, "
            f"median [95% CI]: {parts} ('at least as fast' = the interval below {bound:g}, at most "
            f"{MARGIN:.0%} more steps){note}"
            + problem_notes(counts, expected_runs(arms, evidence.budget), len(table)) + ".")


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`nesterov_ratios`."""
    table, numbers, settings = nesterov_ratios(evidence)
    if not settings:
        return Verdict(INCONCLUSIVE, "No paired runs of momentum and Nesterov were found.", {})
    names = [setting_name(k, r) for k, r in settings]
    by_setting = {s: side(numbers[f"ratio[{s}]_low"], numbers[f"ratio[{s}]_high"], 1.0 + MARGIN, "below")
                  for s in names}
    return Verdict(combined(by_setting.values()), _summary(evidence, table, numbers, names), numbers,
                   by_setting)


CLAIM = Claim(
    key="nesterov-vs-momentum",
    number=NUMBER,
    statement=(
        "Slide: 'Nesterov Momentum: v_{t+1} = rho v_t - alpha grad f(x_t + rho v_t); x_{t+1} = x_t + "
        "v_{t+1}'; transcript (translated): a slight variation of momentum that steps along the "
        "velocity first and evaluates the gradient there.  Testable form: Nesterov "
        "momentum converges at least as fast as plain momentum with the same lr and rho on convex "
        f"quadratics, 'at least as fast' meaning at most {MARGIN:.0%} more steps to the target."
    ),
    experiment=(
        f"Random rotated quadratics, dim {DIM}, kappa in {', '.join(f'{k:g}' for k in KAPPAS)}; the run "
        "seed is also the data seed.  Momentum (v = rho v + g; x -= lr v) against Nesterov in the "
        "lecture's change-of-variables form, both full batch with the same lr = 1/L and rho in "
        f"{', '.join(f'{r:g}' for r in RHOS)} (the lecture's typical values), so 6 settings; nothing "
        f"tuned.  A run stops at subopt <= {TARGET:g}; budgets are 4x the linear-rate estimate; every "
        "step recorded, so steps to the target are exact.  Seeds: the budget's run seeds (8; 5 with "
        "--quick)."
    ),
    statistic=(
        "Per seed and setting the ratio r = steps_Nesterov / steps_momentum (+inf steps for a run that "
        "never reached the target), its median with a 95% percentile bootstrap interval.  A setting "
        f"holds if its interval lies below 1 + {MARGIN:g} (Nesterov needs at most {MARGIN:.0%} more "
        f"steps), does not hold if it lies above 1 + {MARGIN:g}, else inconclusive.  The claim holds if "
        "every setting holds, does not hold if any does not, else inconclusive."
    ),
    arms=arms,
    criterion=criterion,
)
