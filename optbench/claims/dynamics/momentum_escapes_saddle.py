"""Claim 2, ``momentum-escapes-saddle``: near a saddle gradient descent crawls; momentum
leaves the saddle's neighbourhood sooner.

Experiment: the 2-D strict saddle ``f = x^2/2 + y^4/4 - y^2/2`` (saddle at the origin),
started at a seeded distance from it along ``y`` (:func:`initial_offset`, the same for
both arms).  Gradient descent against momentum with ``rho =`` :data:`RHO` at the same
``lr``, for each lr of :data:`LRS`; nothing tuned.

Verdict (:func:`criterion`, on :func:`escape_times`): the escape time of a run is the
first step with ``|y| >=`` :data:`ESCAPE` (:func:`escape_step`, ``+inf`` if never); per
seed and lr the ratio ``t_GD / t_momentum``, its median with a 95% bootstrap interval.
Holds if at every lr the interval lies above 1; does not hold if at some lr it lies
below 1; inconclusive otherwise.  Also reported: momentum at lr 0.01 against GD at its
effective step ``lr / (1 - rho) = 0.1``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired, verdict_from_sides
from .run_tables import by_seed, expected_runs, first_step, per_run, problem_notes, spec, status_counts

__all__ = [
    "CLAIM", "ESCAPE", "LRS", "NUMBER", "OFFSET_RANGE", "RHO", "arms", "criterion", "escape_step",
    "escape_times", "initial_offset",
]

NUMBER = 2
LRS = (0.01, 0.1)
RHO = 0.9
#: The iterate has left the saddle once its negative-curvature coordinate reaches this.
ESCAPE = 0.5
#: Initial offsets along the negative-curvature direction: 10**U(-4, -2) per seed.
OFFSET_RANGE = (-4.0, -2.0)


# --------------------------------------------------------------------------- arms


def initial_offset(seed: int) -> float:
    """The seeded initial distance from the saddle along ``y`` (log-uniform)."""
    u = np.random.default_rng([seed, 2, 0x5ADD1E]).uniform(*OFFSET_RANGE)
    return float(f"{10.0 ** u:.6g}")


def _steps(lr: float) -> int:
    """About three times GD's escape time from the smallest offset."""
    return int(math.ceil(3.0 * math.log(ESCAPE / 10.0 ** OFFSET_RANGE[0]) / math.log1p(lr)))


def arms(budget: Budget) -> list[Arm]:
    """``lr=<lr>/sgd`` and ``lr=<lr>/momentum`` for each lr: one run per seed."""
    result = []
    for lr in LRS:
        for name, params in (("sgd", {"lr": lr}), ("momentum", {"lr": lr, "rho": RHO})):
            specs = [spec("saddle", {"dim": 2, "n_neg": 1, "offset": initial_offset(s)}, name, params, s,
                          _steps(lr), 1) for s in budget.seeds]
            result.append(Arm(f"lr={lr:g}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def escape_step(rows: pd.DataFrame, status: str) -> float:
    """First step at which ``|y| = |x_1| >= ESCAPE`` (``+inf`` if never): a run's rows
    in step order, and its status (unused)."""
    y = np.abs(rows["x_1"].to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        return first_step(rows, y >= ESCAPE)


def _effective_ratio(table: pd.DataFrame, lrs: list[float], rng: np.random.Generator) -> dict[str, float]:
    """Equal effective step: momentum(lr, rho) against GD at lr / (1 - rho), where that arm exists."""
    numbers: dict[str, float] = {}
    for lr in lrs:
        eff = lr / (1.0 - RHO)
        match = [other for other in lrs if math.isclose(other, eff)]
        if match:
            med, low, high = median_ci(paired(table, f"lr={match[0]:g}/sgd", f"lr={lr:g}/momentum"), rng)
            numbers.update({"ratio_effective": med, "ratio_effective_low": low, "ratio_effective_high": high})
    return numbers


def escape_times(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[float]]:
    """The statistics of the criterion and the figure: ``(table, numbers, lrs)``.

    ``table`` is the :func:`~optbench.claims.dynamics.run_tables.per_run` table of
    :func:`escape_step` (NaN without an ``x_1`` column); ``lrs`` those of :data:`LRS`
    with runs of both methods; ``numbers`` per lr ``ratio_lr<lr>`` (median GD / momentum
    ratio of escape times, ``_low``/``_high`` its interval) and
    ``escape_<sgd|momentum>_lr<lr>`` (median escape times), and ``ratio_effective``
    (with ``_low``/``_high``) where GD ran at momentum's effective step.
    """
    table = per_run(evidence, escape_step) if "x_1" in evidence.trace else per_run(
        evidence, lambda rows, status: math.nan)
    rng = bootstrap_rng(NUMBER)
    numbers: dict[str, float] = {}
    lrs = [lr for lr in LRS if (table["arm"] == f"lr={lr:g}/sgd").any()
           and (table["arm"] == f"lr={lr:g}/momentum").any()]
    for lr in lrs:
        med, low, high = median_ci(paired(table, f"lr={lr:g}/sgd", f"lr={lr:g}/momentum"), rng)
        numbers.update({f"ratio_lr{lr:g}": med, f"ratio_lr{lr:g}_low": low, f"ratio_lr{lr:g}_high": high})
        for m in ("sgd", "momentum"):
            v = by_seed(table, f"lr={lr:g}/{m}").dropna()
            numbers[f"escape_{m}_lr{lr:g}"] = float(np.median(v)) if len(v) else math.nan
    numbers.update(_effective_ratio(table, lrs, rng))
    return table, numbers, lrs


# --------------------------------------------------------------------------- criterion


def _summary(evidence: Evidence, table: pd.DataFrame, numbers: dict[str, float], lrs: list[float]) -> str:
    parts = ", ".join(
        f"lr={lr:g}: GD {fmt(numbers[f'escape_sgd_lr{lr:g}'])} vs momentum "
        f"{fmt(numbers[f'escape_momentum_lr{lr:g}'])} steps, ratio "
        f"{ci_of(numbers, f'ratio_lr{lr:g}')}"
        for lr in lrs)
    effective = ""
    if "ratio_effective" in numbers:
        effective = (f"; at equal effective step (GD at lr/(1-rho)) the ratio is "
                     f"{ci_of(numbers, 'ratio_effective')}")
    counts = status_counts(evidence)
    return (f"Median steps to |y| >= {ESCAPE:g} from the saddle (rho={RHO:g}), ratio GD / momentum "
            f"[95% CI]: {parts}{effective}"
            + problem_notes(counts, expected_runs(arms, evidence.budget), len(table))
            + ".")


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`escape_times`."""
    table, numbers, lrs = escape_times(evidence)
    if not lrs:
        return Verdict(INCONCLUSIVE, "No paired runs of gradient descent and momentum were found.", {})
    outcome = verdict_from_sides([numbers[f"ratio_lr{lr:g}_low"] > 1.0 for lr in lrs],
                                 [numbers[f"ratio_lr{lr:g}_high"] < 1.0 for lr in lrs])
    return Verdict(outcome, _summary(evidence, table, numbers, lrs), numbers)


CLAIM = Claim(
    key="momentum-escapes-saddle",
    number=NUMBER,
    statement=(
        "Transcript (translated): near a saddle point the gradient is not zero but the slope is very "
        "small, so stepping along the gradient we progress very slowly; with momentum, although the "
        "gradient near the saddle is very small, the velocity built up while rolling downhill helps "
        "us through the saddle point and we keep rolling."
    ),
    experiment=(
        "The 2-D strict saddle f = x^2/2 + y^4/4 - y^2/2 (saddle at the origin).  Each run seed draws "
        "the initial distance from the saddle along y, 10**U(-4, -2) (seeded, the same for both arms); "
        "x starts at the problem's seeded N(0, 1) draw.  Gradient descent against momentum with "
        f"rho = {RHO:g} at the same lr, for lr in {', '.join(f'{lr:g}' for lr in LRS)} (the lecture's "
        "'add a velocity to SGD'); nothing tuned.  Budgets are three times GD's escape time from the "
        "smallest offset; every step recorded.  Also reported: momentum with lr=0.01 against GD at its "
        "effective step lr/(1-rho) = 0.1.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        f"Escape time: the first step with |y| >= {ESCAPE:g} (the iterate has left the slab around the "
        "saddle's stable manifold; +inf if never).  Per seed and lr the ratio r = t_GD / t_momentum; "
        "its median with a 95% percentile bootstrap interval.  Holds if at every lr the interval lies "
        "above 1; does not hold if at some lr it lies below 1; inconclusive otherwise."
    ),
    arms=arms,
    criterion=criterion,
)
